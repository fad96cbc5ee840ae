import Foundation
import RuntimeAPI
import Testing
#if canImport(Glibc)
import Glibc
#endif

/// Hibernatable WebSockets end to end: the object is evicted while its sockets stay open, the next message
/// re-creates it, the runtime answers the auto-response without waking it, and what a message wrote is
/// durable before its reply leaves (the output gate).
@Suite("WebSocket hibernation over real sockets", .serialized, .timeLimit(.minutes(1)))
struct HibernationTests {
    static let members = 100
    static let users = 10

    /// Evicts quickly; nothing else in these tests waits that long between events on purpose.
    static var hibernating: WebSocketServerOptions {
        var options = WebSocketServerOptions()
        options.objectIdleTimeout = .milliseconds(400)
        return options
    }

    @Test("100 sockets in a hibernated room: one message wakes it once and reaches all; attachments and tags survive")
    func hundredMembers() async throws {
        try await withWebSocketServer(Self.hibernating) { server, driver in
            let objects = server.server.objects
            try await driver.call("connect_many", ["prefix": "m", "count": Self.members, "users": Self.users,
                                                   "path": "/room/hibernation?user=user-{u}&seat={i}",
                                                   "compression": "deflate", "timeout": 8])
            #expect(await eventually { await objects.openWebSockets() == Self.members })
            #expect(await server.server.openWebSockets() == Self.members)

            #expect(await eventually { await objects.liveInstances() == 0 }, "the room was not evicted")
            #expect(await objects.openWebSockets() == Self.members, "eviction closed sockets")
            #expect(await server.server.openWebSockets() == Self.members)

            let created = await objects.instancesCreated()
            try await driver.call("send", ["id": "m7", "text": "hello, everyone"])
            let heard = try await driver.call("recv_many", ["prefix": "m", "count": Self.members])
            let missing = heard.strings("messages").enumerated().filter { $0.element != "hello, everyone" }.map(\.offset)
            #expect(missing.isEmpty, "members that did not get the message: \(missing)")
            #expect(await objects.instancesCreated() == created + 1, "one message must re-create the room exactly once")

            // Asleep again, every socket still knows who it is.
            #expect(await eventually { await objects.liveInstances() == 0 })
            let beforeWhoami = await objects.instancesCreated()
            let whoami = try await driver.call("exchange_many", ["prefix": "m", "count": Self.members, "text": "/whoami"])
            let seats = whoami.strings("messages").map { text in
                text.flatMap { try? JSONDecoder().decode(Seat.self, from: Data($0.utf8)) }
            }
            for (index, seat) in seats.enumerated() {
                #expect(seat?.user == "user-\(index % Self.users)" && seat?.seat == index && seat?.acceptedOn.isEmpty == false,
                        "socket \(index): attachment \(whoami.strings("messages")[index] ?? "none")")
            }
            #expect(await objects.instancesCreated() == beforeWhoami + 1,
                    "100 messages racing to wake the room must create one instance")

            // Asleep again, the re-created room finds its sockets by tag.
            #expect(await eventually { await objects.liveInstances() == 0 })
            try await driver.call("send", ["id": "m0", "text": "/tagged user-3"])
            let expected = stride(from: 3, to: Self.members, by: Self.users).map(String.init).joined(separator: ",")
            #expect(try await driver.call("recv", ["id": "m0"]).string("text") == expected)
            try await driver.call("send", ["id": "m25", "text": "/tags"])
            #expect(try await driver.call("recv", ["id": "m25"]).string("text") == "user-5")
            try await driver.call("send", ["id": "m99", "text": "/count"])
            #expect(try await driver.call("recv", ["id": "m99"]).string("text") == String(Self.members))

