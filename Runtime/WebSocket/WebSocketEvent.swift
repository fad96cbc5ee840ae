/// What a `WebSocketFrameParser` produced: a whole message or one control frame.
public enum WebSocketEvent: Sendable, Equatable {
    /// A complete text message, reassembled from its fragments and decompressed; its bytes were validated as
    /// UTF-8.
    case text(String)
    /// A complete binary message, reassembled and decompressed.
    case binary([UInt8])
    /// A ping; the endpoint should answer with a pong carrying the same payload (at most 125 bytes).
    case ping([UInt8])
    /// A pong, solicited or not (RFC 6455 §5.5.3 allows unsolicited pongs as heartbeats).
    case pong([UInt8])
    /// A close frame. `code` is nil when the frame had no payload (report it as 1005); when present it is
    /// valid on the wire and `reason` is valid UTF-8 of at most 123 bytes. The parser ignores everything
    /// after it.
    case close(code: WebSocketCloseCode?, reason: String)
}
