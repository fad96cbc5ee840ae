/// How much of an HTTP/1.1 message the parsers accept before refusing it. Every limit is named here; the
/// `default...` constants are what a server uses unless its config overrides them, and an instance is what a
/// parser is built with. A value at or below zero refuses every message that has the limited part.
public struct HTTPLimits: Sendable {
    /// Longest request line, without its CRLF; longer gets 414 (`uriTooLong`), even before the CRLF arrives.
    public static let defaultMaxRequestLineBytes = 8 * 1024
    /// Longest head: start line, header lines and the empty line that ends them, CRLFs included. Longer gets
    /// 431 (`headersTooLarge`), even while the head is still incomplete. A chunked body's trailer section is
    /// counted against what the head left of this budget.
    public static let defaultMaxHeaderBytes = 64 * 1024
    /// Most header fields in one head; more gets 431 (`tooManyHeaders`). Trailer fields count against what the
    /// head left of this budget.
    public static let defaultMaxHeaderCount = 100
    /// Largest body: a Content-Length above it gets 413 (`bodyTooLarge`) as soon as the head is parsed; a
    /// chunked body gets 413 when the chunk that would cross it is announced.
    public static let defaultMaxBodyBytes = 16 * 1024 * 1024
    /// Longest chunk-size line, extensions included, CRLF excluded; longer gets 400. Not configurable: chunk
    /// extensions carry nothing we use, so this only bounds the scan.
    public static let maxChunkLineBytes = 4 * 1024
    /// Most hex digits in a chunk size; more gets 400. Fifteen digits stay below 2^60, so a size never overflows.
    public static let maxChunkSizeDigits = 15
    /// Empty lines (CRLF) skipped before a request line (RFC 9112 §2.2 allows skipping "at least one"); more
    /// gets 400. Old clients send one extra CRLF after a POST body; nobody needs more than a few.
    public static let maxLeadingEmptyLines = 4

    /// Longest request line, without its CRLF (414).
    public var maxRequestLineBytes: Int
    /// Longest head including line ends (431).
    public var maxHeaderBytes: Int
    /// Most header fields in a head (431).
    public var maxHeaderCount: Int
    /// Largest body, framed either way (413).
    public var maxBodyBytes: Int

    public init(maxRequestLineBytes: Int = HTTPLimits.defaultMaxRequestLineBytes,
                maxHeaderBytes: Int = HTTPLimits.defaultMaxHeaderBytes,
                maxHeaderCount: Int = HTTPLimits.defaultMaxHeaderCount,
                maxBodyBytes: Int = HTTPLimits.defaultMaxBodyBytes) {
        self.maxRequestLineBytes = maxRequestLineBytes
        self.maxHeaderBytes = maxHeaderBytes
        self.maxHeaderCount = maxHeaderCount
        self.maxBodyBytes = maxBodyBytes
    }
}
