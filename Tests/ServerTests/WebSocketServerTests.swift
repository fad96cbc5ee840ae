import Foundation
import RuntimeServer
import Testing

/// WebSockets end to end: an in-process server with the test app, and Python's `websockets` (or raw
/// frames from the Python driver) as the client.
@Suite("WebSockets over real sockets", .serialized, .timeLimit(.minutes(1)))
struct WebSocketServerTests {
    // MARK: Messages

    @Test("text and binary echo, empty and large, on the standard and the hibernatable API",
          arguments: ["/echo", "/room/echo?user=u&seat=1"])
    func echo(path: String) async throws {
        try await withWebSocketServer { _, driver in
            try await driver.call("connect", ["id": "a", "path": path])
            let large = String(repeating: "añ€😀", count: 20_000)
            let cases: [[String: Any]] = [
                ["hex": "00ff10ab"], ["hex": ""], ["hex": hex((0..<200_000).map { UInt8(truncatingIfNeeded: $0 &* 7) })],
                ["text": "hello"], ["text": ""], ["text": large],
            ]
            for message in cases {
                var send = message
                send["id"] = "a"
                try await driver.call("send", send)
                let received = try await driver.call("recv", ["id": "a"])
                if let text = message["text"] as? String {
                    #expect(received.string("text") == text, "sent \(text.prefix(40)), got \(received.description.prefix(200))")
                } else {
                    #expect(received.string("hex") == message["hex"] as? String,
                            "sent \(String(describing: message["hex"]).prefix(40)) got \(received.description.prefix(200))")
                }
            }
        }
    }

    @Test("fragmented messages are reassembled, with pings answered between the fragments")
    func fragments() async throws {
        try await withWebSocketServer { _, driver in
            // By the library: one message in several frames.
            try await driver.call("connect", ["id": "lib", "path": "/echo"])
            try await driver.call("send", ["id": "lib", "fragments": ["Hel", "lo, ", "wörld"]])
            #expect(try await driver.call("recv", ["id": "lib"]).string("text") == "Hello, wörld")
            try await driver.call("send", ["id": "lib", "hex_fragments": ["0102", "", "0304"]])
            #expect(try await driver.call("recv", ["id": "lib"]).string("hex") == "01020304")

            // By hand, with control frames inside the messages: the pongs come first (the message is not
            // whole before its last fragment), with the pings' payloads, then the whole message.
            try await driver.call("raw_open", ["id": "raw", "path": "/echo"])
            let messages: [(frames: [TestFrame], expected: [String])] = [
                ([.text("Hel", fin: false), .ping(Array("p1".utf8)), .continuation("lo, ", fin: false),
                  .ping(Array("p2".utf8)), .continuation("world")],
                 ["10:\(hex("p1"))", "10:\(hex("p2"))", "1:\(hex("Hello, world"))"]),
                ([.binary([1, 2], fin: false), .ping([0xFF]), .continuation(bytes: [], fin: false),
                  .continuation(bytes: [3])],
                 ["10:ff", "2:010203"]),
            ]
            for (frames, expected) in messages {
                try await driver.call("raw_send", ["id": "raw", "frames": frames.json])
                var received: [DriverReply] = []
                for _ in expected { received.append(try await driver.call("raw_recv", ["id": "raw"])) }
                let summary = received.map { "\($0.int("opcode") ?? -1):\($0.string("hex") ?? "")" }
                #expect(summary == expected)
                #expect(received.allSatisfy { $0.bool("fin") && !$0.bool("masked") })
            }
        }
    }

    @Test("a ping is answered with a pong carrying the same payload")
    func pingPong() async throws {
        try await withWebSocketServer { _, driver in
            for path in ["/echo", "/room/pings?user=u&seat=1"] {
                try await driver.call("raw_open", ["id": path, "path": path])
                for payload in [[], Array("hello".utf8), (0..<125).map { UInt8(255 - $0) }] as [[UInt8]] {
                    try await driver.call("raw_send", ["id": path, "frames": [TestFrame.ping(payload)].json])
                    let pong = try await driver.call("raw_recv", ["id": path])
                    #expect(pong.int("opcode") == 0xA, "\(path): \(pong)")
                    #expect(pong.bytes("hex") == payload, "\(path): pong payload \(pong)")
                }
                // The library's own ping/pong matching agrees.
                try await driver.call("connect", ["id": "lib" + path, "path": path])
                try await driver.call("ping", ["id": "lib" + path, "hex": hex("are you there")])
            }
        }
    }

    @Test("permessage-deflate is negotiated when offered and messages round-trip compressed")
    func deflate() async throws {
        try await withWebSocketServer { _, driver in
            for path in ["/echo", "/room/deflate?user=u&seat=1"] {
                let offered = try await driver.call("connect", ["id": path, "path": path, "compression": "deflate"])
                let extensions = offered.string("extensions") ?? ""
                #expect(extensions.contains("permessage-deflate"), "\(path): \(offered)")
                #expect(extensions.contains("server_no_context_takeover"), "the server compresses without takeover: \(extensions)")
                let text = String(repeating: "the same words again and again, ", count: 4000)
                let messages: [[String: Any]] = [["text": text], ["hex": hex(Array(text.utf8).reversed())], ["text": "short"],
                                                 ["text": text + "!"]]
                for message in messages {
                    var send = message
                    send["id"] = path
                    try await driver.call("send", send)
                    let received = try await driver.call("recv", ["id": path])
                    #expect((received.string("text") ?? received.string("hex")) == (message["text"] ?? message["hex"]) as? String,
                            "\(path): \(received.description.prefix(200))")
                }
            }
            let plain = try await driver.call("connect", ["id": "p", "path": "/echo"])
            #expect(plain.string("extensions") == nil, "nothing offered, nothing agreed: \(plain)")

            // On the wire: a compressed frame from us is understood, and the echo comes back compressed
            // (RSV1, smaller than the text), which Python's zlib inflates to the original.
            let opened = try await driver.call("raw_open", ["id": "raw", "path": "/echo",
                                                            "headers": ["Sec-WebSocket-Extensions": "permessage-deflate"]])
            #expect(opened.string("extensions")?.contains("permessage-deflate") == true, "\(opened)")
            let original = Array(String(repeating: "abcabcabd", count: 1000).utf8)
            try await driver.call("raw_send", ["id": "raw", "frames": [
                TestFrame(opcode: 1, payload: original, compress: true),
            ].json])
            let frame = try await driver.call("raw_recv", ["id": "raw"])
            #expect(frame.int("rsv") == 0b100, "the echo is not compressed: \(frame.description.prefix(300))")
            #expect((frame.int("length") ?? .max) < original.count / 4, "\(frame.description.prefix(300))")
            #expect(frame.bytes("inflated_hex") == original)
        }
    }

    @Test("with compression off, an offer is declined and messages still flow")
    func deflateOff() async throws {
        var options = WebSocketServerOptions()
        options.deflate = nil
        try await withWebSocketServer(options) { _, driver in
            let reply = try await driver.call("connect", ["id": "z", "path": "/echo", "compression": "deflate"])
            #expect(reply.string("extensions") == nil, "\(reply)")
            let text = String(repeating: "uncompressed ", count: 1000)
            try await driver.call("send", ["id": "z", "text": text])
            #expect(try await driver.call("recv", ["id": "z"]).string("text") == text)
        }
    }

    @Test("subprotocol: the app picks one the client offered and both ends see it; one not offered is dropped",
          arguments: ["/echo?", "/room/protocols?user=u&seat=1&"])
    func subprotocol(base: String) async throws {
        try await withWebSocketServer { _, driver in
            let chosen = try await driver.call("connect", ["id": "a", "path": base + "protocol=chat.v2",
                                                           "subprotocols": ["chat.v1", "chat.v2"]])
            #expect(chosen.string("subprotocol") == "chat.v2", "\(chosen)")
            #expect(chosen.header("Sec-WebSocket-Protocol") == "chat.v2")
            if base == "/echo?" {
                try await driver.call("send", ["id": "a", "text": "/subprotocol"])
                #expect(try await driver.call("recv", ["id": "a"]).string("text") == "chat.v2")
            }
            let unoffered = try await driver.call("connect", ["id": "b", "path": base + "protocol=other",
                                                              "subprotocols": ["chat.v1"]])
            #expect(unoffered.string("subprotocol") == nil, "\(unoffered)")
            #expect(unoffered.header("Sec-WebSocket-Protocol") == nil, "\(unoffered)")
        }
    }

    // MARK: The close handshake

    @Test("the client closes with 4000 \"bye\": the object's webSocketClose gets 4000, \"bye\", clean")
    func clientCloses() async throws {
        try await withWebSocketServer { server, driver in
            try await driver.call("connect", ["id": "a", "path": "/room/closing?user=a&seat=1"])
            #expect(await eventually { await server.server.objects.openWebSockets() == 1 })
            let answer = try await driver.call("close", ["id": "a", "code": 4000, "reason": "bye"])
            #expect(answer.int("code") == 4000 && answer.string("reason") == "bye", "the server's answer: \(answer)")
            let recorded = try await eventually { try await server.get("/room/closing/closes").text != "" }
            let closes = try await server.get("/room/closing/closes").text
            #expect(recorded && closes == "1 4000 true bye\n", "\(closes)")
            #expect(await eventually { await server.server.objects.openWebSockets() == 0 })
            #expect(await eventually { await server.server.openWebSockets() == 0 })

            // The same on the standard API.
            try await driver.call("connect", ["id": "s", "path": "/echo?tag=s"])
            let standard = try await driver.call("close", ["id": "s", "code": 4000, "reason": "bye"])
            #expect(standard.int("code") == 4000 && standard.string("reason") == "bye", "\(standard)")
            #expect(await eventually { server.log.lines("s") == ["4000 true bye"] }, "\(server.log.lines("s"))")
        }
    }

    @Test("a client that drops the TCP connection without a close frame is reported as 1006, unclean",
          arguments: [false, true])
    func clientDrops(reset: Bool) async throws {
        try await withWebSocketServer { server, driver in
            try await driver.call("raw_open", ["id": "a", "path": "/room/dropping?user=a&seat=2"])
            try await driver.call("raw_open", ["id": "s", "path": "/echo?tag=s"])
            #expect(await eventually { await server.server.openWebSockets() == 2 })
            try await driver.call("raw_drop", ["id": "a", "reset": reset])
            try await driver.call("raw_drop", ["id": "s", "reset": reset])
            let recorded = try await eventually { try await server.get("/room/dropping/closes").text != "" }
            let closes = try await server.get("/room/dropping/closes").text
            #expect(recorded && closes == "2 1006 false \n", "\(closes)")
            #expect(await eventually { server.log.lines("s") == ["1006 false "] }, "\(server.log.lines("s"))")
            #expect(await eventually { await server.server.openWebSockets() == 0 })
            #expect(await server.server.objects.openWebSockets() == 0)
        }
    }

    @Test("the app closes with 3001: the client gets 3001 and its reason, and the TCP connection ends",
          arguments: ["/echo?tag=app", "/room/appclose?user=a&seat=3"])
    func appCloses(path: String) async throws {
        try await withWebSocketServer { server, driver in
            try await driver.call("connect", ["id": "a", "path": path])
            try await driver.call("send", ["id": "a", "text": "/close 3001 done here"])
            let closed = try await driver.call("wait_closed", ["id": "a"])
            #expect(closed.int("code") == 3001 && closed.string("reason") == "done here", "\(closed)")
            #expect(closed.objects("messages").isEmpty)
            // By hand: the close frame arrives, we answer it, the server ends the connection.
            try await driver.call("raw_open", ["id": "raw", "path": path])
            try await driver.call("raw_send", ["id": "raw", "frames": [TestFrame.text("/close 3001 raw")].json])
            let frame = try await driver.call("raw_recv", ["id": "raw"])
            #expect(frame.int("opcode") == 8 && frame.int("code") == 3001 && frame.string("reason") == "raw", "\(frame)")
            try await driver.call("raw_send", ["id": "raw", "frames": [TestFrame.close(3001)].json])
            let ending = try await driver.call("raw_until_close", ["id": "raw", "timeout": 3])
            #expect(ending.bool("eof"), "the server did not end the TCP connection after the close handshake")
            #expect(await eventually { await server.server.openWebSockets() == 0 })
        }
    }

    // MARK: Shutdown

    @Test("graceful shutdown sends close 1001 to every open socket, hibernated ones included, and returns early")
    func shutdown() async throws {
        var options = WebSocketServerOptions()
        options.objectIdleTimeout = .milliseconds(200)
        // Far longer than the close handshakes take, so "returned early" means something on a slow machine.
        options.shutdownGrace = .seconds(20)
        try await withWebSocketServer(options) { server, driver in
            try await driver.call("connect_many", ["prefix": "e", "count": 3, "path": "/echo?tag=e{i}"])
            try await driver.call("connect_many", ["prefix": "r", "count": 3, "path": "/room/shutdown?user=u{i}&seat={i}"])
            #expect(await eventually { await server.server.openWebSockets() == 6 })
            #expect(await eventually { await server.server.objects.liveInstances() == 0 }, "the room did not hibernate")
            let started = ContinuousClock.now
            async let stopped: Void = server.stop()
            let closed = try await driver.call("wait_closed_many", ["ids": ["e0", "e1", "e2", "r0", "r1", "r2"],
                                                                    "timeout": 10])
            #expect(closed.ints("codes") == [1001, 1001, 1001, 1001, 1001, 1001], "\(closed)")
            #expect(closed.strings("reasons").allSatisfy { $0 == "server shutting down" }, "\(closed)")
            await stopped
            let took = ContinuousClock.now - started
            #expect(took < .seconds(12), "shutdown took \(took): it waited out the grace period instead of the closes")
            let refused = try await driver.attempt("connect", ["id": "late", "path": "/echo", "timeout": 2])
            #expect(!refused.ok, "connected after shutdown: \(refused)")
        }
    }

    // MARK: Loops

    @Test("with two loops, sockets whose object lives on the other loop work, frames sent with the upgrade too")
    func crossLoop() async throws {
        var options = WebSocketServerOptions()
        options.threads = 2
        try await withWebSocketServer(options) { server, driver in
            var crossing = 0
            var objectLoops: Set<String> = []
            var rooms = 0
            // Rooms until both loops own some and several sockets crossed loops (the kernel picks the
            // accepting loop, the object's id picks the other).
            while rooms < 64 && (crossing < 3 || objectLoops.count < 2 || rooms - crossing < 1) {
                let id = "c\(rooms)"
                try await driver.call("connect", ["id": id, "path": "/room/loop\(rooms)?user=u&seat=\(rooms)"])
                try await driver.call("send", ["id": id, "text": "/where"])
                let whereabouts = try await driver.call("recv", ["id": id]).string("text") ?? ""
                let parts = whereabouts.split(separator: " ").map { $0.split(separator: "=", maxSplits: 1).last.map(String.init) ?? "" }
                #expect(parts.count == 2 && !parts[0].isEmpty && !parts[1].isEmpty, "\(whereabouts)")
                guard parts.count == 2 else { break }
                objectLoops.insert(parts[0])
                if parts[0] != parts[1] { crossing += 1 }
                rooms += 1
            }
            #expect(objectLoops.count == 2, "every room landed on one loop: \(objectLoops)")
            #expect(crossing >= 3, "only \(crossing) of \(rooms) sockets crossed loops")
            let ids = (0..<rooms).map { "c\($0)" }
            // Every socket works both ways: a message per socket, and a second member per room hears a
            // broadcast from the first.
            let replies = try await driver.call("exchange_many", ["ids": ids, "text": "/whoami"])
            let seats = replies.strings("messages").map { $0.flatMap { try? JSONDecoder().decode(Seat.self, from: Data($0.utf8)) } }
            #expect(seats.map { $0?.seat } == (0..<rooms).map { $0 }, "\(replies)")
            try await driver.call("connect_many", ["prefix": "d", "count": rooms, "path": "/room/loop{i}?user=v&seat={i}"])
            for room in 0..<rooms { try await driver.call("send", ["id": "c\(room)", "text": "hi \(room)"]) }
            let first = try await driver.call("recv_many", ["prefix": "c", "count": rooms])
            let second = try await driver.call("recv_many", ["prefix": "d", "count": rooms])
            #expect(first.strings("messages") == (0..<rooms).map { "hi \($0)" }, "\(first)")
            #expect(second.strings("messages") == (0..<rooms).map { "hi \($0)" }, "\(second)")
            // Frames in the same write as the upgrade request reach the object, whichever loop it is on.
            for room in 0..<rooms {
                let opened = try await driver.call("raw_open", ["id": "e\(room)", "path": "/room/loop\(room)?user=w&seat=\(room)",
                                                                "frames": [TestFrame.binary([UInt8(room), 0xEE])].json])
                #expect(opened.int("status") == 101)
            }
            for room in 0..<rooms {
                let echoed = try await driver.call("raw_recv", ["id": "e\(room)"])
                #expect(echoed.int("opcode") == 2 && echoed.bytes("hex") == [UInt8(room), 0xEE], "room \(room): \(echoed)")
            }
            // And the close handshake, per room, reaches each object.
            for room in 0..<rooms {
                let answer = try await driver.call("close", ["id": "c\(room)", "code": 4000 + room, "reason": "r\(room)"])
                #expect(answer.int("code") == 4000 + room, "room \(room): \(answer)")
            }
            for room in 0..<rooms {
                let recorded = try await eventually { try await server.get("/room/loop\(room)/closes").text != "" }
                let closes = try await server.get("/room/loop\(room)/closes").text
                #expect(recorded && closes == "\(room) \(4000 + room) true r\(room)\n", "room \(room): \(closes)")
            }
            #expect(await eventually { await server.server.objects.openWebSockets() == 2 * rooms })
        }
    }
}
