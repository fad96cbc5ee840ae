/// Limits of the outbound HTTP client (`fetch`). Per-request timeouts are the app's (`FetchTimeouts`);
/// these are the runtime's.
public struct HTTPClientConfig: Sendable {
    /// Idle keep-alive connections kept per origin (scheme, host, port) on each loop; a connection
    /// finishing a response when that many wait already is closed instead.
    public static let defaultMaxIdlePerOrigin = 8
    /// A pooled connection unused this long is closed. Servers close idle connections after a while
    /// too (nginx: 75 s, Node: 5 s); reusing one they are about to drop costs a failed attempt.
    public static let defaultIdleTimeout: Duration = .seconds(4)
    /// Body bytes received and not yet taken by the reader, per response, before the client stops
    /// reading the socket (the server is then pushed back by TCP flow control).
    public static let defaultBodyHighWaterBytes = 64 * 1024
    /// Most bytes one read of a fetched body hands over at once.
    public static let defaultMaxBodyPieceBytes = 64 * 1024
    /// The body of a redirect response (or one dropped unread while fully framed) is read and thrown
    /// away to keep the connection, up to this many bytes; a longer one closes the connection instead.
    public static let defaultMaxDiscardBytes = 64 * 1024
    /// Response heads: the server parser's header limits. The body is not limited here: it streams,
    /// and its reader sets the limit (`bodyBytes(limit:)`).
    public static let defaultLimits = HTTPLimits(maxBodyBytes: Int.max)

    public var maxIdlePerOrigin: Int
    public var idleTimeout: Duration
    public var bodyHighWaterBytes: Int
    public var maxBodyPieceBytes: Int
    public var maxDiscardBytes: Int
    public var limits: HTTPLimits

    public init(maxIdlePerOrigin: Int = defaultMaxIdlePerOrigin, idleTimeout: Duration = defaultIdleTimeout,
                bodyHighWaterBytes: Int = defaultBodyHighWaterBytes, maxBodyPieceBytes: Int = defaultMaxBodyPieceBytes,
                maxDiscardBytes: Int = defaultMaxDiscardBytes, limits: HTTPLimits = defaultLimits) {
        self.maxIdlePerOrigin = maxIdlePerOrigin
        self.idleTimeout = idleTimeout
        self.bodyHighWaterBytes = bodyHighWaterBytes
        self.maxBodyPieceBytes = maxBodyPieceBytes
        self.maxDiscardBytes = maxDiscardBytes
        self.limits = limits
    }
}
