import ExamplesApp
import RuntimeAPI
import RuntimeHTTP
import RuntimeServer

/// Starts an in-process server on a free loopback port with the hello app, runs `body`, and always
/// shuts the server down.
func withServer<T>(threads: Int = 1, http: HTTPServerConfig = HTTPServerConfig(),
                   worker: any Worker = HelloWorker(),
                   _ body: (Server, UInt16) throws -> T) throws -> T {
    let config = ServerConfig(listen: "127.0.0.1:0", threads: threads, stateDirectory: "/tmp/runtime-tests",
                              http: http, accessLog: false, shutdownGrace: .seconds(2))
    let server = try Server(config: config, worker: worker)
    defer { server.shutdown() }
    return try body(server, server.address.port)
}
