import Testing

/// Frames that break RFC 6455 (or RFC 7692), sent after a valid handshake over a raw socket, and the close
/// the server must answer with: its code in a close frame, then the end of the TCP connection. The frames
/// are built by the Python driver, since a conforming client library will not send them.
@Suite("WebSocket protocol errors over real sockets", .serialized, .timeLimit(.minutes(1)))
struct WebSocketProtocolErrorTests {
    /// Small, so "too big" needs few bytes.
    static let maxMessageBytes = 4096

    struct BadFrames: Sendable, CustomTestStringConvertible {
        let name: String
        let frames: [TestFrame]
        let code: Int
        /// Negotiate permessage-deflate first.
        var deflate = false
        var testDescription: String { name }
    }

    static let lengthHighBit: [UInt8] = [0x81, 0xFF, 0x80, 0, 0, 0, 0, 0, 0, 1, 0, 0, 0, 0]
    /// A binary frame announcing 1 GiB and carrying none of it: refused on its header alone.
    static let announcedGiB: [UInt8] = [0x82, 0xFF, 0, 0, 0, 0, 0x40, 0, 0, 0, 0, 0, 0, 0]

    static let cases: [BadFrames] = [
        BadFrames(name: "unmasked client frame", frames: [TestFrame(opcode: 1, payload: Array("hi".utf8), masked: false)],
                  code: 1002),
        BadFrames(name: "reserved data opcode 3", frames: [TestFrame(opcode: 3, payload: [1])], code: 1002),
        BadFrames(name: "reserved control opcode 0xB", frames: [TestFrame(opcode: 0xB)], code: 1002),
        BadFrames(name: "fragmented ping", frames: [.ping([1], fin: false)], code: 1002),
        BadFrames(name: "fragmented close", frames: [TestFrame(opcode: 8, payload: [3, 0xE8], fin: false)], code: 1002),
        BadFrames(name: "ping of 126 bytes", frames: [.ping([UInt8](repeating: 7, count: 126))], code: 1002),
        BadFrames(name: "close of 126 bytes", frames: [.close(1000, String(repeating: "r", count: 124))], code: 1002),
        BadFrames(name: "continuation without a start", frames: [.continuation("lost")], code: 1002),
        BadFrames(name: "text frame inside a fragmented message", frames: [.text("a", fin: false), .text("b")],
                  code: 1002),
        BadFrames(name: "RSV1 without an extension", frames: [TestFrame(opcode: 1, payload: [0x61], rsv: 0b100)],
                  code: 1002),
        BadFrames(name: "RSV2", frames: [TestFrame(opcode: 1, payload: [0x61], rsv: 0b010)], code: 1002),
        BadFrames(name: "RSV3", frames: [TestFrame(opcode: 2, payload: [0x61], rsv: 0b001)], code: 1002),
        BadFrames(name: "64-bit length with the high bit set", frames: [.raw(lengthHighBit)], code: 1002),
        BadFrames(name: "invalid UTF-8 text", frames: [.text(bytes: [0x61, 0xFF, 0x62])], code: 1007),
        BadFrames(name: "invalid UTF-8 split across fragments",
                  frames: [.text(bytes: [0x61, 0xE2, 0x82], fin: false), .continuation(bytes: [0x28])], code: 1007),
        BadFrames(name: "UTF-8 sequence cut off at the end of the message",
                  frames: [.text(bytes: [0x61, 0xE2], fin: false), .continuation(bytes: [0x82])], code: 1007),
        BadFrames(name: "overlong UTF-8 encoding", frames: [.text(bytes: [0xC0, 0xAF])], code: 1007),
        BadFrames(name: "UTF-16 surrogate in UTF-8", frames: [.text(bytes: [0xED, 0xA0, 0x80])], code: 1007),
        BadFrames(name: "close code 1005", frames: [.close(1005)], code: 1002),
        BadFrames(name: "close code 1006", frames: [.close(1006)], code: 1002),
        BadFrames(name: "close code 1015", frames: [.close(1015)], code: 1002),
        BadFrames(name: "close code 999", frames: [.close(999)], code: 1002),
        BadFrames(name: "close code 1004", frames: [.close(1004)], code: 1002),
        BadFrames(name: "close code 2999", frames: [.close(2999)], code: 1002),
        BadFrames(name: "close code 5000", frames: [.close(5000)], code: 1002),
        BadFrames(name: "close with a 1-byte payload", frames: [.close(payload: [3])], code: 1002),
        BadFrames(name: "close reason that is not UTF-8", frames: [.close(payload: [3, 0xE8, 0xFF])], code: 1007),
        BadFrames(name: "text over the limit",
                  frames: [.text(String(repeating: "x", count: maxMessageBytes + 1))], code: 1009),
        BadFrames(name: "fragments that add up to more than the limit",
                  frames: [.binary([UInt8](repeating: 1, count: 2000), fin: false),
                           .continuation(bytes: [UInt8](repeating: 2, count: 2000), fin: false),
                           .continuation(bytes: [UInt8](repeating: 3, count: 2000))], code: 1009),
        BadFrames(name: "a header announcing 1 GiB", frames: [.raw(announcedGiB)], code: 1009),
        BadFrames(name: "compressed message that inflates past the limit",
                  frames: [TestFrame(opcode: 1, payload: [0x61], compress: true, repeats: 1 << 20)],
                  code: 1009, deflate: true),
        BadFrames(name: "compressed data that does not inflate",
                  frames: [TestFrame(opcode: 2, payload: [0xFF, 0xFF, 0xFF, 0xFF], rsv: 0b100)], code: 1007,
                  deflate: true),
        BadFrames(name: "RSV1 on a continuation frame",
                  frames: [.text("a", fin: false), TestFrame(opcode: 0, payload: [0x62], rsv: 0b100)], code: 1002,
                  deflate: true),
        BadFrames(name: "RSV1 on a ping", frames: [TestFrame(opcode: 9, payload: [], rsv: 0b100)], code: 1002,
                  deflate: true),
    ]

