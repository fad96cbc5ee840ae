import Foundation
import RuntimeAPI
import RuntimeIO
import RuntimeWebSocket
import Synchronization
import Testing

/// `runtime deploy` against a real `runtime serve` process: hot swaps under traffic with hibernated
/// WebSockets, rollback, refused deploys, secrets, and isolation between apps.
@Suite("Deploy", .serialized, .timeLimit(.minutes(5)))
struct DeployTests {
    @Test("v1 under traffic with 100 hibernated sockets, then v2: no request fails, the sockets stay, and the next message runs v2; then rollback")
    func hotSwap() async throws {
        let world = try DeployWorld()
        defer { world.stop() }
        try world.writeApp(name: "versioned", version: "v1")
        try world.deploy("versioned").expectSuccess()
        #expect(try world.get("/versioned/v") == "v1")

        // 100 sockets in one room, then let the room hibernate.
        let client = try TestWebSocketClient()
        defer { client.stop() }
        var sockets: [WebSocket] = []
        for index in 0..<100 {
            sockets.append(try await client.connect("ws://127.0.0.1:\(world.port)/versioned/room?user=u\(index)"))
        }
        var first = sockets[0].events.makeAsyncIterator()
        sockets[0].send("hello")
        #expect(await first.next() == .message(.text("v1:hello")))
        try await world.waitUntilEvicted(sockets: 100)

        // Traffic through the deploy.
        let traffic = TrafficLoop(port: world.port, path: "/versioned/v")
        traffic.start()
        try await Task.sleep(for: .milliseconds(300))
        try world.writeApp(name: "versioned", version: "v2")
        let deployed = try world.deploy("versioned")
        deployed.expectSuccess()
        try await Task.sleep(for: .milliseconds(300))
        let counts = traffic.stop()
        #expect(counts.failed == 0, "requests failed during the deploy: \(counts.failures.prefix(5))")
        #expect(counts.seen.contains("v1") && counts.seen.contains("v2"), "\(counts.seen)")
        #expect(try world.get("/versioned/v") == "v2")

        // Every socket is still open and now talks to v2.
        for (index, socket) in sockets.enumerated() {
            #expect(socket.readyState == .open, "socket \(index) closed by the deploy")
        }
        var events = sockets.map { $0.events.makeAsyncIterator() }
        for index in stride(from: 0, to: 100, by: 9) {
            sockets[index].send("/whoami")
            #expect(await events[index].next() == .message(.text("v2:u\(index)")))
        }

        // Rollback: the previous version serves again.
        let rolledBack = try world.run(["rollback", "versioned"])
        #expect(rolledBack.status == 0, "\(rolledBack.output)")
        #expect(try world.get("/versioned/v") == "v1")
        sockets[5].send("/whoami")
        #expect(await events[5].next() == .message(.text("v1:u5")))
        let versions = try world.run(["versions", "versioned"])
        #expect(versions.output.contains("* 1"), "\(versions.output)")
        #expect(versions.output.contains("  2"), "\(versions.output)")
    }

