/// The parts of a request target, split without Foundation.
/// `"/a/b?x=1&y=%20"` has path `"/a/b"` and query `"x=1&y=%20"`.
public struct URLParts: Sendable, Equatable {
    /// Scheme as the request arrived: "http" or "https".
    public var scheme: String
    /// Host from the Host header (without port), or empty.
    public var host: String
    public var port: Int?
    /// The path, still percent-encoded, always starting with "/" for origin-form targets.
    public var path: String
    /// The query without "?", or nil when the target had none.
    public var query: String?

    public init(scheme: String = "http", host: String = "", port: Int? = nil, path: String, query: String? = nil) {
        self.scheme = scheme
        self.host = host
        self.port = port
        self.path = path
        self.query = query
    }

    /// Splits an origin-form target ("/path?query") and a Host header value ("host:port").
    /// Scans UTF-8 bytes rather than Characters: this runs for every request.
    public init(target: String, hostHeader: String?, scheme: String = "http") {
        let bytes = target.utf8
        var pathEnd = bytes.endIndex
        var query: String? = nil
        if let mark = bytes.firstIndex(of: UInt8(ascii: "?")) {
            pathEnd = mark
            var queryEnd = bytes.endIndex
            if let hash = bytes[mark...].firstIndex(of: UInt8(ascii: "#")) { queryEnd = hash }
            query = String(target[bytes.index(after: mark)..<queryEnd])
        } else if let hash = bytes.firstIndex(of: UInt8(ascii: "#")) {
            pathEnd = hash
        }
        let path = pathEnd == bytes.endIndex ? target : String(target[..<pathEnd])
        var host = ""
        var port: Int? = nil
        if let header = hostHeader {
            let hostBytes = header.utf8
            if hostBytes.last != UInt8(ascii: "]"), let colon = hostBytes.lastIndex(of: UInt8(ascii: ":")) {
                host = String(header[..<colon])
                port = Int(header[hostBytes.index(after: colon)...])
            } else {
                host = header
            }
        }
        self.init(scheme: scheme, host: host, port: port, path: path.isEmpty ? "/" : path, query: query)
    }

    /// Decoded query parameters in order; "+" and percent escapes are decoded.
    public var queryItems: [(name: String, value: String)] {
        guard let query, !query.isEmpty else { return [] }
        return query.split(separator: "&", omittingEmptySubsequences: true).map { item in
            let pair = item.split(separator: "=", maxSplits: 1, omittingEmptySubsequences: false)
            let name = PercentDecoding.decode(pair[0], plusIsSpace: true)
            let value = pair.count > 1 ? PercentDecoding.decode(pair[1], plusIsSpace: true) : ""
            return (name, value)
        }
    }

    /// The first value of query parameter `name`.
    public func queryValue(_ name: String) -> String? { queryItems.first { $0.name == name }?.value }

    /// "scheme://host[:port]/path[?query]".
    public var absoluteString: String {
        var text = "\(scheme)://\(host)"
        if let port { text += ":\(port)" }
        text += path
        if let query { text += "?\(query)" }
        return text
    }
}

/// Percent-decoding for paths and query strings; invalid escapes are kept literally.
public enum PercentDecoding {
    public static func decode(_ text: Substring, plusIsSpace: Bool = false) -> String {
        var bytes: [UInt8] = []
        bytes.reserveCapacity(text.utf8.count)
        var iterator = Array(text.utf8)[...]
        while let byte = iterator.popFirst() {
            if byte == UInt8(ascii: "%"), iterator.count >= 2,
               let high = hexValue(iterator[iterator.startIndex]),
               let low = hexValue(iterator[iterator.startIndex + 1]) {
                bytes.append(high << 4 | low)
                iterator = iterator.dropFirst(2)
            } else if plusIsSpace, byte == UInt8(ascii: "+") {
                bytes.append(UInt8(ascii: " "))
            } else {
                bytes.append(byte)
            }
        }
        return String(decoding: bytes, as: UTF8.self)
    }

    static func hexValue(_ byte: UInt8) -> UInt8? {
        switch byte {
        case UInt8(ascii: "0")...UInt8(ascii: "9"): byte - UInt8(ascii: "0")
        case UInt8(ascii: "a")...UInt8(ascii: "f"): byte - UInt8(ascii: "a") + 10
        case UInt8(ascii: "A")...UInt8(ascii: "F"): byte - UInt8(ascii: "A") + 10
        default: nil
        }
    }
}
