import Testing

@testable import RuntimeWebSocket

/// Compresses everything (the RFC examples are five bytes long).
let compressAll = PerMessageDeflateConfig(minimumMessageBytes: 0)
let takeover = PerMessageDeflateParameters()
let noTakeover = PerMessageDeflateParameters(serverNoContextTakeover: true, clientNoContextTakeover: true)

/// RFC 7692 §7.2.3, as a client receives them from a server.
let rfc7692Examples: [ParserVector] = [
    ParserVector(name: "7.2.3.1 one compressed frame",
                 bytes: [0xC1, 0x07, 0xF2, 0x48, 0xCD, 0xC9, 0xC9, 0x07, 0x00], role: .client, deflate: takeover,
                 events: [.text("Hello")]),
    ParserVector(name: "7.2.3.1 compressed and fragmented",
                 bytes: [0x41, 0x03, 0xF2, 0x48, 0xCD, 0x80, 0x04, 0xC9, 0xC9, 0x07, 0x00], role: .client,
                 deflate: takeover, events: [.text("Hello")]),
    ParserVector(name: "7.2.3.2 second message shares the LZ77 window",
                 bytes: [0xC1, 0x07, 0xF2, 0x48, 0xCD, 0xC9, 0xC9, 0x07, 0x00, 0xC1, 0x05, 0xF2, 0x00, 0x11, 0x00, 0x00],
                 role: .client, deflate: takeover, events: [.text("Hello"), .text("Hello")]),
    ParserVector(name: "7.2.3.3 stored block",
                 bytes: [0xC1, 0x0B, 0x00, 0x05, 0x00, 0xFA, 0xFF, 0x48, 0x65, 0x6C, 0x6C, 0x6F, 0x00], role: .client,
                 deflate: takeover, events: [.text("Hello")]),
    ParserVector(name: "7.2.3.4 block with BFINAL set",
                 bytes: [0xC1, 0x08, 0xF3, 0x48, 0xCD, 0xC9, 0xC9, 0x07, 0x00, 0x00], role: .client, deflate: takeover,
                 events: [.text("Hello")]),
    ParserVector(name: "7.2.3.5 two deflate blocks in one message",
                 bytes: [0xC1, 0x0D, 0xF2, 0x48, 0x05, 0x00, 0x00, 0x00, 0xFF, 0xFF, 0xCA, 0xC9, 0xC9, 0x07, 0x00],
                 role: .client, deflate: takeover, events: [.text("Hello")]),
    ParserVector(name: "7.2.3.6 empty message", bytes: [0xC1, 0x01, 0x00], role: .client, deflate: takeover,
                 events: [.text("")]),
    ParserVector(name: "uncompressed message under permessage-deflate",
                 bytes: [0x81, 0x05] + hello, role: .client, deflate: takeover, events: [.text("Hello")]),
    ParserVector(name: "BFINAL message, then one referring back to it",
                 bytes: [0xC1, 0x08, 0xF3, 0x48, 0xCD, 0xC9, 0xC9, 0x07, 0x00, 0x00, 0xC1, 0x05, 0xF2, 0x00, 0x11, 0x00, 0x00],
                 role: .client, deflate: takeover, events: [.text("Hello"), .text("Hello")]),
    ParserVector(name: "masked compressed frame to a server",
                 bytes: frame(Op.text, [0xF2, 0x48, 0xCD, 0xC9, 0xC9, 0x07, 0x00], rsv: 0b100), deflate: takeover,
                 events: [.text("Hello")]),
    ParserVector(name: "corrupt compressed data", bytes: [0xC2, 0x02, 0xFF, 0xFF], role: .client, deflate: takeover,
                 error: .badCompressedData("invalid block type")),
    ParserVector(name: "compressed text that inflates to invalid UTF-8",
                 bytes: [0xC1, 0x04, 0xFA, 0xFF, 0x0F, 0x00], role: .client, deflate: takeover, error: .invalidUTF8),
]

