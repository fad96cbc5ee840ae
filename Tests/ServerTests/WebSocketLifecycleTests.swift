import Foundation
import Testing

/// How a WebSocket connection lives and ends besides the close handshake: keep-alive pings, the close
/// timeout, the HTTP timers it leaves behind, clients that leave during the upgrade, apps that accept and
/// then fail, and what an object keeps in memory for a standard socket.
@Suite("WebSocket lifecycle over real sockets", .serialized, .timeLimit(.minutes(1)))
struct WebSocketLifecycleTests {
    @Test("keep-alive: a silent peer is pinged, then dropped as 1006; one that answers stays open")
    func keepAlive() async throws {
        var options = WebSocketServerOptions()
        options.timing = .init(pingInterval: .milliseconds(150), pongTimeout: .milliseconds(600),
                               closeTimeout: .seconds(5))
        try await withWebSocketServer(options) { server, driver in
            try await driver.call("connect", ["id": "lib", "path": "/echo?tag=lib"])
            try await driver.call("raw_open", ["id": "silent", "path": "/echo?tag=silent"])
            let ping = try await driver.call("raw_recv", ["id": "silent", "timeout": 3])
            #expect(ping.int("opcode") == 9, "expected the server's keep-alive ping: \(ping)")
            let ending = try await driver.call("raw_until_close", ["id": "silent", "timeout": 3])
            #expect(ending.bool("eof"), "a peer that never answers was not dropped: \(ending)")
            #expect(await eventually { server.log.lines("silent") == ["1006 false "] }, "\(server.log.lines("silent"))")
            // Meanwhile the library answered several pings and is still connected.
            try await driver.call("send", ["id": "lib", "text": "still here"])
            #expect(try await driver.call("recv", ["id": "lib"]).string("text") == "still here")
            #expect(server.log.lines("lib").isEmpty)
            #expect(await server.server.openWebSockets() == 1)
        }
    }

    @Test("a peer that never answers the server's close frame is cut after the close timeout, as 1006")
    func closeTimeout() async throws {
        var options = WebSocketServerOptions()
        options.timing = .init(closeTimeout: .milliseconds(300))
        try await withWebSocketServer(options) { server, driver in
            for path in ["/echo?tag=deaf", "/room/deaf?user=u&seat=5"] {
                try await driver.call("raw_open", ["id": path, "path": path])
                try await driver.call("raw_send", ["id": path, "frames": [TestFrame.text("/close 3001 hello?")].json])
                let ending = try await driver.call("raw_until_close", ["id": path, "timeout": 4])
                #expect(ending.object("close")?.int("code") == 3001, "\(path): \(ending)")
                #expect(ending.bool("eof"), "\(path): the server kept waiting for the close answer")
            }
            #expect(await eventually { server.log.lines("deaf") == ["1006 false "] }, "\(server.log.lines("deaf"))")
            let recorded = try await eventually { try await server.get("/room/deaf/closes").text != "" }
            let closes = try await server.get("/room/deaf/closes").text
            #expect(recorded && closes == "5 1006 false \n", "\(closes)")
        }
    }

    @Test("the HTTP idle and request timeouts do not apply to an upgraded connection")
    func httpTimeoutsEnd() async throws {
        var options = WebSocketServerOptions()
        options.httpIdleTimeout = .milliseconds(200)
        options.requestTimeout = .milliseconds(200)
        try await withWebSocketServer(options) { server, driver in
            try await driver.call("connect", ["id": "a", "path": "/echo"])
            try await driver.call("connect", ["id": "b", "path": "/room/timeouts?user=u&seat=1"])
            // The timeouts are live: an idle keep-alive HTTP connection is closed.
            let idle = try await driver.call("raw_http", ["request": "GET /hello HTTP/1.1\r\nHost: x\r\n\r\n",
                                                         "close_timeout": 3])
            #expect(idle.int("status") == 200 && idle.bool("closed"), "\(idle)")
            // Waiting out several of them (a lower bound: a slower machine only waits longer).
            try await Task.sleep(for: .milliseconds(800))
            for id in ["a", "b"] {
                try await driver.call("send", ["id": id, "hex": "0102"])
                #expect(try await driver.call("recv", ["id": id]).string("hex") == "0102", "\(id) was cut")
            }
            #expect(await server.server.openWebSockets() == 2)
        }
    }

    @Test("a client that leaves (FIN) while the app prepares the upgrade leaves nothing behind, on either loop")
    func finDuringUpgrade() async throws {
        try await leaveDuringUpgrade(reset: false)
    }

    @Test("a client that resets (RST) while the app prepares the upgrade leaves nothing behind, on either loop")
    func resetDuringUpgrade() async throws {
        try await leaveDuringUpgrade(reset: true)
    }

