import RuntimeAPI
import RuntimeCrypto

/// The client side of the opening handshake (RFC 6455 §4.1): the headers of the upgrade request, with a fresh
/// random key, and the check of the server's answer. Pure: the caller sends the request and reads the
/// response head.
public struct WebSocketClientHandshake: Sendable {
    /// This handshake's Sec-WebSocket-Key: base64 of 16 bytes from the CSPRNG.
    public let key: String
    /// Subprotocols to offer, most preferred first.
    public let subprotocols: [String]
    /// The compression policy to offer, or nil to offer none.
    public let deflate: PerMessageDeflateConfig?

    /// A handshake with a new random key. `subprotocols` must be tokens (they go into a header as they are).
    public init(subprotocols: [String] = [], deflate: PerMessageDeflateConfig? = nil) {
        self.init(key: Base64.encode(SecureRandom.bytes(WebSocketLimits.handshakeKeyBytes)),
                  subprotocols: subprotocols, deflate: deflate)
    }

    /// For tests: a handshake with a known key.
    init(key: String, subprotocols: [String], deflate: PerMessageDeflateConfig?) {
        precondition(subprotocols.allSatisfy(HeaderTokens.isToken), "subprotocols are tokens: \(subprotocols)")
        self.key = key
        self.subprotocols = subprotocols
        self.deflate = deflate
    }

    /// The headers that make a GET request an upgrade: Upgrade, Connection, Sec-WebSocket-Key,
    /// Sec-WebSocket-Version, and Sec-WebSocket-Protocol / Sec-WebSocket-Extensions when there is something
    /// to offer. The caller adds Host (and Origin, if it is a browser-like client).
    public var requestHeaders: Headers {
        var headers: Headers = [
            "Upgrade": "websocket", "Connection": "Upgrade", "Sec-WebSocket-Key": key,
            "Sec-WebSocket-Version": WebSocketHandshake.version,
        ]
        if !subprotocols.isEmpty { headers.add("Sec-WebSocket-Protocol", subprotocols.joined(separator: ", ")) }
        if let deflate { headers.add("Sec-WebSocket-Extensions", deflate.offer.headerValue) }
        return headers
    }

    /// Checks the server's answer and returns what was agreed. The answer must be 101 with Upgrade and
    /// Connection, the Sec-WebSocket-Accept our key calls for, at most one subprotocol and only one we
    /// offered, and no extension we did not offer (see `PerMessageDeflateConfig.acceptResponse` for what a
    /// permessage-deflate answer may say).
    public func validate(status: Int, headers: Headers) throws(WebSocketClientHandshakeError) -> WebSocketAgreement {
        guard status == WebSocketUpgrade.status else { throw .unexpectedStatus(status) }
        let upgrade = headers.values(for: "Upgrade")
        guard HeaderTokens.listContains(upgrade, "websocket") else {
            throw .upgradeNotWebSocket(upgrade.isEmpty ? nil : upgrade.joined(separator: ", "))
        }
        let connection = headers.values(for: "Connection")
        guard HeaderTokens.listContains(connection, "upgrade") else {
            throw .connectionLacksUpgrade(connection.isEmpty ? nil : connection.joined(separator: ", "))
        }
        let expected = WebSocketHandshake.acceptValue(forKey: key)
        let accepts = headers.values(for: "Sec-WebSocket-Accept")
        guard accepts.count == 1, WebSocketHandshake.trimmed(accepts[0]) == expected else {
            throw .badAccept(expected: expected, received: accepts.isEmpty ? nil : accepts.joined(separator: ", "))
        }

        let chosen = HeaderTokens.elements(headers.values(for: "Sec-WebSocket-Protocol"))
        guard chosen.count <= 1 else { throw .unofferedSubprotocol(chosen.joined(separator: ", ")) }
        if let subprotocol = chosen.first, !subprotocols.contains(subprotocol) {
            throw .unofferedSubprotocol(subprotocol)
        }

        var agreedDeflate: PerMessageDeflateParameters?
        let extensions: [WebSocketExtension]
        do throws(WebSocketExtensionSyntaxError) {
            extensions = try WebSocketExtensionHeader.parse(headers.values(for: "Sec-WebSocket-Extensions"))
        } catch {
            throw .badExtensions(error.reason)
        }
        for element in extensions {
            guard let deflate, agreedDeflate == nil,
                  HeaderTokens.equalIgnoringCase(element.name, PerMessageDeflateParameters.extensionName) else {
                throw .unofferedExtension(element.name)
            }
            do throws(PerMessageDeflateElement.Invalid) {
                agreedDeflate = try deflate.acceptResponse(element)
            } catch {
                throw .badDeflateResponse(error.reason)
            }
        }
        return WebSocketAgreement(subprotocol: chosen.first, deflate: agreedDeflate)
    }
}
