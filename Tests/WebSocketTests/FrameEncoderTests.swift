import Testing

@testable import RuntimeWebSocket

/// The RFC 6455 §5.7 masking key, as the encoder's test hook takes it.
let rfcMaskKey = UInt32(0x37) | UInt32(0xFA) << 8 | UInt32(0x21) << 16 | UInt32(0x3D) << 24

@Suite("Frame encoder")
struct FrameEncoderTests {
    let server = WebSocketFrameEncoder(role: .server)
    let client = WebSocketFrameEncoder(role: .client, maskingKeys: { rfcMaskKey })

    @Test("RFC 6455 §5.7 examples")
    func rfcExamples() throws {
        #expect(server.text("Hello") == [0x81, 0x05, 0x48, 0x65, 0x6C, 0x6C, 0x6F])
        #expect(client.text("Hello") == [0x81, 0x85, 0x37, 0xFA, 0x21, 0x3D, 0x7F, 0x9F, 0x4D, 0x51, 0x58])
        let fragmented = WebSocketFrameEncoder(role: .server, maxFrameBytes: 3)
        #expect(fragmented.text("Hello") == [0x01, 0x03, 0x48, 0x65, 0x6C, 0x80, 0x02, 0x6C, 0x6F])
        #expect(try server.ping(hello) == [0x89, 0x05, 0x48, 0x65, 0x6C, 0x6C, 0x6F])
        #expect(try client.pong(hello) == [0x8A, 0x85, 0x37, 0xFA, 0x21, 0x3D, 0x7F, 0x9F, 0x4D, 0x51, 0x58])
        #expect(server.binary(binary256) == [0x82, 0x7E, 0x01, 0x00] + binary256)
        #expect(server.binary(binary64K) == [0x82, 0x7F, 0x00, 0x00, 0x00, 0x00, 0x00, 0x01, 0x00, 0x00] + binary64K)
    }

    @Test("lengths use the shortest form at every boundary", arguments: [0, 1, 125, 126, 127, 65_535, 65_536, 70_000])
    func lengthForms(count: Int) {
        let payload = [UInt8](repeating: 0xAB, count: count)
        let encoded = server.binary(payload)
        let headerBytes = count <= 125 ? 2 : count <= 65_535 ? 4 : 10
        #expect(encoded.count == headerBytes + count)
        #expect(Array(encoded.prefix(headerBytes)) == Array(frame(Op.binary, payload, mask: nil).prefix(headerBytes)))
        #expect(parse(encoded, role: .client) == Parsed(events: [.binary(payload)]))
    }

    @Test("close frames")
    func close() throws {
        #expect(try server.close(code: .normalClosure, reason: "bye") == [0x88, 0x05, 0x03, 0xE8, 0x62, 0x79, 0x65])
        #expect(try server.close(code: nil) == [0x88, 0x00])
        #expect(try server.close() == [0x88, 0x02, 0x03, 0xE8])
        let longest = String(repeating: "é", count: 61) + "a"
        #expect(try server.close(code: WebSocketCloseCode(4000), reason: longest).count == 2 + 125)
    }

    @Test("control frames the protocol forbids are refused")
    func badControlFrames() {
        #expect(throws: WebSocketEncodeError.controlPayloadTooLong(.ping, length: 126)) {
            try server.ping([UInt8](repeating: 0, count: 126))
        }
        #expect(throws: WebSocketEncodeError.controlPayloadTooLong(.pong, length: 200)) {
            try server.pong([UInt8](repeating: 0, count: 200))
        }
        #expect(throws: WebSocketEncodeError.closeReasonTooLong(bytes: 124)) {
            try server.close(reason: String(repeating: "x", count: 124))
        }
        for code: UInt16 in [999, 1004, 1005, 1006, 1015, 2000, 5000] {
            #expect(throws: WebSocketEncodeError.unsendableCloseCode(code)) {
                try server.close(code: WebSocketCloseCode(code))
            }
        }
        #expect(throws: WebSocketEncodeError.reasonWithoutCode) { try server.close(code: nil, reason: "why") }
    }

    @Test("a client masks every frame with a fresh random key")
    func randomMasks() {
        let random = WebSocketFrameEncoder(role: .client)
        var keys: Set<[UInt8]> = []
        for _ in 0..<200 {
            let encoded = random.text("Hello")
            #expect(encoded[1] & 0x80 != 0)
            keys.insert(Array(encoded[2..<6]))
            #expect(parse(encoded, role: .server) == Parsed(events: [.text("Hello")]))
        }
        // 200 draws of 32 random bits collide with probability below 1 in 200 000.
        #expect(keys.count >= 199)
    }

    @Test("fragmentation marks only the last frame FIN and the rest continuations")
    func fragmentation() {
        let encoder = WebSocketFrameEncoder(role: .client, maxFrameBytes: 4, maskingKeys: { rfcMaskKey })
        let encoded = encoder.binary(Array(0..<10))
        #expect(encoded == frame(Op.binary, [0, 1, 2, 3], fin: false) + frame(Op.continuation, [4, 5, 6, 7], fin: false)
            + frame(Op.continuation, [8, 9]))
        #expect(encoder.binary([]) == frame(Op.binary, []))
    }

    @Test("appending encodes several messages into one buffer")
    func appending() {
        var out: [UInt8] = []
        server.appendText("a", to: &out)
        [UInt8]([1, 2]).withUnsafeBytes { server.appendMessage(.binary, $0, to: &out) }
        #expect(out == [0x81, 0x01, 0x61, 0x82, 0x02, 0x01, 0x02])
    }
}
