import RuntimeAPI

/// What a handshake settled for the connection: the subprotocol and the compression, if any. Build the
/// connection's `WebSocketFrameParser` and `WebSocketFrameEncoder` with `deflate`.
public struct WebSocketAgreement: Sendable, Equatable {
    /// The Sec-WebSocket-Protocol both sides use, or nil for none.
    public var subprotocol: String?
    /// The permessage-deflate parameters in force, or nil when messages go uncompressed.
    public var deflate: PerMessageDeflateParameters?

    public init(subprotocol: String? = nil, deflate: PerMessageDeflateParameters? = nil) {
        self.subprotocol = subprotocol
        self.deflate = deflate
    }
}

/// A server's acceptance of an upgrade request: the 101 response to send and what it agreed to.
public struct WebSocketUpgrade: Sendable, Equatable {
    /// The status line's code for an accepted upgrade.
    public static let status = 101

    /// The headers of the 101 response, in order: Upgrade, Connection, Sec-WebSocket-Accept, then
    /// Sec-WebSocket-Protocol and Sec-WebSocket-Extensions when they were agreed. The response has no body;
    /// after it the connection speaks WebSocket frames.
    public var responseHeaders: Headers
    public var agreement: WebSocketAgreement

    public init(responseHeaders: Headers, agreement: WebSocketAgreement) {
        self.responseHeaders = responseHeaders
        self.agreement = agreement
    }
}
