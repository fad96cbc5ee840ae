/// The frame opcodes RFC 6455 §5.2 defines. The rest (3-7 and 11-15) are reserved, and a frame that uses one
/// is refused with 1002.
public enum WebSocketOpcode: UInt8, Sendable, Equatable {
    /// A later fragment of the message the last text or binary frame started.
    case continuation = 0x0
    case text = 0x1
    case binary = 0x2
    case close = 0x8
    case ping = 0x9
    case pong = 0xA

    /// Close, ping and pong: at most 125 bytes, never fragmented, allowed between a message's fragments.
    public var isControl: Bool { rawValue & 0x8 != 0 }
}