@Suite("permessage-deflate")
struct PerMessageDeflateTests {
    @Test("RFC 7692 §7.2.3 examples and deflate errors", arguments: rfc7692Examples, Feed.allCases)
    func rfcExamples(vector: ParserVector, feed: Feed) {
        #expect(parse(vector.bytes, role: vector.role, feed: feed, limits: vector.limits, deflate: vector.deflate)
            == vector.expected)
    }

    @Test("the encoder produces RFC 7692's bytes, with and without context takeover")
    func encoderMatchesRFC() {
        let shared = WebSocketFrameEncoder(role: .server, deflate: takeover, compression: compressAll)
        #expect(shared.text("Hello") == [0xC1, 0x07, 0xF2, 0x48, 0xCD, 0xC9, 0xC9, 0x07, 0x00])
        #expect(shared.text("Hello") == [0xC1, 0x05, 0xF2, 0x00, 0x11, 0x00, 0x00])
        let fresh = WebSocketFrameEncoder(role: .server, deflate: noTakeover, compression: compressAll)
        #expect(fresh.text("Hello") == [0xC1, 0x07, 0xF2, 0x48, 0xCD, 0xC9, 0xC9, 0x07, 0x00])
        #expect(fresh.text("Hello") == [0xC1, 0x07, 0xF2, 0x48, 0xCD, 0xC9, 0xC9, 0x07, 0x00])
        #expect(shared.text("") == [0xC1, 0x01, 0x00])
    }

    @Test("RSV1 is on the first frame of a fragmented compressed message only")
    func fragmentedCompression() {
        let encoder = WebSocketFrameEncoder(role: .server, deflate: takeover, compression: compressAll, maxFrameBytes: 3)
        let encoded = encoder.text("Hello")
        #expect(encoded == [0x41, 0x03, 0xF2, 0x48, 0xCD, 0x00, 0x03, 0xC9, 0xC9, 0x07, 0x80, 0x01, 0x00])
        #expect(parse(encoded, role: .client, deflate: takeover) == Parsed(events: [.text("Hello")]))
    }

    @Test("small messages go uncompressed below the threshold")
    func threshold() {
        let encoder = WebSocketFrameEncoder(role: .server, deflate: takeover)
        #expect(encoder.text("Hello") == [0x81, 0x05] + hello)
        let long = String(repeating: "abc", count: 100)
        #expect(encoder.text(long)[0] == 0xC1)
    }

    @Test("a zip bomb is refused with 1009 while inflating", arguments: [Feed.whole, Feed.threes])
    func zipBomb(feed: Feed) {
        let client = WebSocketFrameEncoder(role: .client, deflate: takeover, compression: compressAll)
        let bomb = client.binary([UInt8](repeating: 0, count: 50 * 1024 * 1024))
        #expect(bomb.count < 100 * 1024, "fifty megabytes of zeros deflate to a small message")
        let result = parse(bomb, role: .server, feed: feed, deflate: takeover)
        #expect(result == Parsed(events: [], error: .messageTooBig(limit: WebSocketLimits.defaultMaxMessageBytes)))
        #expect(result.error?.closeCode == .messageTooBig)
    }

    @Test("the limit holds exactly for inflated messages")
    func inflatedLimit() {
        let limits = WebSocketLimits(maxMessageBytes: 1000)
        let atLimit = [UInt8](repeating: 7, count: 1000)
        // A fresh encoder for each, because each goes to a fresh parser.
        func compressed(_ payload: [UInt8]) -> [UInt8] {
            WebSocketFrameEncoder(role: .client, deflate: takeover, compression: compressAll).binary(payload)
        }
        #expect(parse(compressed(atLimit), limits: limits, deflate: takeover) == Parsed(events: [.binary(atLimit)]))
        #expect(parse(compressed(atLimit + [7]), limits: limits, deflate: takeover)
            == Parsed(events: [], error: .messageTooBig(limit: 1000)))
    }

    @Test("an incompressible message of exactly the limit still fits on the wire")
    func incompressibleAtLimit() {
        let limits = WebSocketLimits(maxMessageBytes: 200_000)
        let payload = pseudoRandomBytes(200_000)
        let encoder = WebSocketFrameEncoder(role: .client, deflate: takeover, compression: compressAll)
        let encoded = encoder.binary(payload)
        #expect(encoded.count > payload.count, "random bytes do not compress")
        #expect(parse(encoded, limits: limits, deflate: takeover) == Parsed(events: [.binary(payload)]))
    }

    @Test("compressed wire bytes over the allowance are refused from the header")
    func compressedWireLimit() {
        let limits = WebSocketLimits(maxMessageBytes: 1000)
        let header = Array(frame(Op.binary, [UInt8](repeating: 0, count: limits.maxCompressedMessageBytes + 1), rsv: 0b100)
            .prefix(8))
        #expect(parse(header, limits: limits, deflate: takeover).error == .messageTooBig(limit: 1000))
    }

    @Test("context takeover carries the window across messages; without it each message stands alone")
    func contextTakeover() {
        let text = String(repeating: "The same sentence, again and again. ", count: 20)
        for parameters in [takeover, noTakeover] {
            let encoder = WebSocketFrameEncoder(role: .client, deflate: parameters, compression: compressAll)
            let first = encoder.text(text)
            let second = encoder.text(text)
            if parameters == takeover {
                #expect(second.count < first.count / 2, "the second copy refers back to the first")
            } else {
                #expect(second.count == first.count)
                // Each message inflates on its own, even by a fresh parser.
                #expect(parse(second, deflate: parameters) == Parsed(events: [.text(text)]))
            }
            let parser = WebSocketFrameParser(role: .server, deflate: parameters)
            #expect(parse(first + second, with: parser) == Parsed(events: [.text(text), .text(text)]))
        }
    }

    @Test("a local no-context-takeover policy resets even when the agreement allows takeover")
    func localNoTakeover() {
        let policy = PerMessageDeflateConfig(outgoingNoContextTakeover: true, minimumMessageBytes: 0)
        let encoder = WebSocketFrameEncoder(role: .server, deflate: takeover, compression: policy)
        #expect(encoder.text("Hello") == encoder.text("Hello"))
    }

    @Test("small windows compress and inflate", arguments: [9, 10, 12, 15])
    func windows(bits: Int) {
        let parameters = PerMessageDeflateParameters(serverMaxWindowBits: bits, clientMaxWindowBits: bits)
        let payload = (0..<50_000).map { UInt8(truncatingIfNeeded: $0 % 251 ^ $0 / 997) }
        let encoder = WebSocketFrameEncoder(role: .client, deflate: parameters, compression: compressAll)
        let parser = WebSocketFrameParser(role: .server, deflate: parameters)
        #expect(parse(encoder.binary(payload) + encoder.binary(payload), with: parser)
            == Parsed(events: [.binary(payload), .binary(payload)]))
    }
}
