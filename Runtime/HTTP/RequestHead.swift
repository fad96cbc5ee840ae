import RuntimeAPI

/// How a message's body is delimited on the wire (RFC 9112 §6.3).
public enum BodyFraming: Sendable, Equatable {
    /// No body: no Content-Length or Transfer-Encoding on a request; HEAD, 1xx, 204 and 304 responses.
    case none
    /// Exactly this many bytes follow the head (zero is possible).
    case contentLength(Int)
    /// `Transfer-Encoding: chunked`; the body ends with the last chunk and its trailer section.
    case chunked
    /// Responses only: neither header was sent, so the body runs until the server closes the connection.
    case untilClose
}

/// A parsed request line and header section. Strings are made once from the wire bytes: method, target and
/// field names exactly as sent; field values with surrounding whitespace trimmed and decoded as UTF-8, where an
/// invalid sequence becomes U+FFFD (the request line and field names are ASCII by construction).
public struct RequestHead: Sendable, Equatable {
    /// Case-sensitive (RFC 9110 §9.1): "get" is not "GET".
    public var method: String
    /// As sent: origin-form ("/a?b=c"), absolute-form ("http://h/a") or "*" (OPTIONS only).
    public var target: String
    /// 0 or 1, for HTTP/1.0 or HTTP/1.1.
    public var versionMinor: Int
    public var headers: Headers
    public var framing: BodyFraming
    /// Whether the connection may carry another request after this one: HTTP/1.1 unless "Connection: close";
    /// HTTP/1.0 only with "Connection: keep-alive" (and no "close").
    public var keepAlive: Bool
    /// "Expect: 100-continue" (case-insensitive) on HTTP/1.1; the server should send "100 Continue" before
    /// reading the body. Always false on HTTP/1.0, which has no interim responses.
    public var expectsContinue: Bool

    public init(method: String, target: String, versionMinor: Int = 1, headers: Headers = Headers(),
                framing: BodyFraming = .none, keepAlive: Bool = true, expectsContinue: Bool = false) {
        self.method = method
        self.target = target
        self.versionMinor = versionMinor
        self.headers = headers
        self.framing = framing
        self.keepAlive = keepAlive
        self.expectsContinue = expectsContinue
    }
}