    @Test("each broken frame gets its close code, then the TCP connection ends")
    func closeCodes() async throws {
        var options = WebSocketServerOptions()
        options.maxMessageBytes = Self.maxMessageBytes
        try await withWebSocketServer(options) { server, driver in
            for (index, bad) in Self.cases.enumerated() {
                let tag = "case\(index)"
                var headers: [String: Any] = [:]
                if bad.deflate { headers["Sec-WebSocket-Extensions"] = "permessage-deflate" }
                let opened = try await driver.call("raw_open", ["id": tag, "path": "/echo?tag=\(tag)", "headers": headers])
                #expect(opened.int("status") == 101, "\(bad.name): \(opened)")
                #expect((opened.string("extensions") != nil) == bad.deflate, "\(bad.name): \(opened)")
                try await driver.call("raw_send", ["id": tag, "frames": bad.frames.json])
                let ending = try await driver.call("raw_until_close", ["id": tag])
                let close = ending.object("close")
                #expect(close?.int("code") == bad.code, "\(bad.name): expected close \(bad.code), got \(ending)")
                #expect(close?.string("reason")?.isEmpty == false, "\(bad.name): the close frame gives no reason")
                #expect(ending.objects("frames").isEmpty, "\(bad.name): frames before the close: \(ending)")
                #expect(ending.bool("eof"), "\(bad.name): the server did not end the TCP connection")
                // The app's side hears of it as an unclean close with the same code.
                #expect(await eventually { server.log.lines(tag).count == 1 }, "\(bad.name): no close event")
                let event = server.log.lines(tag).first ?? ""
                #expect(event.hasPrefix("\(bad.code) false "), "\(bad.name): the app saw \(event)")
            }
            #expect(await eventually { await server.server.openWebSockets() == 0 })
        }
    }

    @Test("a message of exactly the limit passes, plain, fragmented and compressed")
    func atTheLimit() async throws {
        var options = WebSocketServerOptions()
        options.maxMessageBytes = Self.maxMessageBytes
        try await withWebSocketServer(options) { _, driver in
            let text = String(repeating: "y", count: Self.maxMessageBytes)
            let half = Self.maxMessageBytes / 2
            try await driver.call("raw_open", ["id": "a", "path": "/echo",
                                               "headers": ["Sec-WebSocket-Extensions": "permessage-deflate"]])
            try await driver.call("raw_send", ["id": "a", "frames": [
                TestFrame.text(text),
                .binary([UInt8](repeating: 1, count: half), fin: false),
                .continuation(bytes: [UInt8](repeating: 2, count: half)),
                TestFrame(opcode: 1, payload: Array(text.utf8), compress: true),
            ].json])
            for expected in [Array(text.utf8), [UInt8](repeating: 1, count: half) + [UInt8](repeating: 2, count: half),
                             Array(text.utf8)] {
                let frame = try await driver.call("raw_recv", ["id": "a"])
                let payload = frame.bytes("inflated_hex") ?? frame.bytes("hex")
                #expect(payload == expected, "\(frame.description.prefix(200))")
            }
        }
    }

