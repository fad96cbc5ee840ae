/// Everything about WebSockets a server (or client) decides once and applies to every connection. The
/// defaults are named constants of the types involved; `runtime serve` flags override them.
public struct WebSocketConfig: Sendable, Equatable {
    /// Messages are sent as one frame unless this is set: then no frame carries more payload than this many
    /// bytes. Peers reassemble either way; fragmenting bounds how long one message holds the socket.
    public static let defaultMaxOutgoingFrameBytes: Int? = nil

    /// What a connection accepts (message size).
    public var limits: WebSocketLimits
    /// The permessage-deflate policy, or nil to turn compression off: a server then declines every offer and
    /// a client makes none. Off by default because a compressing connection keeps zlib state (about 300 KiB
    /// at the largest window) for as long as it is open.
    public var deflate: PerMessageDeflateConfig?
    /// Largest payload of one outgoing data frame, or nil for one frame per message.
    public var maxOutgoingFrameBytes: Int?

    public init(limits: WebSocketLimits = WebSocketLimits(), deflate: PerMessageDeflateConfig? = nil,
                maxOutgoingFrameBytes: Int? = WebSocketConfig.defaultMaxOutgoingFrameBytes) {
        self.limits = limits
        self.deflate = deflate
        self.maxOutgoingFrameBytes = maxOutgoingFrameBytes
    }
}