    @Test("a broken manifest, code that does not compile and a missing class are refused with clear errors while v1 serves")
    func refusedDeploys() async throws {
        let world = try DeployWorld()
        defer { world.stop() }
        try world.writeApp(name: "versioned", version: "v1")
        try world.deploy("versioned").expectSuccess()

        let folder = world.appFolder("versioned")
        let good = try String(contentsOfFile: folder + "/app.jsonc", encoding: .utf8)
        try good.replacingOccurrences(of: "\"routes\"", with: "\"rutes\"").write(toFile: folder + "/app.jsonc", atomically: true, encoding: .utf8)
        let badManifest = try world.deploy("versioned")
        #expect(badManifest.status != 0)
        #expect(badManifest.output.contains("unknown field \"rutes\""), "\(badManifest.output)")

        try good.write(toFile: folder + "/app.jsonc", atomically: true, encoding: .utf8)
        try "let x: Int = \"not an int\"\n".write(toFile: folder + "/Broken.swift", atomically: true, encoding: .utf8)
        let badCode = try world.deploy("versioned")
        #expect(badCode.status != 0)
        #expect(badCode.output.contains("does not compile"), "\(badCode.output)")
        #expect(badCode.output.contains("Broken.swift"), "\(badCode.output)")
        try FileManager.default.removeItem(atPath: folder + "/Broken.swift")

        try good.replacingOccurrences(of: "\"class_name\": \"VersionedRoom\"", with: "\"class_name\": \"NoSuchRoom\"")
            .write(toFile: folder + "/app.jsonc", atomically: true, encoding: .utf8)
        let missingClass = try world.deploy("versioned")
        #expect(missingClass.status != 0)
        #expect(missingClass.output.contains("NoSuchRoom"), "\(missingClass.output)")

        #expect(try world.get("/versioned/v") == "v1")
        let versions = try world.run(["versions", "versioned"])
        #expect(versions.output.split(separator: "\n").count == 1, "refused versions must not be listed: \(versions.output)")

        // A module that compiled but does not load (damaged on disk): activating it is refused.
        let v1 = world.state + "/apps/versioned/versions/1"
        let damaged = world.state + "/apps/versioned/versions/9"
        try FileManager.default.copyItem(atPath: v1, toPath: damaged)
        let info = try String(contentsOfFile: damaged + "/version.json", encoding: .utf8)
        try info.replacingOccurrences(of: "\"number\" : 1", with: "\"number\" : 9")
            .write(toFile: damaged + "/version.json", atomically: true, encoding: .utf8)
        try Data("not an ELF file".utf8).write(to: URL(fileURLWithPath: damaged + "/app.so"))
        let unloadable = try world.run(["rollback", "versioned", "9"])
        #expect(unloadable.status != 0)
        #expect(unloadable.output.contains("cannot load"), "\(unloadable.output)")
        #expect(try world.get("/versioned/v") == "v1")
    }

    @Test("--if-changed skips an unchanged app; --var changes make a new version whose env has them")
    func ifChangedAndVars() async throws {
        let world = try DeployWorld()
        defer { world.stop() }
        try world.writeApp(name: "versioned", version: "v1")
        try world.deploy("versioned").expectSuccess()
        let same = try world.run(["deploy", world.appFolder("versioned"), "--debug", "--if-changed"])
        same.expectSuccess()
        #expect(same.output.contains("version 1 is up to date"), "\(same.output)")
        let withVar = try world.run(["deploy", world.appFolder("versioned"), "--debug", "--if-changed", "--var", "GREETING=hej"])
        withVar.expectSuccess()
        #expect(withVar.output.contains("deployed versioned version 2"), "\(withVar.output)")
        #expect(try world.get("/versioned/var") == "hej")
        let bad = try world.run(["deploy", world.appFolder("versioned"), "--debug", "--var", "API_KEY=x"])
        #expect(bad.status != 0 && bad.output.contains("used more than once"), "\(bad.output)")
        let malformed = try world.run(["deploy", world.appFolder("versioned"), "--debug", "--var", "novalue"])
        #expect(malformed.status != 0 && malformed.output.contains("expected NAME=VALUE"), "\(malformed.output)")
    }

