import RuntimeAPI
import RuntimeCrypto

/// The server side of the opening handshake (RFC 6455 §4.2): checks an upgrade request and builds the 101
/// response, choosing a subprotocol and negotiating permessage-deflate. Pure: the caller reads the request
/// head and writes the response.
public enum WebSocketHandshake {
    /// The only protocol version there is (Sec-WebSocket-Version).
    public static let version = "13"
    /// Appended to the client's key before hashing (RFC 6455 §1.3); proves the server read the request.
    public static let keyGUID = "258EAFA5-E914-47DA-95CA-C5AB0DC85B11"

    /// Sec-WebSocket-Accept for `key`: base64 of the SHA-1 of the key (as sent) followed by `keyGUID`.
    public static func acceptValue(forKey key: String) -> String {
        Base64.encode(Digest.sha1(Array((key + keyGUID).utf8)))
    }

    /// Whether `headers` ask for a WebSocket: an Upgrade header naming `websocket`. Cheap, for routing a
    /// request to WebSocket handling before `accept` checks the rest.
    public static func isUpgradeRequest(_ headers: Headers) -> Bool {
        HeaderTokens.listContains(headers.values(for: "Upgrade"), "websocket")
    }

    /// Checks an upgrade request and returns the 101 response to send, or throws the error response to
    /// send instead.
    ///
    /// - `method`, `versionMinor` and `headers` are the request head's, as `RequestHead` has them (HTTP/1.x).
    /// - `subprotocols` are the ones this server speaks, most preferred first. The server's preference wins:
    ///   the answer is the first of them the client offered, whatever the client's order. With no overlap (or
    ///   no offer) the response names none and the client decides whether to go on.
    /// - `deflate` is the compression policy, nil to decline every offer (see
    ///   `PerMessageDeflateConfig.accept(offers:)` for what is accepted). Other extensions are ignored.
    ///
    /// Checks, in order: GET, HTTP/1.1, Upgrade, Connection, Sec-WebSocket-Version (426 when missing or not
    /// 13, checked before the key so clients of old drafts learn the version), Sec-WebSocket-Key (exactly
    /// one, base64 of 16 bytes), then the syntax of Sec-WebSocket-Protocol and, only when `deflate` is set
    /// (a server without extensions has no reason to read it), of Sec-WebSocket-Extensions.
    /// Host and Origin are left to the caller: the HTTP parser requires Host, and Origin is policy.
    public static func accept(method: String, versionMinor: Int, headers: Headers, subprotocols: [String] = [],
                              deflate: PerMessageDeflateConfig? = nil) throws(WebSocketHandshakeError)
        -> WebSocketUpgrade {
        guard method == "GET" else { throw .methodNotGET(method) }
        guard versionMinor >= 1 else { throw .httpVersionTooOld(minor: versionMinor) }
        let upgrade = headers.values(for: "Upgrade")
        guard HeaderTokens.listContains(upgrade, "websocket") else {
            throw .upgradeNotWebSocket(upgrade.isEmpty ? nil : upgrade.joined(separator: ", "))
        }
        let connection = headers.values(for: "Connection")
        guard HeaderTokens.listContains(connection, "upgrade") else {
            throw .connectionLacksUpgrade(connection.isEmpty ? nil : connection.joined(separator: ", "))
        }
        let versions = headers.values(for: "Sec-WebSocket-Version")
        guard versions.count == 1, trimmed(versions[0]) == version else {
            throw .unsupportedVersion(versions.isEmpty ? nil : versions.joined(separator: ", "))
        }
        let keys = headers.values(for: "Sec-WebSocket-Key")
        guard !keys.isEmpty else { throw .missingKey }
        let key = trimmed(keys[0])
        guard keys.count == 1, Base64.decode(key)?.count == WebSocketLimits.handshakeKeyBytes else {
            throw .badKey(keys.joined(separator: ", "))
        }

        let offered = HeaderTokens.elements(headers.values(for: "Sec-WebSocket-Protocol"))
        if let bad = offered.first(where: { !HeaderTokens.isToken($0) }) { throw .badSubprotocol(bad) }
        // Subprotocol names are case-sensitive (RFC 6455 §11.3.4 registers them as given).
        let subprotocol = subprotocols.first { offered.contains($0) }

        var agreedDeflate: PerMessageDeflateParameters?
        let extensionValues = headers.values(for: "Sec-WebSocket-Extensions")
        if let deflate, !extensionValues.isEmpty {
            do throws(WebSocketExtensionSyntaxError) {
                agreedDeflate = deflate.accept(offers: try WebSocketExtensionHeader.parse(extensionValues))
            } catch {
                throw .badExtensions(error.reason)
            }
        }

        var response: Headers = [
            "Upgrade": "websocket", "Connection": "Upgrade", "Sec-WebSocket-Accept": acceptValue(forKey: key),
        ]
        if let subprotocol { response.add("Sec-WebSocket-Protocol", subprotocol) }
        if let agreedDeflate { response.add("Sec-WebSocket-Extensions", agreedDeflate.headerValue) }
        return WebSocketUpgrade(responseHeaders: response,
                                agreement: WebSocketAgreement(subprotocol: subprotocol, deflate: agreedDeflate))
    }

    /// `value` without surrounding spaces and tabs (parsers trim them already; hand-built headers may not).
    static func trimmed(_ value: String) -> String {
        let bytes = value.utf8
        let trimmed = bytes.drop(while: HeaderTokens.isOptionalWhitespace).reversed()
            .drop(while: HeaderTokens.isOptionalWhitespace).reversed()
        return String(decoding: trimmed, as: UTF8.self)
    }
}
