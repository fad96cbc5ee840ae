import RuntimeAPI
import RuntimeCrypto
import Testing

@testable import RuntimeWebSocket

/// The request of RFC 6455 §1.2, minus Host and Origin, which the handshake leaves to the caller.
let rfcKey = "dGhlIHNhbXBsZSBub25jZQ=="
let goodRequest: [(String, String)] = [
    ("Upgrade", "websocket"), ("Connection", "Upgrade"), ("Sec-WebSocket-Key", rfcKey), ("Sec-WebSocket-Version", "13"),
]

func request(replacing name: String, with value: String?) -> Headers {
    var headers = Headers(goodRequest)
    headers.remove(name)
    if let value { headers.add(name, value) }
    return headers
}

/// A request that must be refused, with the error (and so the status) it must get.
struct BadUpgrade: Sendable, CustomTestStringConvertible {
    var name: String
    var method = "GET"
    var versionMinor = 1
    var headers: Headers
    var error: WebSocketHandshakeError
    var testDescription: String { name }
}

let badUpgrades: [BadUpgrade] = [
    BadUpgrade(name: "POST", method: "POST", headers: Headers(goodRequest), error: .methodNotGET("POST")),
    BadUpgrade(name: "lowercase get", method: "get", headers: Headers(goodRequest), error: .methodNotGET("get")),
    BadUpgrade(name: "HTTP/1.0", versionMinor: 0, headers: Headers(goodRequest), error: .httpVersionTooOld(minor: 0)),
    BadUpgrade(name: "no Upgrade", headers: request(replacing: "Upgrade", with: nil), error: .upgradeNotWebSocket(nil)),
    BadUpgrade(name: "Upgrade to h2c", headers: request(replacing: "Upgrade", with: "h2c"),
               error: .upgradeNotWebSocket("h2c")),
    BadUpgrade(name: "no Connection", headers: request(replacing: "Connection", with: nil),
               error: .connectionLacksUpgrade(nil)),
    BadUpgrade(name: "Connection without upgrade", headers: request(replacing: "Connection", with: "keep-alive"),
               error: .connectionLacksUpgrade("keep-alive")),
    BadUpgrade(name: "Connection with upgrade only as a substring",
               headers: request(replacing: "Connection", with: "upgraded"), error: .connectionLacksUpgrade("upgraded")),
    BadUpgrade(name: "no version", headers: request(replacing: "Sec-WebSocket-Version", with: nil),
               error: .unsupportedVersion(nil)),
    BadUpgrade(name: "version 8", headers: request(replacing: "Sec-WebSocket-Version", with: "8"),
               error: .unsupportedVersion("8")),
    BadUpgrade(name: "version list", headers: request(replacing: "Sec-WebSocket-Version", with: "13, 8"),
               error: .unsupportedVersion("13, 8")),
    BadUpgrade(name: "no key", headers: request(replacing: "Sec-WebSocket-Key", with: nil), error: .missingKey),
    BadUpgrade(name: "key not base64", headers: request(replacing: "Sec-WebSocket-Key", with: "not base64 at all!!!!!!!"),
               error: .badKey("not base64 at all!!!!!!!")),
    BadUpgrade(name: "key of 15 bytes", headers: request(replacing: "Sec-WebSocket-Key", with: "AAAAAAAAAAAAAAAAAAAA"),
               error: .badKey("AAAAAAAAAAAAAAAAAAAA")),
    BadUpgrade(name: "key of 17 bytes", headers: request(replacing: "Sec-WebSocket-Key", with: "AAAAAAAAAAAAAAAAAAAAAAA="),
               error: .badKey("AAAAAAAAAAAAAAAAAAAAAAA=")),
    BadUpgrade(name: "key without padding", headers: request(replacing: "Sec-WebSocket-Key", with: "dGhlIHNhbXBsZSBub25jZQ"),
               error: .badKey("dGhlIHNhbXBsZSBub25jZQ")),
    BadUpgrade(name: "two keys", headers: Headers(goodRequest + [("Sec-WebSocket-Key", rfcKey)]),
               error: .badKey("\(rfcKey), \(rfcKey)")),
    BadUpgrade(name: "subprotocol that is not a token",
               headers: Headers(goodRequest + [("Sec-WebSocket-Protocol", "chat, super chat")]),
               error: .badSubprotocol("super chat")),
    BadUpgrade(name: "extensions that break the grammar",
               headers: Headers(goodRequest + [("Sec-WebSocket-Extensions", "permessage-deflate; =15")]),
               error: .badExtensions("expected a parameter name at byte 20 of \"permessage-deflate; =15\"")),
]