    @Test("secrets reach the app but never the logs, `versions`, `secret list` output or errors")
    func secretsStaySecret() async throws {
        let world = try DeployWorld()
        defer { world.stop() }
        try world.writeApp(name: "versioned", version: "v1")
        try world.deploy("versioned").expectSuccess()
        let value = "s3cr3t-\(UUID().uuidString)"
        #expect(try world.get("/versioned/secret") == "absent")
        let put = try world.run(["secret", "put", "versioned", "API_KEY"], input: value)
        #expect(put.status == 0, "\(put.output)")
        #expect(try world.get("/versioned/secret") == "length \(value.count)")
        let list = try world.run(["secret", "list", "versioned"])
        #expect(list.output.contains("API_KEY"))
        // Errors about the app, a redeploy, versions: none may carry the value.
        try world.writeApp(name: "versioned", version: "v2")
        let outputs = [put.output, list.output, try world.deploy("versioned").output, try world.run(["versions", "versioned"]).output,
                       try world.run(["secret", "delete", "versioned", "NOPE"]).output]
        for output in outputs { #expect(!output.contains(value)) }
        #expect(!world.serverLog().contains(value), "the value reached the runtime's log")
        let stored = try FileManager.default.contentsOfDirectory(atPath: world.state + "/apps/versioned")
        for file in stored {
            let data = FileManager.default.contents(atPath: world.state + "/apps/versioned/" + file) ?? Data()
            #expect(!String(decoding: data, as: UTF8.self).contains(value), "\(file) holds the value in the clear")
        }
        #expect(try world.get("/versioned/secret") == "length \(value.count)")
        #expect(try world.run(["secret", "delete", "versioned", "API_KEY"]).status == 0)
        #expect(try world.get("/versioned/secret") == "absent")
    }

    @Test("two apps binding the same names get separate storage")
    func isolation() async throws {
        let world = try DeployWorld()
        defer { world.stop() }
        try world.writeApp(name: "alpha", version: "v1")
        try world.writeApp(name: "beta", version: "v1")
        try world.deploy("alpha").expectSuccess()
        try world.deploy("beta").expectSuccess()
        #expect(try world.get("/alpha/count") == "1")
        #expect(try world.get("/alpha/count") == "2")
        #expect(try world.get("/beta/count") == "1")
        #expect(try world.get("/alpha/kv?set=mine") == "mine")
        #expect(try world.get("/beta/kv") == "")
        #expect(try world.get("/alpha/db") == "1")
        #expect(try world.get("/beta/db") == "1")
        #expect(try world.get("/alpha/db") == "2")
        // Each app's files live under its own folder.
        #expect(FileManager.default.fileExists(atPath: world.state + "/apps/alpha/objects/COUNTER"))
        #expect(FileManager.default.fileExists(atPath: world.state + "/apps/beta/objects/COUNTER"))
    }

    @Test("the admin stats count an app's storage commits and the fdatasyncs they waited for")
    func storageStats() async throws {
        let world = try DeployWorld()
        defer { world.stop() }
        let unknown = try world.stats("nothing-here")
        #expect((unknown["error"] as? String)?.contains("no app named nothing-here") == true)
        let before = try #require(world.stats("builtin")["storage"] as? [String: Int])
        #expect(before == ["commits": 0, "journaledCommits": 0, "fdatasyncs": 0, "fileReopens": 0,
                           "checkpoints": 0, "checkpointMicroseconds": 0])

        // One connection, one increment at a time: each is its own turn, so its own commit, and its
        // response waits until a sync has made it durable.
        let client = try RawClient(port: world.port)
        for expected in 1...20 {
            try client.send("POST /counter/stats/increment HTTP/1.1\r\nHost: x\r\nContent-Length: 0\r\n\r\n")
            let response = try client.readResponse()
            #expect(response.status == 200 && response.text == "\(expected)\n")
        }
        let after = try #require(world.stats("builtin")["storage"] as? [String: Int])
        #expect(after["commits"] == 20)
        // The new database's first commit syncs its own WAL, file and directory; the journal carries
        // the other nineteen.
        #expect(after["journaledCommits"] == 19)
        #expect((after["fdatasyncs"] ?? 0) >= 20)
        // One object's two files stay in the descriptor pool: nothing had to be reopened.
        #expect(after["fileReopens"] == 0)
    }

    @Test("--max-live-objects caps the objects in memory (at least 64 per loop); the ones dropped keep their storage; a bad cap is refused")
    func liveObjectCap() async throws {
        // A long idle timeout, so only the cap can drop objects during the test.
        let world = try DeployWorld(objectIdleTimeout: "10m", serveArguments: ["--max-live-objects", "1"])
        defer { world.stop() }
        let client = try RawClient(port: world.port)
        let objects = 300
        for index in 0..<objects {
            try client.send("POST /counter/cap-\(index)/increment HTTP/1.1\r\nHost: x\r\nContent-Length: 0\r\n\r\n")
            let response = try client.readResponse()
            #expect(response.status == 200 && response.text == "1\n", "object \(index): \(response.status)")
        }
        let stats = try world.stats("builtin")
        // Two loops, each at its floor of 64; over it a loop drops a sixteenth of its cap at once.
        let live = try #require(stats["liveObjects"] as? Int)
        #expect(live <= 2 * 64 && live > 64, "objects in memory: \(live) of \(objects) (a floor of 64 per loop)")
        #expect(stats["objectsCreated"] as? Int == objects)
        // The first objects were dropped long ago; their counters are intact and go on.
        for index in [0, 1, 2, objects / 2] {
            try client.send("POST /counter/cap-\(index)/increment HTTP/1.1\r\nHost: x\r\nContent-Length: 0\r\n\r\n")
            let response = try client.readResponse()
            #expect(response.status == 200 && response.text == "2\n", "object \(index) after its eviction: \(response.text)")
        }

        // Refused before serving: on a state directory of its own, and stopped if it did serve.
        let elsewhere = NSTemporaryDirectory() + "cap-refusal-" + UUID().uuidString
        defer { try? FileManager.default.removeItem(atPath: elsewhere) }
        for bad in ["0", "1000001"] {
            let child = Process()
            child.executableURL = URL(fileURLWithPath: world.binary)
            child.arguments = ["serve", "--listen", "127.0.0.1:0", "--state-dir", elsewhere, "--max-live-objects", bad]
            let output = Pipe()
            child.standardOutput = output
            child.standardError = output
            try child.run()
            let deadline = ContinuousClock.now + .seconds(20)
            while child.isRunning, ContinuousClock.now < deadline { try await Task.sleep(for: .milliseconds(50)) }
            if child.isRunning {
                child.terminate()
                Issue.record("serve --max-live-objects \(bad) started serving")
            }
            child.waitUntilExit()
            let text = String(decoding: output.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
            #expect(child.terminationStatus != 0 && text.contains("--max-live-objects must be between 1 and 1000000"), "\(bad): \(text)")
        }
    }
}

