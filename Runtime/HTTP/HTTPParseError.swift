/// Why a parser refused a message. After any of these the parser is dead: a server answers with `status` and
/// `reasonPhrase`, then closes the connection, because it can no longer tell where the next message starts.
/// The response parser throws the same cases (a client has no status to send; it reports and closes).
public enum HTTPParseError: Error, Equatable, CustomStringConvertible {
    /// 400: the message breaks the HTTP/1.1 syntax or framing rules; the string says which rule, in words a
    /// person can act on ("header name has a space before the colon").
    case badRequest(String)
    /// 414: the request line (without CRLF) is longer than `limit` bytes.
    case uriTooLong(limit: Int)
    /// 431: the head (or head plus trailers) is longer than `limit` bytes.
    case headersTooLarge(limit: Int)
    /// 431: the head (or head plus trailers) has more than `limit` fields.
    case tooManyHeaders(limit: Int)
    /// 413: the body (announced by Content-Length, or the chunks so far) is larger than `limit` bytes.
    case bodyTooLarge(limit: Int)
    /// 501: a Transfer-Encoding coding other than `chunked`, which is the only one implemented.
    case unsupportedTransferCoding(String)
    /// 505: a well-formed HTTP version other than 1.0 and 1.1 ("HTTP/2.0").
    case versionNotSupported(String)

    /// The status code to answer with. This is the one place errors map to the wire.
    public var status: Int {
        switch self {
        case .badRequest: 400
        case .uriTooLong: 414
        case .headersTooLarge, .tooManyHeaders: 431
        case .bodyTooLarge: 413
        case .unsupportedTransferCoding: 501
        case .versionNotSupported: 505
        }
    }

    /// The reason phrase for `status` (RFC 9110 §15).
    public var reasonPhrase: String {
        switch self {
        case .badRequest: "Bad Request"
        case .uriTooLong: "URI Too Long"
        case .headersTooLarge, .tooManyHeaders: "Request Header Fields Too Large"
        case .bodyTooLarge: "Content Too Large"
        case .unsupportedTransferCoding: "Not Implemented"
        case .versionNotSupported: "HTTP Version Not Supported"
        }
    }

    /// "400 Bad Request: header name has a space before the colon".
    public var description: String {
        "\(status) \(reasonPhrase): \(detail)"
    }

    private var detail: String {
        switch self {
        case .badRequest(let reason): reason
        case .uriTooLong(let limit): "request line is longer than \(limit) bytes"
        case .headersTooLarge(let limit): "header section is longer than \(limit) bytes"
        case .tooManyHeaders(let limit): "more than \(limit) header fields"
        case .bodyTooLarge(let limit): "body is larger than \(limit) bytes"
        case .unsupportedTransferCoding(let coding):
            "transfer coding \"\(coding)\" is not supported (only chunked is)"
        case .versionNotSupported(let version): "\(version) is not supported (only HTTP/1.0 and HTTP/1.1 are)"
        }
    }
}
