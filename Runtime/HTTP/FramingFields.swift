/// What a head's fields say about body framing and the connection, gathered as each field is parsed so the
/// head is never walked twice. Names and list elements are matched case-insensitively on the raw bytes, with
/// no String made for them.
///
/// Framing follows RFC 9112 §6.1 and §6.3, resolved strictly because a lenient reading here is how request
/// smuggling works: Content-Length must be digits (a list of identical values is accepted), Transfer-Encoding
/// must be exactly `chunked` (the only coding implemented), and a message may not carry both.
struct FramingFields: Sendable {
    private(set) var hostCount = 0
    /// Saturated at `Int.max` when the digits do not fit, which every body limit refuses.
    private(set) var contentLength: Int?
    private(set) var hasTransferEncoding = false
    private var chunkedCount = 0
    /// The first coding other than `chunked`, as sent (truncated), for the 501.
    private var unsupportedCoding: String?
    private var connectionClose = false
    private var connectionKeepAlive = false
    /// "Expect: 100-continue" was sent; only meaningful on HTTP/1.1 requests.
    private(set) var expectsContinue = false

    /// Longest transfer-coding name quoted back in a 501, so a hostile value cannot bloat the error.
    private static let maxQuotedCodingBytes = 40

    /// Takes note of one field. `name` is a validated token and `value` validated field bytes, trimmed.
    /// Throws 400 at once for a malformed or conflicting Content-Length; everything else waits for `framing`,
    /// which sees the whole head.
    mutating func record(_ bytes: UnsafeRawBufferPointer, name: Range<Int>, value: Range<Int>)
        throws(HTTPParseError) {
        // Switching on the length first means most fields are dismissed without comparing a byte.
        switch name.count {
        case 4 where HTTPSyntax.equalsIgnoringCase(bytes, name, "host"):
            hostCount += 1
        case 6 where HTTPSyntax.equalsIgnoringCase(bytes, name, "expect"):
            if HTTPSyntax.equalsIgnoringCase(bytes, value, "100-continue") { expectsContinue = true }
        case 10 where HTTPSyntax.equalsIgnoringCase(bytes, name, "connection"):
            var cursor = value.lowerBound
            while let option = HTTPSyntax.nextListElement(bytes, cursor: &cursor, end: value.upperBound) {
                if HTTPSyntax.equalsIgnoringCase(bytes, option, "close") { connectionClose = true }
                if HTTPSyntax.equalsIgnoringCase(bytes, option, "keep-alive") { connectionKeepAlive = true }
            }
        case 14 where HTTPSyntax.equalsIgnoringCase(bytes, name, "content-length"):
            try recordContentLength(bytes, value)
        case 17 where HTTPSyntax.equalsIgnoringCase(bytes, name, "transfer-encoding"):
            hasTransferEncoding = true
            var cursor = value.lowerBound
            while let coding = HTTPSyntax.nextListElement(bytes, cursor: &cursor, end: value.upperBound) {
                // RFC 9110 §5.6.1: empty list elements are ignored.
                if coding.isEmpty { continue }
                if HTTPSyntax.equalsIgnoringCase(bytes, coding, "chunked") {
                    chunkedCount += 1
                } else if unsupportedCoding == nil {
                    unsupportedCoding = HTTPSyntax.string(bytes, coding.prefix(Self.maxQuotedCodingBytes))
                }
            }
        default:
            break
        }
    }

    private mutating func recordContentLength(_ bytes: UnsafeRawBufferPointer, _ value: Range<Int>)
        throws(HTTPParseError) {
        var cursor = value.lowerBound
        while let element = HTTPSyntax.nextListElement(bytes, cursor: &cursor, end: value.upperBound) {
            guard let length = HTTPSyntax.parseDecimal(bytes, element) else {
                throw .badRequest("Content-Length \(HTTPSyntax.quoted(bytes, value)) is not a number of bytes")
            }
            if let earlier = contentLength, earlier != length {
                throw .badRequest("conflicting Content-Length values (\(earlier) and \(HTTPSyntax.quoted(bytes, element)))")
            }
            contentLength = length
        }
    }

    /// The body framing these fields announce.
    ///
    /// - Parameters:
    ///   - isRequest: a request without Content-Length or Transfer-Encoding has no body; a response's body runs
    ///     until close. HTTP/1.0 requests may not use Transfer-Encoding.
    /// - Throws: 400 for Transfer-Encoding with Content-Length, on an HTTP/1.0 request, empty, or with chunked
    ///   twice; 501 for any other coding; 413 for a Content-Length over `maxBodyBytes`.
    func framing(isRequest: Bool, versionMinor: Int, maxBodyBytes: Int) throws(HTTPParseError) -> BodyFraming {
        if hasTransferEncoding {
            if isRequest, versionMinor == 0 {
                throw .badRequest("Transfer-Encoding is not allowed in an HTTP/1.0 request")
            }
            if contentLength != nil {
                throw .badRequest("both Transfer-Encoding and Content-Length are present")
            }
            if let unsupportedCoding { throw .unsupportedTransferCoding(unsupportedCoding) }
            if chunkedCount == 0 { throw .badRequest("Transfer-Encoding names no coding") }
            if chunkedCount > 1 { throw .badRequest("Transfer-Encoding applies chunked more than once") }
            return .chunked
        }
        if let contentLength {
            guard contentLength <= maxBodyBytes else { throw .bodyTooLarge(limit: maxBodyBytes) }
            return .contentLength(contentLength)
        }
        return isRequest ? .none : .untilClose
    }

    /// Whether the connection stays open after this message: HTTP/1.1 unless "close"; HTTP/1.0 only with
    /// "keep-alive" and no "close".
    func keepAlive(versionMinor: Int) -> Bool {
        versionMinor >= 1 ? !connectionClose : connectionKeepAlive && !connectionClose
    }
}
