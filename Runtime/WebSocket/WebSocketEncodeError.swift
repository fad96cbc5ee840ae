/// Why a `WebSocketFrameEncoder` refused to build a control frame. These come from what an application asked
/// to send (a close reason, a ping payload); data messages of any size can always be encoded.
public enum WebSocketEncodeError: Error, Equatable, CustomStringConvertible {
    /// A ping or pong payload longer than 125 bytes (RFC 6455 §5.5).
    case controlPayloadTooLong(WebSocketOpcode, length: Int)
    /// A close reason longer than 123 bytes of UTF-8.
    case closeReasonTooLong(bytes: Int)
    /// A close code that may not appear on the wire (1005, 1006, 1015, unassigned or out of range).
    case unsendableCloseCode(UInt16)
    /// A close reason without a code: the reason follows the code in the frame, so it needs one.
    case reasonWithoutCode

    public var description: String {
        switch self {
        case .controlPayloadTooLong(let opcode, let length):
            "\(opcode) payload of \(length) bytes is over the \(WebSocketLimits.maxControlPayloadBytes) a control "
                + "frame carries"
        case .closeReasonTooLong(let bytes):
            "close reason of \(bytes) bytes is over the \(WebSocketLimits.maxCloseReasonBytes) a close frame carries"
        case .unsendableCloseCode(let code): "close code \(code) may not be sent"
        case .reasonWithoutCode: "a close reason needs a close code"
        }
    }
}
