/// A close frame's status code (RFC 6455 §7.4). Any 16-bit value can be represented, because a peer can
/// send any; `isValidOnWire` says which ones a close frame may carry.
public struct WebSocketCloseCode: RawRepresentable, Hashable, Sendable, CustomStringConvertible {
    public let rawValue: UInt16
    public init(rawValue: UInt16) { self.rawValue = rawValue }
    public init(_ rawValue: UInt16) { self.rawValue = rawValue }

    /// 1000: the purpose of the connection is fulfilled.
    public static let normalClosure = WebSocketCloseCode(1000)
    /// 1001: the endpoint is going away (server shutting down, page navigated away).
    public static let goingAway = WebSocketCloseCode(1001)
    /// 1002: the peer broke the protocol.
    public static let protocolError = WebSocketCloseCode(1002)
    /// 1003: a message of a kind the endpoint cannot accept (text to a binary-only endpoint).
    public static let unsupportedData = WebSocketCloseCode(1003)
    /// 1005: reported locally when a close frame had no status code. Never sent.
    public static let noStatusReceived = WebSocketCloseCode(1005)
    /// 1006: reported locally when the connection dropped without a close frame. Never sent.
    public static let abnormalClosure = WebSocketCloseCode(1006)
    /// 1007: a message's data was inconsistent with its type (text that is not UTF-8, corrupt compression).
    public static let invalidPayloadData = WebSocketCloseCode(1007)
    /// 1008: the message broke the endpoint's policy; the generic code when nothing fits better.
    public static let policyViolation = WebSocketCloseCode(1008)
    /// 1009: a message too big to process.
    public static let messageTooBig = WebSocketCloseCode(1009)
    /// 1010: (client) the server did not negotiate an extension the client requires.
    public static let mandatoryExtension = WebSocketCloseCode(1010)
    /// 1011: (server) an unexpected condition kept the server from fulfilling the request.
    public static let internalError = WebSocketCloseCode(1011)
    /// 1012: the service is restarting (IANA registry).
    public static let serviceRestart = WebSocketCloseCode(1012)
    /// 1013: try again later, the service is overloaded (IANA registry).
    public static let tryAgainLater = WebSocketCloseCode(1013)
    /// 1014: a gateway got an invalid response from upstream (IANA registry).
    public static let badGateway = WebSocketCloseCode(1014)
    /// 1015: reported locally when the TLS handshake failed. Never sent.
    public static let tlsHandshake = WebSocketCloseCode(1015)

    /// Whether a close frame may carry this code: the defined and IANA-registered codes that are not
    /// reserved for local reporting (1000-1003, 1007-1014), and the ranges for libraries and frameworks
    /// (3000-3999) and private use (4000-4999). Below 1000, 1004 (reserved), 1005, 1006, 1015 (local only),
    /// the unassigned 1016-2999 and everything from 5000 on are not, and receiving one is a protocol error.
    public var isValidOnWire: Bool {
        switch rawValue {
        case 1000...1003, 1007...1014, 3000...4999: true
        default: false
        }
    }

    public var description: String { String(rawValue) }
}