    func leaveDuringUpgrade(reset: Bool) async throws {
        var options = WebSocketServerOptions()
        options.threads = 2
        try await withWebSocketServer(options) { server, driver in
            // The app answers 100 ms after accepting: the client is gone by then, every time.
            let rounds = 8
            for round in 0..<rounds {
                for (kind, path) in [("room", "/room/gone\(round)?user=u&seat=\(round)&delay=100"),
                                     ("echo", "/echo?tag=gone\(round)&delay=100")] {
                    let id = "\(kind)\(round)"
                    try await driver.call("raw_open", ["id": id, "path": path, "wait": false])
                    try await driver.call("raw_drop", ["id": id, "reset": reset])
                }
            }
            let emptied = await eventually(.seconds(3)) { await server.server.objects.openWebSockets() == 0 }
            let left = await server.server.objects.openWebSockets()
            #expect(emptied, "\(left) hibernatable sockets of \(rounds) are still registered")
            // The standard sockets' apps hear the end (1006) and their event loops finish.
            let ended = await eventually(.seconds(3)) { (0..<rounds).allSatisfy { server.log.lines("gone\($0)").count == 1 } }
            let events = (0..<rounds).map { server.log.lines("gone\($0)") }
            #expect(ended && events.allSatisfy { $0 == ["1006 false "] }, "\(events)")
            #expect(await eventually { await server.server.openWebSockets() == 0 })
            #expect(await eventually { await server.server.openConnections() == 0 })
            // Each room takes new members and counts only them.
            try await driver.call("connect_many", ["prefix": "m", "count": rounds, "path": "/room/gone{i}?user=u&seat={i}"])
            let counts = try await driver.call("exchange_many", ["prefix": "m", "count": rounds, "text": "/count"])
            #expect(counts.strings("messages") == Array(repeating: "1", count: rounds), "\(counts)")
        }
    }

    @Test("a frame cut anywhere, its start sent with the upgrade request, is reassembled on either loop")
    func partialFrameBehindUpgrade() async throws {
        var options = WebSocketServerOptions()
        options.threads = 2
        try await withWebSocketServer(options) { _, driver in
            let payload: [UInt8] = Array("split frame".utf8)
            // Masked with a zero key, so the payload goes as it is.
            let frame: [UInt8] = [0x82, 0x80 | UInt8(payload.count), 0, 0, 0, 0] + payload
            for cut in [1, 2, 4, 6, 9] {
                for room in 0..<6 {
                    let id = "cut\(cut)-\(room)"
                    let opened = try await driver.call("raw_open", [
                        "id": id, "path": "/room/cut\(room)?user=u&seat=\(room)",
                        "frames": [TestFrame.raw(Array(frame[..<cut]))].json,
                    ])
                    #expect(opened.int("status") == 101)
                    try await driver.call("raw_send", ["id": id, "frames": [TestFrame.raw(Array(frame[cut...]))].json])
                    let echoed = try await driver.call("raw_recv", ["id": id])
                    #expect(echoed.int("opcode") == 2 && echoed.bytes("hex") == payload, "cut at \(cut), room \(room): \(echoed)")
                }
            }
        }
    }

    @Test("an object that accepts a socket and then fails the request leaves no socket behind")
    func acceptThenThrow() async throws {
        try await withWebSocketServer { server, driver in
            let objects = server.server.objects
            let opened = try await driver.call("raw_open", ["id": "x", "path": "/room/fickle/accept-then-throw"])
            #expect(opened.int("status") == 400)
            try await driver.call("connect", ["id": "member", "path": "/room/fickle?user=u&seat=1"])
            try await driver.call("send", ["id": "member", "text": "/count"])
            let count = try await driver.call("recv", ["id": "member"]).string("text")
            #expect(count == "1", "getWebSockets() still lists the socket of the failed request: \(count ?? "none")")
            try await driver.call("send", ["id": "member", "text": "/tagged doomed"])
            let doomed = try await driver.call("recv", ["id": "member"]).string("text")
            #expect(doomed == "", "getWebSockets(tag:) still lists the socket of the failed request: \(doomed ?? "none")")
            let registered = await objects.openWebSockets()
            #expect(registered == 1, "\(registered) hibernatable sockets registered")
        }
    }

    @Test("a worker that accepts a standard socket and then fails the request: the events end, shutdown is not held up")
    func workerAcceptThenThrow() async throws {
        var options = WebSocketServerOptions()
        options.shutdownGrace = .seconds(15)
        try await withWebSocketServer(options) { server, driver in
            let opened = try await driver.call("raw_open", ["id": "x", "path": "/echo-then-throw"])
            #expect(opened.int("status") == 400)
            let ended = await eventually(.seconds(2)) { server.log.lines("thrown").count == 1 }
            #expect(ended, "the socket's events never ended: \(server.log.lines("thrown"))")
            let started = ContinuousClock.now
            await server.stop()
            let took = ContinuousClock.now - started
            #expect(took < .seconds(10), "shutdown took \(took) of its 15 s grace")
        }
    }

    @Test("a standard socket accepted inside an object keeps it in memory until the socket closes")
    func standardSocketInObject() async throws {
        var options = WebSocketServerOptions()
        options.objectIdleTimeout = .milliseconds(200)
        try await withWebSocketServer(options) { server, driver in
            let objects = server.server.objects
            try await driver.call("connect", ["id": "s", "path": "/room/standard/standard"])
            let instance = try await server.get("/room/standard/instance").text
            // Long past the idle timeout (a lower bound), the instance is the same and the socket echoes.
            try await Task.sleep(for: .milliseconds(700))
            #expect(await objects.liveInstances() == 1, "the object was evicted while its standard socket was open")
            #expect(try await server.get("/room/standard/instance").text == instance)
            try await driver.call("send", ["id": "s", "text": "through the instance"])
            #expect(try await driver.call("recv", ["id": "s"]).string("text") == "through the instance")
            #expect(await objects.openWebSockets() == 0, "a standard socket is not hibernatable")
            let answer = try await driver.call("close", ["id": "s", "code": 1000])
            #expect(answer.int("code") == 1000)
            #expect(await eventually { await objects.liveInstances() == 0 }, "the object stayed in memory after its socket closed")
        }
    }
}
