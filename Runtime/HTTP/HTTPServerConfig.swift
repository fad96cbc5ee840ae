import RuntimeWebSocket

/// Limits and timeouts of the HTTP server. Defaults are named constants; `runtime serve` flags
/// override them.
public struct HTTPServerConfig: Sendable {
    /// A connection with no request in progress is closed after this long.
    public static let defaultIdleTimeout: Duration = .seconds(60)
    /// From the first byte of a request to the end of its head; slower clients (slowloris) get 408.
    public static let defaultHeaderTimeout: Duration = .seconds(10)
    /// From the end of the head until the response is complete: body upload plus the handler.
    /// A handler that has not answered by then gets a 503 and the connection closes.
    public static let defaultRequestTimeout: Duration = .seconds(60)
    /// Bytes of later pipelined requests buffered while one is being answered; past this the server
    /// stops reading from the socket until it catches up.
    public static let defaultMaxPipelinedBytes = 256 * 1024
    /// A streamed response body waits for the client once this much is queued for sending.
    public static let defaultSendHighWaterBytes = 256 * 1024
    /// permessage-deflate when the client offers it, without context takeover either way: each message is
    /// compressed on its own, so an idle (hibernated) socket keeps no zlib state at all.
    public static let defaultWebSocketDeflate = PerMessageDeflateConfig(outgoingNoContextTakeover: true,
                                                                       incomingNoContextTakeover: true)

    public var limits: HTTPLimits
    public var idleTimeout: Duration
    public var headerTimeout: Duration
    public var requestTimeout: Duration
    public var maxPipelinedBytes: Int
    public var sendHighWaterBytes: Int
    /// "http" or "https", for `Request.url.scheme`.
    public var scheme: String
    /// What upgraded connections accept (message size, compression).
    public var webSocket: WebSocketConfig
    /// Keep-alive pings and the close handshake of upgraded connections.
    public var webSocketTiming: WebSocketConnection.Timing

    public init(limits: HTTPLimits = HTTPLimits(), idleTimeout: Duration = defaultIdleTimeout,
                headerTimeout: Duration = defaultHeaderTimeout, requestTimeout: Duration = defaultRequestTimeout,
                maxPipelinedBytes: Int = defaultMaxPipelinedBytes,
                sendHighWaterBytes: Int = defaultSendHighWaterBytes, scheme: String = "http",
                webSocket: WebSocketConfig = WebSocketConfig(deflate: HTTPServerConfig.defaultWebSocketDeflate),
                webSocketTiming: WebSocketConnection.Timing = WebSocketConnection.Timing()) {
        self.limits = limits
        self.idleTimeout = idleTimeout
        self.headerTimeout = headerTimeout
        self.requestTimeout = requestTimeout
        self.maxPipelinedBytes = maxPipelinedBytes
        self.sendHighWaterBytes = sendHighWaterBytes
        self.scheme = scheme
        self.webSocket = webSocket
        self.webSocketTiming = webSocketTiming
    }
}
