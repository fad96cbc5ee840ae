import RuntimeAPI

/// Writes a response head (status line and header fields) as bytes, adding the framing headers the
/// server owns: `Date`, `Content-Length` or `Transfer-Encoding: chunked`, and `Connection: close`.
/// Framing headers a worker set itself are replaced, so a worker cannot produce a mis-framed response.
public enum ResponseEncoder {
    /// How the body after the head is delimited.
    public enum Framing: Equatable {
        case none
        case length(Int)
        case chunked
        /// HTTP/1.0 clients without a length: the body ends when the connection closes.
        case close
    }

    /// Appends the head to `out`.
    public static func encodeHead(status: Int, headers: Headers, framing: Framing, close: Bool,
                                  date: [UInt8], into out: inout [UInt8]) {
        append("HTTP/1.1 ", to: &out)
        append(String(status), to: &out)
        out.append(0x20)
        append(StatusReason.phrase(for: status), to: &out)
        out.append(contentsOf: crlf)
        for field in headers where !isFramingHeader(field.name) {
            guard isSafe(field.name), isSafe(field.value) else { continue }
            append(field.name, to: &out)
            out.append(contentsOf: colonSpace)
            append(field.value, to: &out)
            out.append(contentsOf: crlf)
        }
        append("Date: ", to: &out)
        out.append(contentsOf: date)
        out.append(contentsOf: crlf)
        switch framing {
        case .none: break
        case .length(let length):
            append("Content-Length: ", to: &out)
            append(String(length), to: &out)
            out.append(contentsOf: crlf)
        case .chunked:
            append("Transfer-Encoding: chunked\r\n", to: &out)
        case .close: break
        }
        if close { append("Connection: close\r\n", to: &out) }
        out.append(contentsOf: crlf)
    }

    /// A chunk-size line for `count` bytes ("1f\r\n").
    public static func chunkHeader(_ count: Int) -> [UInt8] { Array(String(count, radix: 16).utf8) + crlf }
    public static let lastChunk: [UInt8] = Array("0\r\n\r\n".utf8)
    public static let crlf: [UInt8] = [0x0D, 0x0A]
    static let colonSpace: [UInt8] = [0x3A, 0x20]

    /// Whether a status forbids a body (RFC 9110 §15: 1xx, 204, 304).
    public static func statusHasNoBody(_ status: Int) -> Bool {
        (100..<200).contains(status) || status == 204 || status == 304
    }

    static func isFramingHeader(_ name: String) -> Bool {
        let lower = name.lowercased()
        return lower == "content-length" || lower == "transfer-encoding" || lower == "connection" || lower == "date"
    }

    /// A header a worker sets must not contain CR or LF (response splitting) or NUL.
    static func isSafe(_ text: String) -> Bool {
        !text.utf8.contains { $0 == 0x0D || $0 == 0x0A || $0 == 0 }
    }

    @inline(__always)
    static func append(_ text: String, to out: inout [UInt8]) {
        var text = text
        text.withUTF8 { out.append(contentsOf: $0) }
    }
}