    @Test("a protocol error on a hibernatable socket reaches webSocketError, then webSocketClose (unclean)")
    func hibernatableError() async throws {
        try await withWebSocketServer { server, driver in
            let opened = try await driver.call("raw_open", ["id": "bad", "path": "/room/errors?user=u&seat=7"])
            #expect(opened.int("status") == 101)
            try await driver.call("raw_send", ["id": "bad", "frames": [TestFrame(opcode: 3, payload: [1])].json])
            let ending = try await driver.call("raw_until_close", ["id": "bad"])
            #expect(ending.object("close")?.int("code") == 1002, "\(ending)")
            #expect(ending.bool("eof"))
            let closed = try await eventually { try await server.get("/room/errors/closes").text != "" }
            let closes = try await server.get("/room/errors/closes").text
            #expect(closed && closes == "7 1002 false reserved opcode 3\n", "closes: \(closes)")
            let errors = try await server.get("/room/errors/errors").text
            #expect(errors == "7 1002: reserved opcode 3\n", "errors: \(errors)")
            #expect(await eventually { await server.server.objects.openWebSockets() == 0 })
        }
    }

    @Test("valid edge cases are not errors: split UTF-8, empty close, close 1000 with a reason, 125-byte ping")
    func validEdges() async throws {
        try await withWebSocketServer { server, driver in
            try await driver.call("raw_open", ["id": "a", "path": "/echo?tag=a"])
            // "€" is E2 82 AC: split over three frames, with an empty continuation in between.
            try await driver.call("raw_send", ["id": "a", "frames": [
                .text(bytes: [0xE2], fin: false), .continuation(bytes: [], fin: false),
                .continuation(bytes: [0x82], fin: false), .continuation(bytes: [0xAC]),
            ].json])
            let euro = try await driver.call("raw_recv", ["id": "a"])
            #expect(euro.string("text") == "€", "\(euro)")
            let payload = (0..<125).map { UInt8($0) }
            try await driver.call("raw_send", ["id": "a", "frames": [TestFrame.ping(payload)].json])
            let pong = try await driver.call("raw_recv", ["id": "a"])
            #expect(pong.int("opcode") == 0xA && pong.bytes("hex") == payload, "\(pong)")
            try await driver.call("raw_send", ["id": "a", "frames": [TestFrame.text(""), TestFrame.binary([])].json])
            let emptyText = try await driver.call("raw_recv", ["id": "a"])
            let emptyBinary = try await driver.call("raw_recv", ["id": "a"])
            #expect(emptyText.int("opcode") == 1 && emptyText.int("length") == 0, "\(emptyText)")
            #expect(emptyBinary.int("opcode") == 2 && emptyBinary.int("length") == 0, "\(emptyBinary)")

            // A close frame without a code is answered with one without a code; the app sees 1005.
            try await driver.call("raw_send", ["id": "a", "frames": [TestFrame.close(payload: [])].json])
            let empty = try await driver.call("raw_until_close", ["id": "a"])
            #expect(empty.object("close")?.int("length") == 0, "\(empty)")
            #expect(empty.bool("eof"))
            #expect(await eventually { server.log.lines("a") == ["1005 true "] }, "\(server.log.lines("a"))")

            // Codes 3000-4999 and the registered 1000-1003, 1007-1014 are accepted and echoed.
            for (index, code) in [1000, 1001, 1003, 1007, 1011, 1014, 3000, 4999].enumerated() {
                let tag = "code\(index)"
                try await driver.call("raw_open", ["id": tag, "path": "/echo?tag=\(tag)"])
                try await driver.call("raw_send", ["id": tag, "frames": [TestFrame.close(code, "done")].json])
                let ending = try await driver.call("raw_until_close", ["id": tag])
                #expect(ending.object("close")?.int("code") == code, "\(code): \(ending)")
                #expect(ending.bool("eof"), "\(code): the server did not end the TCP connection")
                #expect(await eventually { server.log.lines(tag) == ["\(code) true done"] }, "\(code): \(server.log.lines(tag))")
            }
        }
    }
}
