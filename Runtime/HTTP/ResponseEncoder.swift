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
        if status == 200 {
            out.append(contentsOf: statusLineOK)
        } else {
            append("HTTP/1.1 ", to: &out)
            appendDecimal(status, to: &out)
            out.append(0x20)
            append(StatusReason.phrase(for: status), to: &out)
            out.append(contentsOf: crlf)
        }
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
            out.append(contentsOf: contentLengthPrefix)
            appendDecimal(length, to: &out)
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

    static let statusLineOK: [UInt8] = Array("HTTP/1.1 200 OK\r\n".utf8)
    static let contentLengthPrefix: [UInt8] = Array("Content-Length: ".utf8)

    /// The headers the server writes itself. Compared without allocating: this runs for every header of
    /// every response.
    static func isFramingHeader(_ name: String) -> Bool {
        switch name.utf8.count {
        case 4: equalsIgnoringCase(name, "date")
        case 10: equalsIgnoringCase(name, "connection")
        case 14: equalsIgnoringCase(name, "content-length")
        case 17: equalsIgnoringCase(name, "transfer-encoding")
        default: false
        }
    }

    /// ASCII case-insensitive equality with a lowercase `expected`.
    static func equalsIgnoringCase(_ name: String, _ expected: StaticString) -> Bool {
        let bytes = UnsafeBufferPointer(start: expected.utf8Start, count: expected.utf8CodeUnitCount)
        guard name.utf8.count == bytes.count else { return false }
        for (byte, lower) in zip(name.utf8, bytes) {
            let folded = byte >= 0x41 && byte <= 0x5A ? byte | 0x20 : byte
            if folded != lower { return false }
        }
        return true
    }

    /// Appends a non-negative integer in decimal without making a String.
    static func appendDecimal(_ value: Int, to out: inout [UInt8]) {
        precondition(value >= 0, "lengths and statuses are never negative")
        var divisor = 1
        while divisor <= value / 10 { divisor *= 10 }
        var rest = value
        while divisor > 0 {
            out.append(0x30 + UInt8(rest / divisor))
            rest %= divisor
            divisor /= 10
        }
    }

    /// A header a worker sets must not contain CR or LF (response splitting) or NUL.
    static func isSafe(_ text: String) -> Bool {
        var text = text
        return text.withUTF8 { bytes in
            for byte in bytes where byte <= 0x0D && (byte == 0x0D || byte == 0x0A || byte == 0) { return false }
            return true
        }
    }

    @inline(__always)
    static func append(_ text: String, to out: inout [UInt8]) {
        var text = text
        text.withUTF8 { out.append(contentsOf: $0) }
    }
}
