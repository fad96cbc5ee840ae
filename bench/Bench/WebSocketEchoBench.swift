import ArgumentParser

/// `bench ws echo`: closed-loop WebSocket round trips. Each connection sends a text message of `--size`
/// bytes, waits for the echo, records the round trip and sends the next.
struct WebSocketEchoBench: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "echo",
        abstract: "Closed-loop echo round trips; prints messages/s, errors and latency percentiles.",
        discussion: """
            Every connection is opened (and upgraded) before the load starts; the warm-up then runs on \
            those connections, and only after it is the segment measured. With --compare the same load \
            runs against both servers, alternating in rounds, and the ratio is printed.
            """)

    @Option(help: "Echo endpoint (every text message comes back unchanged).")
    var url = "ws://127.0.0.1:8787/ws/echo"

    @Option(help: "Concurrent WebSocket connections.")
    var connections = 64

    @Option(help: "Bytes of each text message.")
    var size = 32

    @OptionGroup var options: WebSocketRunOptions

    func validate() throws {
        guard connections >= 1, connections <= 50_000 else { throw ValidationError("--connections: 1 to 50000") }
        guard size >= 0, size <= WebSocketBenchLimits.maxMessageBytes else {
            throw ValidationError("--size: 0 to \(WebSocketBenchLimits.maxMessageBytes)")
        }
    }

    func run() throws {
        let count = connections
        let message = String(repeating: "x", count: size)
        let outcome = try options.runRounds(url: url) { group, target, warmup, length, label in
            WebSocketLoadRun.segment(group: group, count: count, warmup: warmup, length: length, label: label,
                                     rateName: "msg/s") { _, members in
                EchoMember(url: target, message: message, members: members)
            }
        }
        let report = Report(results: outcome.results, connections: connections, threads: options.threads,
                            duration: options.duration, arguments: CommandLine.arguments,
                            unit: .echoes, extraFields: ["mode": "ws echo", "message_bytes": size])
        print(report.table())
        if let json = options.json { try report.writeJSON(to: json) }
    }
}

extension Report.Unit {
    /// `bench ws echo`: round trips.
    static let echoes = Report.Unit(column: "msg/s", countKey: "messages", rateKey: "messages_per_second",
                                    showsNon2xx: false)
    /// `bench ws broadcast`: messages received, summed over every member.
    static let deliveries = Report.Unit(column: "deliveries/s", countKey: "deliveries",
                                        rateKey: "deliveries_per_second", showsNon2xx: false)
}
