import RuntimeAPI
import Testing

@testable import RuntimeWebSocket

/// A client's Sec-WebSocket-Extensions, a server policy, and the server's answer (nil: declined).
struct DeflateOffer: Sendable, CustomTestStringConvertible {
    var offer: String
    var policy = PerMessageDeflateConfig()
    var answer: String?
    var testDescription: String { offer }
}

let deflateOffers: [DeflateOffer] = [
    DeflateOffer(offer: "permessage-deflate", answer: "permessage-deflate"),
    DeflateOffer(offer: "permessage-deflate; client_max_window_bits", answer: "permessage-deflate"),
    DeflateOffer(offer: "PerMessage-Deflate", answer: "permessage-deflate"),
    DeflateOffer(offer: "permessage-deflate; client_max_window_bits=10",
                 answer: "permessage-deflate; client_max_window_bits=10"),
    DeflateOffer(offer: "permessage-deflate; client_max_window_bits=\"10\"",
                 answer: "permessage-deflate; client_max_window_bits=10"),
    DeflateOffer(offer: "permessage-deflate; server_max_window_bits=10",
                 answer: "permessage-deflate; server_max_window_bits=10"),
    DeflateOffer(offer: "permessage-deflate; server_max_window_bits=9",
                 answer: "permessage-deflate; server_max_window_bits=9"),
    DeflateOffer(offer: "permessage-deflate; server_no_context_takeover; client_no_context_takeover",
                 answer: "permessage-deflate; server_no_context_takeover; client_no_context_takeover"),
    // Declined: zlib cannot compress with a 256-byte window. The next offer is the fallback.
    DeflateOffer(offer: "permessage-deflate; server_max_window_bits=8", answer: nil),
    DeflateOffer(offer: "permessage-deflate; server_max_window_bits=8, permessage-deflate",
                 answer: "permessage-deflate"),
    // Declined: they break RFC 7692 §7.1.
    DeflateOffer(offer: "permessage-deflate; mystery", answer: nil),
    DeflateOffer(offer: "permessage-deflate; server_max_window_bits", answer: nil),
    DeflateOffer(offer: "permessage-deflate; server_max_window_bits=16", answer: nil),
    DeflateOffer(offer: "permessage-deflate; server_max_window_bits=7", answer: nil),
    DeflateOffer(offer: "permessage-deflate; client_max_window_bits=010", answer: nil),
    DeflateOffer(offer: "permessage-deflate; server_no_context_takeover=1", answer: nil),
    DeflateOffer(offer: "permessage-deflate; client_max_window_bits; client_max_window_bits", answer: nil),
    DeflateOffer(offer: "permessage-deflate; mystery, permessage-deflate; client_max_window_bits=12",
                 answer: "permessage-deflate; client_max_window_bits=12"),
    DeflateOffer(offer: "x-webkit-deflate-frame", answer: nil),
    DeflateOffer(offer: "x-webkit-deflate-frame, permessage-deflate", answer: "permessage-deflate"),
    // The server's own policy.
    DeflateOffer(offer: "permessage-deflate; client_max_window_bits", policy: PerMessageDeflateConfig(incomingMaxWindowBits: 10),
                 answer: "permessage-deflate; client_max_window_bits=10"),
    DeflateOffer(offer: "permessage-deflate; client_max_window_bits=9", policy: PerMessageDeflateConfig(incomingMaxWindowBits: 10),
                 answer: "permessage-deflate; client_max_window_bits=9"),
    DeflateOffer(offer: "permessage-deflate", policy: PerMessageDeflateConfig(incomingMaxWindowBits: 10),
                 answer: "permessage-deflate"),
    DeflateOffer(offer: "permessage-deflate; server_max_window_bits=14", policy: PerMessageDeflateConfig(outgoingMaxWindowBits: 12),
                 answer: "permessage-deflate; server_max_window_bits=12"),
    DeflateOffer(offer: "permessage-deflate", policy: PerMessageDeflateConfig(outgoingNoContextTakeover: true),
                 answer: "permessage-deflate; server_no_context_takeover"),
    DeflateOffer(offer: "permessage-deflate", policy: PerMessageDeflateConfig(incomingNoContextTakeover: true),
                 answer: "permessage-deflate; client_no_context_takeover"),
]

@Suite("permessage-deflate negotiation")
struct DeflateNegotiationTests {
    @Test("a server answers the first offer it can honour", arguments: deflateOffers)
    func serverAnswer(offer: DeflateOffer) throws {
        let headers = Headers(goodRequest + [("Sec-WebSocket-Extensions", offer.offer)])
        let upgrade = try WebSocketHandshake.accept(method: "GET", versionMinor: 1, headers: headers,
                                                    deflate: offer.policy)
        #expect(upgrade.responseHeaders["Sec-WebSocket-Extensions"] == offer.answer)
        #expect(upgrade.agreement.deflate?.headerValue == offer.answer)
    }

    @Test("every answer a server gives, its client accepts, and both build working codecs",
          arguments: deflateOffers.filter { $0.answer != nil })
    func answersWork(offer: DeflateOffer) throws {
        let headers = Headers(goodRequest + [("Sec-WebSocket-Extensions", offer.offer)])
        let upgrade = try WebSocketHandshake.accept(method: "GET", versionMinor: 1, headers: headers,
                                                    deflate: offer.policy)
        let client = WebSocketClientHandshake(key: rfcKey, subprotocols: [], deflate: PerMessageDeflateConfig())
        let agreement = try client.validate(status: 101, headers: upgrade.responseHeaders)
        #expect(agreement == upgrade.agreement)
        let parameters = try #require(agreement.deflate)
        let text = String(repeating: "negotiated and compressed ", count: 40)
        let toServer = WebSocketFrameEncoder(role: .client, deflate: parameters, compression: compressAll)
        let toClient = WebSocketFrameEncoder(role: .server, deflate: parameters, compression: offer.policy)
        let serverParser = WebSocketFrameParser(role: .server, deflate: parameters)
        let clientParser = WebSocketFrameParser(role: .client, deflate: parameters)
        for _ in 0..<3 {
            #expect(parse(toServer.text(text), with: serverParser) == Parsed(events: [.text(text)]))
            #expect(parse(toClient.text(text), with: clientParser) == Parsed(events: [.text(text)]))
        }
    }

    @Test("extension header grammar")
    func grammar() throws {
        let parsed = try WebSocketExtensionHeader.parse(["foo, bar; baz=2;qux = \"a\\b\" ,, ", "permessage-deflate"])
        #expect(parsed == [
            WebSocketExtension(name: "foo", parameters: []),
            WebSocketExtension(name: "bar", parameters: [.init(name: "baz", value: "2"), .init(name: "qux", value: "ab")]),
            WebSocketExtension(name: "permessage-deflate", parameters: []),
        ])
        for bad in ["foo bar", "foo; x=\"unterminated", "foo; x=\"not a token\"", "foo;", "; x", "foo; x=", "foo, ;"] {
            #expect(throws: WebSocketExtensionSyntaxError.self, "\(bad)") { try WebSocketExtensionHeader.parse([bad]) }
        }
        #expect(try WebSocketExtensionHeader.parse(["", " , "]).isEmpty)
    }
}