            // Leaving while it sleeps: every close reaches the room, which records it (re-created as needed).
            #expect(await eventually { await objects.liveInstances() == 0 })
            for index in 0..<10 { try await driver.call("close", ["id": "m\(index)", "code": 4000, "reason": "bye"]) }
            #expect(await eventually { await objects.openWebSockets() == Self.members - 10 })
            let recorded = try await eventually {
                try await server.get("/room/hibernation/closes").text.split(separator: "\n").count == 10
            }
            let closes = try await server.get("/room/hibernation/closes").text.split(separator: "\n").sorted()
            #expect(recorded && closes == (0..<10).map { "\($0) 4000 true bye" }.sorted(), "\(closes)")
            try await driver.call("send", ["id": "m99", "text": "/count"])
            #expect(try await driver.call("recv", ["id": "m99"]).string("text") == String(Self.members - 10))
        }
    }

    @Test("the auto-response answers a hibernated room without waking it; the timestamp shows after it wakes")
    func autoResponse() async throws {
        try await withWebSocketServer(Self.hibernating) { server, driver in
            let objects = server.server.objects
            try await driver.call("connect", ["id": "a", "path": "/room/auto?user=a&seat=1"])
            try await driver.call("connect", ["id": "b", "path": "/room/auto?user=b&seat=2"])
            #expect(await eventually { await objects.liveInstances() == 0 })
            let created = await objects.instancesCreated()
            var sent: Int64 = 0
            var answered: Int64 = 0
            for _ in 0..<3 {
                sent = WallClock.milliseconds()
                try await driver.call("send", ["id": "a", "text": "ping"])
                #expect(try await driver.call("recv", ["id": "a"]).string("text") == "pong")
                answered = WallClock.milliseconds()
            }
            try await driver.call("send", ["id": "b", "text": "ping"])
            #expect(try await driver.call("recv", ["id": "b"]).string("text") == "pong")
            #expect(await objects.liveInstances() == 0, "the auto-response woke the room")
            #expect(await objects.instancesCreated() == created, "the auto-response re-created the room")

            // Only the exact text is answered by the runtime; anything else wakes the room.
            try await driver.call("send", ["id": "a", "text": "/autots"])
            let stamp = Int64(try await driver.call("recv", ["id": "a"]).string("text") ?? "") ?? -1
            #expect(await objects.instancesCreated() == created + 1)
            #expect((sent...answered).contains(stamp), "timestamp \(stamp) is not within \(sent)...\(answered)")
            try await driver.call("send", ["id": "a", "text": "Ping"])
            #expect(try await driver.call("recv", ["id": "a"]).string("text") == "Ping", "Ping is not ping")
            #expect(try await driver.call("recv", ["id": "b"]).string("text") == "Ping")
        }
    }

    @Test("a write that fails at commit: its reply never leaves, the object is reset and its sockets close with 1011")
    func failedCommit() async throws {
        try await withWebSocketServer { server, driver in
            try await driver.call("connect", ["id": "a", "path": "/room/doomed?user=a&seat=1"])
            try await driver.call("connect", ["id": "b", "path": "/room/doomed?user=b&seat=2"])
            try await driver.call("send", ["id": "a", "text": "/remember before"])
            #expect(try await driver.call("recv", ["id": "a"]).string("text") == "remembered before")
            try await driver.call("send", ["id": "a", "text": "/doomed"])
            for id in ["a", "b"] {
                let closed = try await driver.call("wait_closed", ["id": id])
                #expect(closed.int("code") == 1011, "\(id): \(closed)")
                #expect(closed.objects("messages").isEmpty, "\(id): got \(closed.objects("messages")) before the close")
            }
            // What was durable before is still there; the failed write is not.
            #expect(try await server.get("/room/doomed/recall").text == "before")
            #expect(await eventually { await server.server.objects.openWebSockets() == 0 })
        }
    }

    @Test("shutdown's close handshakes reach webSocketClose, hibernated rooms included, and what it writes is kept")
    func closesAtShutdown() async throws {
        let directory = temporaryStateDirectory()
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let first = try WebSocketTestServer.start(Self.hibernating, directory: directory)
        let driver: WebSocketDriver
        do { driver = try await WebSocketDriver.start(port: first.port) } catch {
            await first.stop()
            throw error
        }
        do {
            try await driver.call("connect_many", ["prefix": "s", "count": 3,
                                                   "path": "/room/farewell?user=u&seat={i}&closedelay=100"])
            #expect(await eventually { await first.server.objects.liveInstances() == 0 })
            async let stopped: Void = first.stop()
            let closed = try await driver.call("wait_closed_many", ["prefix": "s", "count": 3, "timeout": 6])
            #expect(closed.ints("codes") == [1001, 1001, 1001], "\(closed)")
            await stopped
            let second = try WebSocketTestServer.start(WebSocketServerOptions(), directory: directory)
            let closes = try await second.get("/room/farewell/closes").text
            await driver.stop()
            await second.stop()
            let lines = closes.split(separator: "\n").sorted()
            #expect(lines == (0..<3).map { "\($0) 1001 true server shutting down" }, "recorded at shutdown: \(closes)")
        } catch {
            await driver.stop()
            await first.stop()
            throw error
        }
    }

    @Test("a reply sent after a storage write leaves after it: the value survives a restart on the same state")
    func outputGateAcrossRestart() async throws {
        let directory = temporaryStateDirectory()
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let first = try WebSocketTestServer.start(WebSocketServerOptions(), directory: directory)
        let driver: WebSocketDriver
        do { driver = try await WebSocketDriver.start(port: first.port) } catch {
            await first.stop()
            throw error
        }
        do {
            try await driver.call("connect", ["id": "a", "path": "/room/gate?user=a&seat=1"])
            // Pipelined: the reply to the write and the read behind it come back in order.
            try await driver.call("send", ["id": "a", "text": "/remember first value"])
            try await driver.call("send", ["id": "a", "text": "/recall"])
            #expect(try await driver.call("recv", ["id": "a"]).string("text") == "remembered first value")
            #expect(try await driver.call("recv", ["id": "a"]).string("text") == "first value")
            try await driver.call("send", ["id": "a", "text": "/remember kept value"])
            #expect(try await driver.call("recv", ["id": "a"]).string("text") == "remembered kept value")
            // Closed and recorded before the stop, so no webSocketClose is still running when the server
            // stops (see closesAtShutdown for what happens then).
            try await driver.call("close", ["id": "a", "code": 1000])
            #expect(try await eventually { try await first.get("/room/gate/closes").text != "" })
            await first.stop()

            let second = try WebSocketTestServer.start(WebSocketServerOptions(), directory: directory)
            let recalled = try await second.get("/room/gate/recall").text
            try await driver.call("connect", ["id": "b", "path": "/room/gate?user=b&seat=2", "port": Int(second.port)])
            try await driver.call("send", ["id": "b", "text": "/recall"])
            let overSocket = try await driver.call("recv", ["id": "b"]).string("text")
            await driver.stop()
            await second.stop()
            #expect(recalled == "kept value")
            #expect(overSocket == "kept value")
        } catch {
            await driver.stop()
            await first.stop()
            throw error
        }
    }

    @Test("the output gate against kill -9: a `remembered` reply from the built-in chat room means the write is durable")
    func outputGateAcrossKill() async throws {
        let directory = temporaryStateDirectory()
        defer { try? FileManager.default.removeItem(atPath: directory) }
        var process = try RuntimeProcess(stateDirectory: directory)
        let driver: WebSocketDriver
        do { driver = try await WebSocketDriver.start(port: process.port) } catch {
            process.stop()
            throw error
        }
        do {
            for round in 0..<3 {
                let port = Int(process.port)
                try await driver.call("connect", ["id": "w\(round)", "path": "/room/killed?user=a", "port": port])
                if round > 0 {
                    try await driver.call("send", ["id": "w\(round)", "text": "/recall"])
                    let recalled = try await driver.call("recv", ["id": "w\(round)"]).string("text")
                    #expect(recalled == "value \(round - 1)", "round \(round): the acknowledged write was lost")
                }
                try await driver.call("send", ["id": "w\(round)", "text": "/remember value \(round)"])
                #expect(try await driver.call("recv", ["id": "w\(round)"]).string("text") == "remembered")
                // The moment the reply is in, without a graceful anything.
                process.kill9()
                process = try RuntimeProcess(stateDirectory: directory)
            }
            try await driver.call("connect", ["id": "last", "path": "/room/killed?user=a", "port": Int(process.port)])
            try await driver.call("send", ["id": "last", "text": "/recall"])
            #expect(try await driver.call("recv", ["id": "last"]).string("text") == "value 2")
            await driver.stop()
            process.stop()
        } catch {
            await driver.stop()
            process.stop()
            throw error
        }
    }
}
