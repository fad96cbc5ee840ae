import RuntimeAPI

/// Scheme, host and port: what a connection is for. Connections are pooled per origin, and a redirect
/// that leaves the origin drops `Authorization`.
public struct FetchOrigin: Hashable, Sendable, CustomStringConvertible {
    public enum Scheme: String, Sendable {
        case http, https
        var defaultPort: UInt16 { self == .http ? 80 : 443 }
    }

    public let scheme: Scheme
    /// Lowercased; an IPv6 address without its brackets.
    public let host: String
    public let port: UInt16

    /// "https://example.com:8443".
    public var description: String { "\(scheme.rawValue)://\(authority)" }

    /// `host[:port]` as the Host header and URLs write it: the port only when it is not the default.
    var authority: String {
        let bracketed = host.contains(":") ? "[\(host)]" : host
        return port == scheme.defaultPort ? bracketed : "\(bracketed):\(port)"
    }
}

/// An absolute http(s) URL split once for the client, without Foundation: the origin, and the
/// request target (path and query) the request line carries. Fragments are dropped; bytes a request
/// target cannot carry (controls, space, `"<>`, non-ASCII) are percent-encoded; dot segments are
/// removed from the path (RFC 3986 §5.2.4).
struct FetchTarget: Sendable, Equatable {
    let origin: FetchOrigin
    /// Starts with "/"; still percent-encoded.
    let path: String
    /// Without "?"; nil when the URL had none.
    let query: String?

    /// Path and query, as sent in the request line.
    var requestTarget: String { query.map { path + "?" + $0 } ?? path }
    /// The URL in its normal form, for errors and redirects.
    var url: String { origin.description + requestTarget }

    /// Parses an absolute URL. Throws `unsupportedScheme` for anything but http and https, and
    /// `invalidURL` saying what is wrong otherwise.
    init(_ text: String) throws(FetchError) {
        let url = Self.trimmed(text)
        guard let schemeEnd = Self.schemeEnd(url) else {
            throw .invalidURL(text, reason: "it has no scheme; expected an absolute http:// or https:// URL")
        }
        let schemeName = url[..<schemeEnd].lowercased()
        guard let scheme = FetchOrigin.Scheme(rawValue: schemeName) else {
            throw .unsupportedScheme(schemeName, url: text)
        }
        let afterColon = url[url.index(after: schemeEnd)...]
        guard afterColon.hasPrefix("//") else {
            throw .invalidURL(text, reason: "expected \"//\" and a host after \"\(schemeName):\"")
        }
        let rest = afterColon.dropFirst(2)
        let authorityEnd = rest.firstIndex { $0 == "/" || $0 == "?" || $0 == "#" } ?? rest.endIndex
        origin = try Self.parseAuthority(rest[..<authorityEnd], scheme: scheme, url: text)
        (path, query) = Self.splitPathAndQuery(rest[authorityEnd...])
    }

    private init(origin: FetchOrigin, path: String, query: String?) {
        self.origin = origin
        self.path = path
        self.query = query
    }

    /// Resolves a `Location` (absolute, scheme-relative, absolute-path, relative path, or query only)
    /// against this URL (RFC 3986 §5.2).
    func resolving(_ reference: String) throws(FetchError) -> FetchTarget {
        let reference = Self.trimmed(reference)
        if Self.schemeEnd(reference) != nil { return try FetchTarget(String(reference)) }
        if reference.hasPrefix("//") { return try FetchTarget(origin.scheme.rawValue + ":" + reference) }
        let withoutFragment = reference.prefix { $0 != "#" }
        if withoutFragment.isEmpty { return FetchTarget(origin: origin, path: path, query: query) }
        if withoutFragment.hasPrefix("?") {
            return FetchTarget(origin: origin, path: path,
                               query: Self.percentEncoded(withoutFragment.dropFirst()))
        }
        let (referencePath, referenceQuery) = Self.splitRaw(withoutFragment)
        if referencePath.hasPrefix("/") {
            return FetchTarget(origin: origin, path: Self.removingDotSegments(referencePath), query: referenceQuery)
        }
        // A relative path replaces what follows the base path's last "/"; dot segments go after merging,
        // so "../x" can climb out of the base directory.
        let directory = path[...(path.lastIndex(of: "/") ?? path.startIndex)]
        return FetchTarget(origin: origin, path: Self.removingDotSegments(String(directory) + referencePath),
                           query: referenceQuery)
    }

    // MARK: Parsing

    /// Leading and trailing spaces and controls are not part of a URL (the WHATWG URL standard strips them).
    private static func trimmed(_ text: String) -> Substring {
        var view = Substring(text)
        while let first = view.unicodeScalars.first, first.value <= 0x20 { view = view.dropFirst() }
        while let last = view.unicodeScalars.last, last.value <= 0x20 { view = view.dropLast() }
        return view
    }

