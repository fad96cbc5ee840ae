import ArgumentParser

/// `bench ws`: WebSocket load on the runtime's own IO layer (StreamSocket for TCP, RuntimeWebSocket's codec
/// and client handshake for the protocol). The modes are its subcommands.
struct WebSocketBench: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "ws",
        abstract: "WebSocket load: echo round trips, room broadcast fan-out, idle connection cost.",
        subcommands: [WebSocketEchoBench.self, WebSocketBroadcastBench.self, WebSocketIdleBench.self])
}
