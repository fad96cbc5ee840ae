import ArgumentParser

/// `bench`: the load tool for the runtime. Its load generator runs on the runtime's own IO layer.
@main
struct BenchCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "bench",
        abstract: "Load-test an HTTP or WebSocket server (and compare it with a peer in the same run).",
        subcommands: [HTTPBench.self, ObjectBench.self, WebSocketBench.self, SessionBench.self])
}