    /// The index of the ":" ending a scheme (ALPHA *( ALPHA / DIGIT / "+" / "-" / "." )), if there is one.
    private static func schemeEnd(_ text: Substring) -> Substring.Index? {
        guard let colon = text.firstIndex(of: ":"), colon > text.startIndex else { return nil }
        let name = text[..<colon]
        guard let first = name.first, first.isASCII, first.isLetter,
              name.allSatisfy({ $0.isASCII && ($0.isLetter || $0.isNumber || "+-.".contains($0)) }) else { return nil }
        return colon
    }

    private static func parseAuthority(_ authority: Substring, scheme: FetchOrigin.Scheme, url: String)
        throws(FetchError) -> FetchOrigin {
        guard !authority.contains("@") else {
            throw .invalidURL(url, reason: "credentials in the URL are not sent; put them in an Authorization header")
        }
        var host = authority
        var portText: Substring = ""
        if authority.hasPrefix("[") {
            guard let close = authority.firstIndex(of: "]") else {
                throw .invalidURL(url, reason: "an IPv6 address is missing its \"]\"")
            }
            host = authority[authority.index(after: authority.startIndex)..<close]
            let after = authority[authority.index(after: close)...]
            guard after.isEmpty || after.hasPrefix(":") else {
                throw .invalidURL(url, reason: "unexpected \"\(after)\" after the IPv6 address")
            }
            portText = after.dropFirst()
            guard host.allSatisfy({ $0.isHexDigit || $0 == ":" || $0 == "." }) else {
                throw .invalidURL(url, reason: "\"\(host)\" is not an IPv6 address")
            }
        } else if let colon = authority.lastIndex(of: ":") {
            host = authority[..<colon]
            portText = authority[authority.index(after: colon)...]
        }
        guard !host.isEmpty else { throw .invalidURL(url, reason: "it has no host") }
        if !authority.hasPrefix("[") {
            guard host.allSatisfy({ $0.isASCII }) else {
                throw .invalidURL(url, reason: "non-ASCII host names are not supported; give the punycode (xn--) form")
            }
            guard host.allSatisfy({ $0.isLetter || $0.isNumber || "-._".contains($0) }) else {
                throw .invalidURL(url, reason: "\"\(host)\" is not a valid host name")
            }
        }
        var port = scheme.defaultPort
        if !portText.isEmpty {
            guard portText.allSatisfy({ $0.isASCII && $0.isNumber }), let number = UInt16(portText), number > 0 else {
                throw .invalidURL(url, reason: "port \"\(portText)\" is not a number from 1 to 65535")
            }
            port = number
        }
        return FetchOrigin(scheme: scheme, host: host.lowercased(), port: port)
    }

    /// Path (normalized, "/" when empty) and query of what follows the authority.
    private static func splitPathAndQuery(_ text: Substring) -> (String, String?) {
        let (path, query) = splitRaw(text)
        return (removingDotSegments(path.hasPrefix("/") ? path : "/" + path), query)
    }

    /// Path and query as given (percent-encoded, dot segments kept); the fragment is dropped.
    private static func splitRaw(_ text: Substring) -> (String, String?) {
        let withoutFragment = text.prefix { $0 != "#" }
        let mark = withoutFragment.firstIndex(of: "?")
        let path = percentEncoded(withoutFragment[..<(mark ?? withoutFragment.endIndex)])
        let query = mark.map { percentEncoded(withoutFragment[withoutFragment.index(after: $0)...]) }
        return (path, query)
    }

    /// Percent-encodes the bytes a request target cannot carry; everything else (escapes already there
    /// included) stays as it is.
    static func percentEncoded(_ text: Substring) -> String {
        let hex: [UInt8] = Array("0123456789ABCDEF".utf8)
        var out: [UInt8] = []
        out.reserveCapacity(text.utf8.count)
        for byte in text.utf8 {
            if byte <= 0x20 || byte >= 0x7F || byte == UInt8(ascii: "\"") || byte == UInt8(ascii: "<")
                || byte == UInt8(ascii: ">") {
                out.append(UInt8(ascii: "%"))
                out.append(hex[Int(byte >> 4)])
                out.append(hex[Int(byte & 0x0F)])
            } else {
                out.append(byte)
            }
        }
        return String(decoding: out, as: UTF8.self)
    }

    /// RFC 3986 §5.2.4 for a path that starts with "/".
    static func removingDotSegments(_ path: String) -> String {
        let segments = path.split(separator: "/", omittingEmptySubsequences: false)
        var output: [Substring] = []
        for (index, segment) in segments.enumerated().dropFirst() {
            let isLast = index == segments.count - 1
            switch segment {
            case ".":
                if isLast { output.append("") }
            case "..":
                if !output.isEmpty { output.removeLast() }
                if isLast { output.append("") }
            default:
                output.append(segment)
            }
        }
        return "/" + output.joined(separator: "/")
    }
}