// MARK: - Fixtures

/// A `runtime serve` child process on a fresh state directory, and app folders to deploy into it.
final class DeployWorld: @unchecked Sendable {
    let state: String
    let apps: String
    let process = Process()
    let port: UInt16
    let logPath: String
    let binary: String

    /// `serveArguments` go after the defaults (a later value of an option wins).
    init(objectIdleTimeout: String = "1s", serveArguments: [String] = []) throws {
        let root = NSTemporaryDirectory() + "deploy-test-" + UUID().uuidString
        state = root + "/state"
        apps = root + "/apps"
        logPath = root + "/runtime.log"
        try FileManager.default.createDirectory(atPath: apps, withIntermediateDirectories: true)
        binary = try RuntimeBinary.path()
        process.executableURL = URL(fileURLWithPath: binary)
        process.arguments = ["serve", "--listen", "127.0.0.1:0", "--threads", "2", "--state-dir", state, "--no-access-log",
                             "--object-idle-timeout", objectIdleTimeout] + serveArguments
        let output = Pipe()
        process.standardOutput = output
        FileManager.default.createFile(atPath: logPath, contents: nil)
        process.standardError = try FileHandle(forWritingTo: URL(fileURLWithPath: logPath))
        try process.run()
        port = try RuntimeBinary.waitForListening(output)
        // Keep draining stdout so the child never blocks on a full pipe.
        Thread.detachNewThread { while !output.fileHandleForReading.availableData.isEmpty {} }
    }

    func stop() {
        if process.isRunning {
            process.terminate()
            process.waitUntilExit()
        }
        try? FileManager.default.removeItem(atPath: (state as NSString).deletingLastPathComponent)
    }

    func appFolder(_ name: String) -> String { apps + "/" + name }

    /// Writes the test app `name` answering at `/<name>/...`, its replies marked with `version`.
    func writeApp(name: String, version: String) throws {
        let folder = appFolder(name)
        try FileManager.default.createDirectory(atPath: folder, withIntermediateDirectories: true)
        let manifest = """
            {
              "name": "\(name)",
              "main": "VersionedWorker",
              "routes": ["/\(name)/*"],
              "secrets": ["API_KEY"],
              "durable_objects": [
                { "binding": "COUNTER", "class_name": "VersionedCounter" },
                { "binding": "ROOM", "class_name": "VersionedRoom" }
              ],
              "sql_databases": [{ "binding": "DB" }],
              "kv_namespaces": [{ "binding": "CACHE" }]
            }
            """
        try manifest.write(toFile: folder + "/app.jsonc", atomically: true, encoding: .utf8)
        try DeployFixtureSource.text(prefix: "/\(name)", version: version)
            .write(toFile: folder + "/Versioned.swift", atomically: true, encoding: .utf8)
    }