@Suite("Handshake")
struct HandshakeTests {
    @Test("RFC 6455 §1.3 accept value")
    func acceptValue() {
        #expect(WebSocketHandshake.acceptValue(forKey: rfcKey) == "s3pPLMBiTxaQ9kYGzzhZRbK+xOo=")
    }

    @Test("a valid request gets the 101 headers")
    func accepts() throws {
        let upgrade = try WebSocketHandshake.accept(method: "GET", versionMinor: 1, headers: Headers(goodRequest))
        #expect(upgrade.responseHeaders == [
            "Upgrade": "websocket", "Connection": "Upgrade", "Sec-WebSocket-Accept": "s3pPLMBiTxaQ9kYGzzhZRbK+xOo=",
        ])
        #expect(upgrade.agreement == WebSocketAgreement())
        #expect(WebSocketHandshake.isUpgradeRequest(Headers(goodRequest)))
        #expect(!WebSocketHandshake.isUpgradeRequest(["Connection": "Upgrade"]))
    }

    @Test("tokens are matched case-insensitively inside lists")
    func lenientTokens() throws {
        let headers: Headers = [
            "upgrade": "WebSocket", "connection": "keep-alive, UPGRADE", "sec-websocket-key": " \(rfcKey) ",
            "SEC-WEBSOCKET-VERSION": "13",
        ]
        let upgrade = try WebSocketHandshake.accept(method: "GET", versionMinor: 1, headers: headers)
        #expect(upgrade.responseHeaders["Sec-WebSocket-Accept"] == "s3pPLMBiTxaQ9kYGzzhZRbK+xOo=")
        // Repeated Connection fields form one list.
        var split = Headers(goodRequest)
        split.set("Connection", "keep-alive")
        split.add("Connection", "Upgrade")
        #expect(throws: Never.self) { try WebSocketHandshake.accept(method: "GET", versionMinor: 1, headers: split) }
    }

    @Test("bad requests get their status", arguments: badUpgrades)
    func refuses(bad: BadUpgrade) {
        #expect(throws: bad.error) {
            try WebSocketHandshake.accept(method: bad.method, versionMinor: bad.versionMinor, headers: bad.headers,
                                          deflate: PerMessageDeflateConfig())
        }
        if case .unsupportedVersion = bad.error {
            #expect(bad.error.status == 426)
            #expect(bad.error.responseHeaders["Sec-WebSocket-Version"] == "13")
            #expect(bad.error.responseHeaders["Upgrade"] == "websocket")
        } else {
            #expect(bad.error.status == 400)
            #expect(bad.error.responseHeaders.isEmpty)
        }
        #expect(bad.error.description.hasPrefix("\(bad.error.status) "))
    }

    @Test("the server's preference picks the subprotocol",
          arguments: [
              (["superchat", "chat"], "chat, superchat", "superchat"),
              (["chat"], "superchat, chat", "chat"),
              (["v2", "v1"], "v1", "v1"),
              (["graphql-ws"], "chat", nil),
              ([], "chat", nil),
              (["chat"], "", nil),
              (["Chat"], "chat", nil),
          ] as [([String], String, String?)])
    func subprotocol(supported: [String], offered: String, chosen: String?) throws {
        var headers = Headers(goodRequest)
        if !offered.isEmpty {
            // Offers may be split over several fields.
            for element in offered.split(separator: ",") { headers.add("Sec-WebSocket-Protocol", String(element)) }
        }
        let upgrade = try WebSocketHandshake.accept(method: "GET", versionMinor: 1, headers: headers,
                                                    subprotocols: supported)
        #expect(upgrade.agreement.subprotocol == chosen)
        #expect(upgrade.responseHeaders["Sec-WebSocket-Protocol"] == chosen)
    }

    @Test("permessage-deflate is answered only when the server enables it")
    func deflateOnOff() throws {
        let headers = Headers(goodRequest + [("Sec-WebSocket-Extensions", "permessage-deflate; client_max_window_bits")])
        let off = try WebSocketHandshake.accept(method: "GET", versionMinor: 1, headers: headers)
        #expect(off.agreement.deflate == nil && off.responseHeaders["Sec-WebSocket-Extensions"] == nil)
        let on = try WebSocketHandshake.accept(method: "GET", versionMinor: 1, headers: headers,
                                               deflate: PerMessageDeflateConfig())
        #expect(on.agreement.deflate == PerMessageDeflateParameters())
        #expect(on.responseHeaders["Sec-WebSocket-Extensions"] == "permessage-deflate")
        let unknownOnly = Headers(goodRequest + [("Sec-WebSocket-Extensions", "x-webkit-deflate-frame")])
        let declined = try WebSocketHandshake.accept(method: "GET", versionMinor: 1, headers: unknownOnly,
                                                     deflate: PerMessageDeflateConfig())
        #expect(declined.agreement.deflate == nil)
    }

    // MARK: Client

    @Test("a client's request carries a fresh key and what it offers")
    func clientRequest() {
        let first = WebSocketClientHandshake()
        let second = WebSocketClientHandshake(subprotocols: ["chat", "superchat"], deflate: PerMessageDeflateConfig())
        #expect(first.key != second.key)
        #expect(Base64.decode(first.key)?.count == 16)
        #expect(first.requestHeaders == [
            "Upgrade": "websocket", "Connection": "Upgrade", "Sec-WebSocket-Key": first.key, "Sec-WebSocket-Version": "13",
        ])
        #expect(second.requestHeaders["Sec-WebSocket-Protocol"] == "chat, superchat")
        #expect(second.requestHeaders["Sec-WebSocket-Extensions"] == "permessage-deflate; client_max_window_bits")
        let tuned = WebSocketClientHandshake(deflate: PerMessageDeflateConfig(
            outgoingMaxWindowBits: 12, incomingMaxWindowBits: 10, outgoingNoContextTakeover: true,
            incomingNoContextTakeover: true))
        #expect(tuned.requestHeaders["Sec-WebSocket-Extensions"] == "permessage-deflate; server_no_context_takeover; "
            + "client_no_context_takeover; server_max_window_bits=10; client_max_window_bits=12")
    }

    @Test("client and server agree end to end", arguments: [nil, PerMessageDeflateConfig()])
    func endToEnd(deflate: PerMessageDeflateConfig?) throws {
        let client = WebSocketClientHandshake(subprotocols: ["v1", "v2"], deflate: deflate)
        let upgrade = try WebSocketHandshake.accept(method: "GET", versionMinor: 1, headers: client.requestHeaders,
                                                    subprotocols: ["v2"], deflate: deflate)
        let agreement = try client.validate(status: WebSocketUpgrade.status, headers: upgrade.responseHeaders)
        #expect(agreement == upgrade.agreement)
        #expect(agreement.subprotocol == "v2")
        #expect((agreement.deflate != nil) == (deflate != nil))
    }

    @Test("a client refuses answers it did not ask for")
    func clientRefuses() throws {
        let client = WebSocketClientHandshake(key: rfcKey, subprotocols: ["chat"], deflate: nil)
        let good: Headers = [
            "Upgrade": "websocket", "Connection": "Upgrade", "Sec-WebSocket-Accept": "s3pPLMBiTxaQ9kYGzzhZRbK+xOo=",
        ]
        #expect(try client.validate(status: 101, headers: good) == WebSocketAgreement())
        func with(_ name: String, _ value: String?) -> Headers {
            var headers = good
            headers.remove(name)
            if let value { headers.add(name, value) }
            return headers
        }
        let cases: [(Int, Headers, WebSocketClientHandshakeError)] = [
            (200, good, .unexpectedStatus(200)),
            (101, with("Upgrade", nil), .upgradeNotWebSocket(nil)),
            (101, with("Connection", "close"), .connectionLacksUpgrade("close")),
            (101, with("Sec-WebSocket-Accept", nil), .badAccept(expected: "s3pPLMBiTxaQ9kYGzzhZRbK+xOo=", received: nil)),
            (101, with("Sec-WebSocket-Accept", "AAAA"), .badAccept(expected: "s3pPLMBiTxaQ9kYGzzhZRbK+xOo=", received: "AAAA")),
            (101, with("Sec-WebSocket-Protocol", "superchat"), .unofferedSubprotocol("superchat")),
            (101, with("Sec-WebSocket-Protocol", "chat, chat"), .unofferedSubprotocol("chat, chat")),
            (101, with("Sec-WebSocket-Extensions", "permessage-deflate"), .unofferedExtension("permessage-deflate")),
            (101, with("Sec-WebSocket-Extensions", "permessage-deflate;"),
             .badExtensions("expected a parameter name at byte 19 of \"permessage-deflate;\"")),
        ]
        for (status, headers, error) in cases {
            #expect(throws: error) { try client.validate(status: status, headers: headers) }
        }
        #expect(try client.validate(status: 101, headers: with("Sec-WebSocket-Protocol", "chat")).subprotocol == "chat")
    }

    @Test("a client checks the permessage-deflate answer")
    func clientDeflateAnswer() throws {
        let client = WebSocketClientHandshake(key: rfcKey, subprotocols: [], deflate: PerMessageDeflateConfig())
        func answer(_ extensions: String) -> Headers {
            ["Upgrade": "websocket", "Connection": "Upgrade", "Sec-WebSocket-Accept": "s3pPLMBiTxaQ9kYGzzhZRbK+xOo=",
             "Sec-WebSocket-Extensions": extensions]
        }
        let accepted: [(String, PerMessageDeflateParameters)] = [
            ("permessage-deflate", PerMessageDeflateParameters()),
            ("permessage-deflate; server_no_context_takeover",
             PerMessageDeflateParameters(serverNoContextTakeover: true)),
            ("permessage-deflate; client_no_context_takeover; server_max_window_bits=10",
             PerMessageDeflateParameters(clientNoContextTakeover: true, serverMaxWindowBits: 10)),
            ("permessage-deflate; client_max_window_bits=9", PerMessageDeflateParameters(clientMaxWindowBits: 9)),
        ]
        for (value, parameters) in accepted {
            #expect(try client.validate(status: 101, headers: answer(value)).deflate == parameters, "\(value)")
        }
        let refused: [(String, String)] = [
            ("permessage-deflate; client_max_window_bits=8", "client_max_window_bits=8 is too small for zlib to compress with"),
            ("permessage-deflate; client_max_window_bits", "client_max_window_bits needs a value in a response"),
            ("permessage-deflate; server_max_window_bits=16", "server_max_window_bits must be 8 through 15, not 16"),
            ("permessage-deflate; mystery", "unknown parameter mystery"),
            ("permessage-deflate; server_no_context_takeover; server_no_context_takeover",
             "server_no_context_takeover appears twice"),
        ]
        for (value, reason) in refused {
            #expect(throws: WebSocketClientHandshakeError.badDeflateResponse(reason)) {
                try client.validate(status: 101, headers: answer(value))
            }
        }
        #expect(throws: WebSocketClientHandshakeError.unofferedExtension("permessage-deflate")) {
            try client.validate(status: 101, headers: answer("permessage-deflate, permessage-deflate"))
        }
        #expect(throws: WebSocketClientHandshakeError.unofferedExtension("x-other")) {
            try client.validate(status: 101, headers: answer("x-other"))
        }
    }
}
