import Foundation
import RuntimeAPI
import RuntimeHTTP
import RuntimeServer
import RuntimeWebSocket

// How the WebSocket end-to-end tests start the test app (WebSocketTestApp.swift) on a real server.

/// How a WebSocket test server is set up.
struct WebSocketServerOptions: Sendable {
    var threads = 1
    /// Short, so hibernation tests see eviction quickly; the default leaves objects alone.
    var objectIdleTimeout: Duration = .seconds(30)
    var maxMessageBytes = WebSocketLimits.defaultMaxMessageBytes
    var deflate: PerMessageDeflateConfig? = HTTPServerConfig.defaultWebSocketDeflate
    var shutdownGrace: Duration = .seconds(3)
    var timing = WebSocketConnection.Timing()
    var httpIdleTimeout = HTTPServerConfig.defaultIdleTimeout
    var requestTimeout = HTTPServerConfig.defaultRequestTimeout
}

/// An in-process server with the test app on 127.0.0.1, a free port.
struct WebSocketTestServer: Sendable {
    let server: Server
    let log: SocketEventLog
    var port: UInt16 { server.address.port }

    static func start(_ options: WebSocketServerOptions, directory: String,
                      log: SocketEventLog = SocketEventLog()) throws -> WebSocketTestServer {
        var http = HTTPServerConfig(idleTimeout: options.httpIdleTimeout, requestTimeout: options.requestTimeout,
                                    webSocketTiming: options.timing)
        http.webSocket = WebSocketConfig(limits: WebSocketLimits(maxMessageBytes: options.maxMessageBytes),
                                         deflate: options.deflate)
        let config = ServerConfig(listen: "127.0.0.1:0", threads: options.threads, stateDirectory: directory,
                                  http: http, accessLog: false, shutdownGrace: options.shutdownGrace,
                                  objectIdleTimeout: options.objectIdleTimeout)
        let app = App(worker: WebSocketTestWorker(log: log), objectClasses: ["ROOM": WebSocketTestRoom.self])
        return WebSocketTestServer(server: try Server(config: config, app: app), log: log)
    }

    /// Graceful shutdown, off the cooperative pool (it blocks its thread).
    func stop() async {
        let server = self.server
        _ = try? await offPool { server.shutdown() }
    }

    /// GET `path` over a fresh connection, with the independent HTTP client.
    func get(_ path: String) async throws -> RawClient.Response {
        let port = self.port
        return try await offPool { try RawClient.get(path, port: port) }
    }
}

/// A fresh state directory for one test, removed afterwards.
func temporaryStateDirectory() -> String {
    NSTemporaryDirectory() + "ws-test-" + UUID().uuidString
}

/// Starts the test app's server and the Python client against it, runs `body`, and always stops both
/// and removes the state directory.
func withWebSocketServer<T>(_ options: WebSocketServerOptions = WebSocketServerOptions(),
                            _ body: (WebSocketTestServer, WebSocketDriver) async throws -> T) async throws -> T {
    let directory = temporaryStateDirectory()
    defer { try? FileManager.default.removeItem(atPath: directory) }
    let server = try WebSocketTestServer.start(options, directory: directory)
    let driver: WebSocketDriver
    do {
        driver = try await WebSocketDriver.start(port: server.port)
    } catch {
        await server.stop()
        throw error
    }
    do {
        let result = try await body(server, driver)
        await driver.stop()
        await server.stop()
        return result
    } catch {
        await driver.stop()
        await server.stop()
        throw error
    }
}

/// Polls `condition` (every 10 ms) until it holds or `timeout` passes; the last answer.
func eventually(_ timeout: Duration = .seconds(5), _ condition: () async throws -> Bool) async rethrows -> Bool {
    let deadline = ContinuousClock.now + timeout
    while ContinuousClock.now < deadline {
        if try await condition() { return true }
        try? await Task.sleep(for: .milliseconds(10))
    }
    return try await condition()
}
