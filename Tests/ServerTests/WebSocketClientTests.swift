import ExamplesApp
import Foundation
import RuntimeAPI
import RuntimeServer
import Testing

/// `WebSocket.connect(to:)`, the outbound client: against our own server and against an independent
/// one (Python's `websockets`), and how it fails.
@Suite("WebSocket client", .timeLimit(.minutes(1)))
struct WebSocketClientTests {
    @Test("connects to the runtime's echo route; text and binary come back; close ends the events")
    func echoAgainstOurServer() async throws {
        let server = try Self.startServer()
        try await server.whileRunning {
            let socket = try await server.connect("ws://127.0.0.1:\(server.address.port)/ws/echo")
            #expect(socket.readyState == .open)
            socket.send("hello")
            socket.send([1, 2, 3])
            var events = socket.events.makeAsyncIterator()
            #expect(await events.next() == .message(.text("hello")))
            #expect(await events.next() == .message(.binary([1, 2, 3])))
            try socket.close(code: 1000, reason: "done")
            #expect(await events.next() == .close(code: 1000, reason: "done", wasClean: true))
            #expect(await events.next() == nil)
            #expect(socket.readyState == .closed)
        }
    }

    @Test("talks to an independent server: echo, a negotiated subprotocol, and the server's close code")
    func independentPeer() async throws {
        // The client runs on a runtime's loops, as it does for apps.
        let server = try Self.startServer()
        try await server.whileRunning {
            let peer = try PythonPeer()
            defer { peer.stop() }
            let socket = try await server.connect("ws://127.0.0.1:\(peer.port)/echo", protocols: ["other", "chat"])
            #expect(socket.subprotocol == "chat")
            var events = socket.events.makeAsyncIterator()
            let long = String(repeating: "ü", count: 40_000)
            socket.send(long)
            #expect(await events.next() == .message(.text(long)))
            socket.send([UInt8](repeating: 7, count: 70_000))
            #expect(await events.next() == .message(.binary([UInt8](repeating: 7, count: 70_000))))
            try socket.close()
            #expect(await events.next() == .close(code: 1000, reason: "", wasClean: true))

            let closing = try await server.connect("ws://127.0.0.1:\(peer.port)/close-4001")
            var closingEvents = closing.events.makeAsyncIterator()
            #expect(await closingEvents.next() == .close(code: 4001, reason: "go away", wasClean: true))
        }
    }

    @Test("fails with a clear error: refused port, an HTTP route that does not upgrade, a bad URL, wss")
    func failures() async throws {
        let server = try Self.startServer()
        try await server.whileRunning {
            let refusedPort = try Self.unusedPort()
            let cases: [(url: String, mentions: String)] = [
                ("ws://127.0.0.1:\(refusedPort)/", "refused"),
                ("ws://127.0.0.1:\(server.address.port)/", "200"),
                ("http://127.0.0.1:\(server.address.port)/", "ws://"),
                ("ws://127.0.0.1:99999/", "port"),
                ("wss://127.0.0.1:\(server.address.port)/", "TLS"),
            ]
            for (url, mentions) in cases {
                do {
                    _ = try await server.connect(url)
                    Issue.record("\(url): connected, expected a failure")
                } catch let error as WebSocketError {
                    #expect("\(error)".contains(mentions), "\(url): \(error)")
                }
            }
            // The server is unharmed.
            let socket = try await server.connect("ws://127.0.0.1:\(server.address.port)/ws/echo")
            socket.send("still here")
            var events = socket.events.makeAsyncIterator()
            #expect(await events.next() == .message(.text("still here")))
        }
    }

    @Test("an app's WebSocket.connect inside fetch runs on its own runtime's client")
    func fromInsideAWorker() async throws {
        let directory = NSTemporaryDirectory() + "ws-client-test-" + UUID().uuidString
        let config = ServerConfig(listen: "127.0.0.1:0", threads: 2, stateDirectory: directory, accessLog: false,
                                  shutdownGrace: .seconds(2))
        let server = try Server(config: config, worker: RelayWorker())
        try await server.whileRunning {
            let peer = try PythonPeer()
            defer { peer.stop() }
            let (peerPort, serverPort) = (peer.port, server.address.port)
            let response = try await offPool { try RawClient.get("/relay?port=\(peerPort)", port: serverPort) }
            #expect(response.status == 200)
            #expect(response.text == "relayed: over the wire")
        }
    }

