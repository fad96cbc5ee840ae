import RuntimeAPI

/// Why a server refused an upgrade request. Each case knows the status to answer with and the headers that
/// answer needs; the server then closes the connection (or keeps serving HTTP, if it likes).
public enum WebSocketHandshakeError: Error, Equatable, CustomStringConvertible {
    /// 400: the method is not GET (RFC 6455 §4.1).
    case methodNotGET(String)
    /// 400: HTTP/1.0; the upgrade needs HTTP/1.1.
    case httpVersionTooOld(minor: Int)
    /// 400: no Upgrade header, or one without the `websocket` token; the value as sent, nil if absent.
    case upgradeNotWebSocket(String?)
    /// 400: no Connection header with the `upgrade` token; the values as sent, joined.
    case connectionLacksUpgrade(String?)
    /// 426: Sec-WebSocket-Version is missing (nil) or not 13. The answer names 13, so the client can retry.
    case unsupportedVersion(String?)
    /// 400: no Sec-WebSocket-Key.
    case missingKey
    /// 400: a Sec-WebSocket-Key that is not base64 of 16 bytes, or more than one; the value as sent.
    case badKey(String)
    /// 400: a Sec-WebSocket-Protocol element that is not a token.
    case badSubprotocol(String)
    /// 400: a Sec-WebSocket-Extensions value that breaks the grammar; where it broke.
    case badExtensions(String)

    /// The status to answer with. This is the one place handshake errors map to the wire.
    public var status: Int {
        switch self {
        case .unsupportedVersion: 426
        default: 400
        }
    }

    public var reasonPhrase: String { status == 426 ? "Upgrade Required" : "Bad Request" }

    /// Headers the error response must carry. A 426 names the version we speak (RFC 6455 §4.4) and, as RFC
    /// 9110 §15.5.22 requires of a 426, the protocol to upgrade to, with the Connection option Upgrade needs.
    /// A server that closes the connection afterwards adds "close" to Connection itself.
    public var responseHeaders: Headers {
        switch self {
        case .unsupportedVersion:
            ["Sec-WebSocket-Version": WebSocketHandshake.version, "Upgrade": "websocket", "Connection": "Upgrade"]
        default:
            Headers()
        }
    }

    /// "400 Bad Request: Sec-WebSocket-Key \"abc\" is not base64 of 16 bytes".
    public var description: String { "\(status) \(reasonPhrase): \(detail)" }

    private var detail: String {
        switch self {
        case .methodNotGET(let method): "a WebSocket upgrade must be GET, not \(method)"
        case .httpVersionTooOld(let minor): "a WebSocket upgrade needs HTTP/1.1, not HTTP/1.\(minor)"
        case .upgradeNotWebSocket(let value):
            value.map { "Upgrade \"\($0)\" does not name websocket" } ?? "no Upgrade header"
        case .connectionLacksUpgrade(let value):
            value.map { "Connection \"\($0)\" lacks the upgrade option" } ?? "no Connection header"
        case .unsupportedVersion(let value):
            value.map { "Sec-WebSocket-Version \"\($0)\" is not supported (only 13 is)" }
                ?? "no Sec-WebSocket-Version header (13 is required)"
        case .missingKey: "no Sec-WebSocket-Key header"
        case .badKey(let key): "Sec-WebSocket-Key \"\(key)\" is not base64 of 16 bytes"
        case .badSubprotocol(let element): "Sec-WebSocket-Protocol element \"\(element)\" is not a token"
        case .badExtensions(let reason): "Sec-WebSocket-Extensions: \(reason)"
        }
    }
}