    struct Run {
        let status: Int32
        let output: String
        func expectSuccess(sourceLocation: SourceLocation = #_sourceLocation) {
            #expect(status == 0, "\(output)", sourceLocation: sourceLocation)
        }
    }

    func deploy(_ name: String) throws -> Run { try run(["deploy", appFolder(name), "--debug"]) }

    /// Runs `runtime <arguments> --state-dir <state>`, with `input` on standard input.
    func run(_ arguments: [String], input: String? = nil) throws -> Run {
        let child = Process()
        child.executableURL = URL(fileURLWithPath: binary)
        child.arguments = arguments + ["--state-dir", state]
        let output = Pipe()
        child.standardOutput = output
        child.standardError = output
        let stdin = Pipe()
        child.standardInput = stdin
        try child.run()
        if let input { stdin.fileHandleForWriting.write(Data(input.utf8)) }
        try stdin.fileHandleForWriting.close()
        let data = output.fileHandleForReading.readDataToEndOfFile()
        child.waitUntilExit()
        return Run(status: child.terminationStatus, output: String(decoding: data, as: UTF8.self))
    }

    func get(_ path: String) throws -> String {
        let response = try RawClient.get(path, port: port)
        return response.text.trimmingCharacters(in: .whitespacesAndNewlines)
    }

    func serverLog() -> String { (try? String(contentsOfFile: logPath, encoding: .utf8)) ?? "" }

    /// The admin API's stats of an app (objects in memory, sockets open).
    func stats(_ app: String) throws -> [String: Any] {
        let info = try JSONSerialization.jsonObject(with: Data(contentsOf: URL(fileURLWithPath: state + "/admin.json"))) as? [String: Any]
        let token = try String(contentsOfFile: state + "/admin.token", encoding: .utf8)
        guard let url = info?["url"] as? String, let adminPort = UInt16(url.split(separator: ":").last ?? "") else {
            throw RawClient.ClientError.malformed("no admin url")
        }
        let client = try RawClient(port: adminPort)
        try client.send("GET /v1/apps/\(app)/stats HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer \(token)\r\n\r\n")
        let response = try client.readResponse()
        return (try JSONSerialization.jsonObject(with: Data(response.body)) as? [String: Any]) ?? [:]
    }

    /// Waits until none of the app's objects is in memory while `sockets` stay open (hibernation).
    func waitUntilEvicted(_ app: String = "versioned", sockets: Int) async throws {
        let deadline = ContinuousClock.now + .seconds(20)
        var last: [String: Any] = [:]
        while ContinuousClock.now < deadline {
            last = try stats(app)
            if last["liveObjects"] as? Int == 0, last["webSockets"] as? Int == sockets { return }
            try await Task.sleep(for: .milliseconds(100))
        }
        Issue.record("the app never hibernated with \(sockets) sockets open: \(last)")
    }
}