    static func startServer() throws -> Server {
        let directory = NSTemporaryDirectory() + "ws-client-test-" + UUID().uuidString
        let config = ServerConfig(listen: "127.0.0.1:0", threads: 2, stateDirectory: directory, accessLog: false,
                                  shutdownGrace: .seconds(2))
        return try Server(config: config, app: BuiltinApp.make())
    }

    /// A port nothing listens on (bound, then released).
    static func unusedPort() throws -> UInt16 {
        let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        defer { close(fd) }
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_addr.s_addr = inet_addr("127.0.0.1")
        var length = socklen_t(MemoryLayout<sockaddr_in>.size)
        _ = withUnsafeMutablePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(fd, $0, length) }
        }
        _ = withUnsafeMutablePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { getsockname(fd, $0, &length) }
        }
        return UInt16(bigEndian: address.sin_port)
    }
}

/// Connects to `/echo` of the Python peer on `?port=`, sends a text and answers with what came back.
struct RelayWorker: Worker {
    func fetch(_ request: Request, env: Env, ctx: ExecutionContext) async throws -> Response {
        let port = request.url.queryValue("port") ?? "0"
        let socket = try await WebSocket.connect(to: "ws://127.0.0.1:\(port)/echo")
        socket.send("over the wire")
        for await event in socket.events {
            if case .message(.text(let text)) = event {
                try socket.close()
                return Response(text: "relayed: \(text)")
            }
        }
        return Response(status: 502, text: "the peer closed first")
    }
}

extension Server {
    /// Shuts down on a thread of its own (shutdown blocks, and the cooperative pool has only two threads
    /// here) and removes the state directory.
    func stopOffPool() async {
        await withCheckedContinuation { (continuation: CheckedContinuation<Void, Never>) in
            Thread.detachNewThread {
                self.shutdown()
                try? FileManager.default.removeItem(atPath: self.config.stateDirectory)
                continuation.resume()
            }
        }
    }

    /// Runs `body` with the server, then stops it off the pool, whatever the body did.
    func whileRunning<T>(_ body: () async throws -> T) async throws -> T {
        do {
            let result = try await body()
            await stopOffPool()
            return result
        } catch {
            await stopOffPool()
            throw error
        }
    }

    /// Connects through this server's own WebSocket client (tests run several servers at once).
    func connect(_ url: String, protocols: [String] = []) async throws -> WebSocket {
        try await webSocketClient.connect(url: url, headers: Headers(), protocols: protocols)
    }
}

/// Tests/Python/ws_peer_server.py as a child process.
final class PythonPeer {
    let process = Process()
    let input = Pipe()
    let port: UInt16

    struct NoPort: Error, CustomStringConvertible {
        let output: String
        var description: String { "the Python WebSocket peer did not start (is `websockets` installed?): \(output)" }
    }

    init() throws {
        let script = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
            .appendingPathComponent("Python/ws_peer_server.py").path
        process.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        process.arguments = ["python3", script]
        let output = Pipe()
        process.standardOutput = output
        process.standardInput = input
        try process.run()
        let line = String(decoding: output.fileHandleForReading.availableLine(), as: UTF8.self)
        guard line.hasPrefix("port "), let port = UInt16(line.dropFirst(5).trimmingCharacters(in: .whitespacesAndNewlines)) else {
            process.terminate()
            throw NoPort(output: line)
        }
        self.port = port
    }

    func stop() {
        try? input.fileHandleForWriting.close()
        process.waitUntilExit()
    }
}

extension FileHandle {
    /// Bytes up to and including the first newline (or to EOF).
    func availableLine() -> [UInt8] {
        var line: [UInt8] = []
        while true {
            let byte = readData(ofLength: 1)
            guard let first = byte.first else { return line }
            line.append(first)
            if first == 10 { return line }
        }
    }
}
