import Testing

@testable import RuntimeWebSocket

/// One way a connection can be set up: which end sends, compression, fragmentation.
struct RoundTripSetup: Sendable, CustomTestStringConvertible {
    var sender: WebSocketRole
    var deflate: PerMessageDeflateParameters?
    var maxFrameBytes: Int?

    var receiver: WebSocketRole { sender == .server ? .client : .server }
    var testDescription: String {
        "\(sender) sends, \(deflate.map { $0.serverNoContextTakeover ? "deflate without takeover" : "deflate" } ?? "plain")"
            + (maxFrameBytes.map { ", frames of \($0)" } ?? "")
    }
}

let roundTripSetups: [RoundTripSetup] = [WebSocketRole.server, .client].flatMap { sender in
    [nil, takeover, noTakeover].flatMap { deflate in
        [nil, 7, 1000].map { RoundTripSetup(sender: sender, deflate: deflate, maxFrameBytes: $0) }
    }
}

@Suite("Round trips")
struct RoundTripTests {
    @Test("encoder to parser gives back every message and control frame", arguments: roundTripSetups, [Feed.whole, .threes])
    func roundTrip(setup: RoundTripSetup, feed: Feed) throws {
        let encoder = WebSocketFrameEncoder(role: setup.sender, deflate: setup.deflate, compression: compressAll,
                                            maxFrameBytes: setup.maxFrameBytes)
        let parser = WebSocketFrameParser(role: setup.receiver, deflate: setup.deflate)
        let repetitive = String(repeating: "Durable Objects hibernate; sockets stay. ", count: 300)
        let random = pseudoRandomBytes(20_000)
        var wire: [UInt8] = []
        var expected: [WebSocketEvent] = []
        for round in 0..<2 {
            wire += encoder.text("Hello")
            wire += encoder.text("")
            wire += encoder.binary([])
            wire += try encoder.ping([UInt8(round)])
            wire += encoder.text(repetitive)
            wire += try encoder.pong()
            wire += encoder.binary(random)
            wire += encoder.text("é€😀 across fragment boundaries")
            expected += [.text("Hello"), .text(""), .binary([]), .ping([UInt8(round)]), .text(repetitive), .pong([]),
                         .binary(random), .text("é€😀 across fragment boundaries")]
        }
        wire += try encoder.close(code: .goingAway, reason: "deploy")
        expected.append(.close(code: .goingAway, reason: "deploy"))
        #expect(parse(wire, with: parser, feed: feed) == Parsed(events: expected))
        #expect(parser.isClosed)
    }

    @Test("frames of one byte carry a compressed message")
    func oneByteFrames() {
        let encoder = WebSocketFrameEncoder(role: .client, deflate: takeover, compression: compressAll, maxFrameBytes: 1)
        let parser = WebSocketFrameParser(role: .server, deflate: takeover)
        let text = String(repeating: "tiny frames ", count: 50)
        #expect(parse(encoder.text(text) + encoder.text(text), with: parser, feed: .byteByByte)
            == Parsed(events: [.text(text), .text(text)]))
    }
}