/// The test app's source, with its routes under `prefix` and its replies marked with `version`.
enum DeployFixtureSource {
    static func text(prefix: String, version: String) -> String {
        """
        import RuntimeAPI

        struct VersionedWorker: Worker {
            func fetch(_ request: Request, env: Env, ctx: ExecutionContext) async throws -> Response {
                let path = String(request.url.path.dropFirst("\(prefix)".count))
                switch path {
                case "/v":
                    return Response(text: "\(version)")
                case "/var":
                    return Response(text: env.vars["GREETING"] ?? "unset")
                case "/count":
                    let next = try await env.namespace("COUNTER").get(name: "c").run(as: VersionedCounter.self) { try $0.bump() }
                    return Response(text: String(next))
                case "/secret":
                    return Response(text: env.secrets["API_KEY"].map { "length \\($0.count)" } ?? "absent")
                case "/kv":
                    let kv = try env.keyValue("CACHE")
                    if let value = request.url.queryValue("set") { try await kv.put("k", string: value) }
                    return Response(text: try await kv.getString("k") ?? "")
                case "/db":
                    let db = try env.database("DB")
                    _ = try await db.exec("CREATE TABLE IF NOT EXISTS t (x INTEGER PRIMARY KEY)")
                    _ = try await db.exec("INSERT INTO t DEFAULT VALUES")
                    let count = try await db.exec("SELECT count(*) FROM t").rows[0].values[0].int ?? -1
                    return Response(text: String(count))
                case "/room":
                    return try await env.namespace("ROOM").get(name: "r").fetch(request)
                default:
                    throw HTTPError(404, "no route \\(path)")
                }
            }
        }

        actor VersionedCounter: DurableObject {
            let state: DurableObjectState
            nonisolated var unownedExecutor: UnownedSerialExecutor { state.executor }
            init(state: DurableObjectState, env: Env) { self.state = state }
            func bump() throws -> Int {
                let next = (try state.storage.getInt("n") ?? 0) + 1
                try state.storage.put("n", int: next)
                return next
            }
        }

        actor VersionedRoom: DurableObject {
            let state: DurableObjectState
            nonisolated var unownedExecutor: UnownedSerialExecutor { state.executor }
            init(state: DurableObjectState, env: Env) { self.state = state }
            func fetch(_ request: Request) async throws -> Response {
                let pair = WebSocketPair()
                let user = request.url.queryValue("user") ?? "?"
                try state.acceptWebSocket(pair.server, tags: [user])
                try pair.server.serializeAttachment(user)
                return Response(webSocket: pair.client)
            }
            func webSocketMessage(_ socket: WebSocket, _ message: WebSocketMessage) async throws {
                guard case .text(let text) = message else { return }
                socket.send("\(version):" + (text == "/whoami" ? (socket.deserializeAttachmentString() ?? "") : text))
            }
        }

        """
    }
}

/// A WebSocket client on loops of its own (our client; the protocol itself is tested elsewhere).
final class TestWebSocketClient: @unchecked Sendable {
    let group: LoopGroup
    let client: WebSocketClient

    init() throws {
        group = try LoopGroup(count: 1, namePrefix: "ws-test-client")
        client = WebSocketClient(loops: group.loops)
    }

    func connect(_ url: String) async throws -> WebSocket {
        try await client.connect(url: url, headers: Headers(), protocols: [])
    }

    func stop() {
        group.stop()
        group.join()
    }
}

/// Requests in a loop on a thread of its own, counting answers by body and failures.
final class TrafficLoop: @unchecked Sendable {
    let port: UInt16
    let path: String
    private let running = Atomic<Bool>(false)
    private let results = Mutex((seen: Set<String>(), ok: 0, failed: 0, failures: [String]()))
    private let finished = DispatchSemaphore(value: 0)

    init(port: UInt16, path: String) {
        self.port = port
        self.path = path
    }

    func start() {
        running.store(true, ordering: .sequentiallyConsistent)
        Thread.detachNewThread { [self] in
            var client = try? RawClient(port: port)
            while running.load(ordering: .sequentiallyConsistent) {
                do {
                    if client == nil { client = try RawClient(port: port) }
                    try client!.send("GET \(path) HTTP/1.1\r\nHost: x\r\n\r\n")
                    let response = try client!.readResponse()
                    let body = response.text.trimmingCharacters(in: .whitespacesAndNewlines)
                    results.withLock { results in
                        if response.status == 200 {
                            results.ok += 1
                            results.seen.insert(body)
                        } else {
                            results.failed += 1
                            results.failures.append("\(response.status) \(body)")
                        }
                    }
                } catch {
                    results.withLock {
                        $0.failed += 1
                        $0.failures.append("\(error)")
                    }
                    client = nil
                }
            }
            finished.signal()
        }
    }

    func stop() -> (seen: Set<String>, ok: Int, failed: Int, failures: [String]) {
        running.store(false, ordering: .sequentiallyConsistent)
        finished.wait()
        return results.withLock { $0 }
    }
}
