import ExamplesApp
import Foundation
import RuntimeAPI
import RuntimeHTTP
import RuntimeServer

/// Starts an in-process server on a free loopback port with the hello app, runs `body` on a thread of
/// its own (the tests block on sockets, which must not starve Swift's cooperative pool that the rest
/// of the suite runs on), and always shuts the server down.
func withServer<T: Sendable>(threads: Int = 1, http: HTTPServerConfig = HTTPServerConfig(),
                             worker: any Worker = HelloWorker(),
                             _ body: @escaping @Sendable (Server, UInt16) throws -> T) async throws -> T {
    try await offPool {
        let directory = NSTemporaryDirectory() + "server-test-" + UUID().uuidString
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let config = ServerConfig(listen: "127.0.0.1:0", threads: threads, stateDirectory: directory,
                                  http: http, accessLog: false, shutdownGrace: .seconds(2))
        let server = try Server(config: config, worker: worker)
        defer { server.shutdown() }
        return try body(server, server.address.port)
    }
}

/// Runs blocking work on a new thread and awaits its result.
func offPool<T: Sendable>(_ body: @escaping @Sendable () throws -> T) async throws -> T {
    try await withCheckedThrowingContinuation { continuation in
        Thread.detachNewThread { continuation.resume(with: Result { try body() }) }
    }
}
