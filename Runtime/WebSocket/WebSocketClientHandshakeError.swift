/// Why a client refused a server's answer to its upgrade request. The client must then fail the connection
/// (RFC 6455 §4.1): close it without speaking WebSocket.
public enum WebSocketClientHandshakeError: Error, Equatable, CustomStringConvertible {
    /// The status is not 101; the server refused (or does not speak WebSocket).
    case unexpectedStatus(Int)
    /// No Upgrade header naming websocket; the value as received.
    case upgradeNotWebSocket(String?)
    /// No Connection header with the upgrade option; the values as received.
    case connectionLacksUpgrade(String?)
    /// Sec-WebSocket-Accept is missing (nil) or not the value our key calls for.
    case badAccept(expected: String, received: String?)
    /// A subprotocol we did not offer, or more than one.
    case unofferedSubprotocol(String)
    /// An extension we did not offer, or one accepted twice.
    case unofferedExtension(String)
    /// A Sec-WebSocket-Extensions value that breaks the grammar; where it broke.
    case badExtensions(String)
    /// A permessage-deflate answer we cannot work with; why.
    case badDeflateResponse(String)

    public var description: String {
        switch self {
        case .unexpectedStatus(let status): "server answered the upgrade with \(status), not 101"
        case .upgradeNotWebSocket(let value):
            value.map { "Upgrade \"\($0)\" does not name websocket" } ?? "no Upgrade header in the 101"
        case .connectionLacksUpgrade(let value):
            value.map { "Connection \"\($0)\" lacks the upgrade option" } ?? "no Connection header in the 101"
        case .badAccept(let expected, let received):
            received.map { "Sec-WebSocket-Accept \"\($0)\" is not the expected \"\(expected)\"" }
                ?? "no Sec-WebSocket-Accept header in the 101"
        case .unofferedSubprotocol(let value): "server chose subprotocol \"\(value)\", which was not offered"
        case .unofferedExtension(let name): "server accepted extension \"\(name)\", which was not offered (or twice)"
        case .badExtensions(let reason): "Sec-WebSocket-Extensions: \(reason)"
        case .badDeflateResponse(let reason): "permessage-deflate answer: \(reason)"
        }
    }
}
