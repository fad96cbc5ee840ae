/// Why a `WebSocketFrameParser` refused what it received. After any of these the parser is dead: the endpoint
/// sends a close frame with `closeCode` and `reason`, then closes the connection (RFC 6455 §7.1.7, "Fail the
/// WebSocket Connection").
public enum WebSocketProtocolError: Error, Equatable, CustomStringConvertible {
    /// 1002: RSV2 or RSV3 is set (no extension that defines them exists), or RSV1 is set while
    /// permessage-deflate was not negotiated. `bits` is the three RSV bits, RSV1 as 0b100.
    case reservedBitsSet(bits: UInt8)
    /// 1002: RSV1 (compressed) on a control frame or a continuation frame; only a message's first frame may
    /// carry it (RFC 7692 §6.1).
    case compressedBitMisplaced(WebSocketOpcode)
    /// 1002: opcode 3-7 or 11-15.
    case reservedOpcode(UInt8)
    /// 1002: a server received an unmasked frame (clients must mask every frame).
    case unmaskedClientFrame
    /// 1002: a client received a masked frame (servers must not mask).
    case maskedServerFrame
    /// 1002: a close, ping or pong frame without FIN.
    case fragmentedControlFrame(WebSocketOpcode)
    /// 1002: a close, ping or pong frame with more than 125 payload bytes.
    case controlPayloadTooLong(WebSocketOpcode, length: UInt64)
    /// 1002: a continuation frame while no fragmented message is open.
    case continuationWithoutMessage
    /// 1002: a text or binary frame while a fragmented message is still open.
    case dataFrameInsideMessage(WebSocketOpcode)
    /// 1002: a 64-bit payload length with its most significant bit set.
    case lengthHighBitSet
    /// 1002: a close frame with a 1-byte payload: it must be empty or start with a 2-byte code.
    case closePayloadTooShort
    /// 1002: a close frame's status code that may not be sent (see `WebSocketCloseCode.isValidOnWire`).
    case invalidCloseCode(UInt16)
    /// 1009: a message larger than `limit` bytes (announced by a frame header, or reached while inflating).
    case messageTooBig(limit: Int)
    /// 1007: a text message whose bytes are not UTF-8 (detected at the first byte that cannot belong to a
    /// valid sequence, or at the end of the message if it stops inside one).
    case invalidUTF8
    /// 1007: a close frame's reason that is not UTF-8.
    case invalidUTF8CloseReason
    /// 1007: a compressed message that does not inflate; the string is zlib's explanation.
    case badCompressedData(String)
    /// 1011: zlib failed for a reason of its own (out of memory), not because of the data.
    case compressionFailed(String)

    /// The status code of the close frame to send. This is the one place parse errors map to the wire.
    public var closeCode: WebSocketCloseCode {
        switch self {
        case .reservedBitsSet, .compressedBitMisplaced, .reservedOpcode, .unmaskedClientFrame, .maskedServerFrame,
             .fragmentedControlFrame, .controlPayloadTooLong, .continuationWithoutMessage, .dataFrameInsideMessage,
             .lengthHighBitSet, .closePayloadTooShort, .invalidCloseCode:
            .protocolError
        case .messageTooBig: .messageTooBig
        case .invalidUTF8, .invalidUTF8CloseReason, .badCompressedData: .invalidPayloadData
        case .compressionFailed: .internalError
        }
    }

    /// A reason for the close frame: short, ASCII, and always within the 123 bytes a close frame allows.
    public var reason: String {
        let text = detail
        return text.utf8.count <= WebSocketLimits.maxCloseReasonBytes
            ? text : String(decoding: text.utf8.prefix(WebSocketLimits.maxCloseReasonBytes), as: UTF8.self)
    }

    /// "1002: a server received an unmasked frame".
    public var description: String { "\(closeCode.rawValue): \(detail)" }

    private var detail: String {
        switch self {
        case .reservedBitsSet(let bits): "reserved bits \(Self.rsvNames(bits)) set without an extension that uses them"
        case .compressedBitMisplaced(let opcode): "RSV1 (compressed) set on a \(opcode) frame"
        case .reservedOpcode(let opcode): "reserved opcode \(opcode)"
        case .unmaskedClientFrame: "a server received an unmasked frame"
        case .maskedServerFrame: "a client received a masked frame"
        case .fragmentedControlFrame(let opcode): "fragmented \(opcode) frame"
        case .controlPayloadTooLong(let opcode, let length):
            "\(opcode) frame of \(length) bytes (control frames carry at most 125)"
        case .continuationWithoutMessage: "continuation frame with no message to continue"
        case .dataFrameInsideMessage(let opcode): "\(opcode) frame while a fragmented message is still open"
        case .lengthHighBitSet: "64-bit payload length with the most significant bit set"
        case .closePayloadTooShort: "close frame with a 1-byte payload"
        case .invalidCloseCode(let code): "close code \(code) may not be sent"
        case .messageTooBig(let limit): "message larger than \(limit) bytes"
        case .invalidUTF8: "text message is not valid UTF-8"
        case .invalidUTF8CloseReason: "close reason is not valid UTF-8"
        case .badCompressedData(let why): "compressed message does not inflate: \(why)"
        case .compressionFailed(let why): "decompression failed: \(why)"
        }
    }

    private static func rsvNames(_ bits: UInt8) -> String {
        [(UInt8(0b100), "RSV1"), (0b010, "RSV2"), (0b001, "RSV3")].filter { bits & $0.0 != 0 }.map(\.1)
            .joined(separator: "+")
    }
}
