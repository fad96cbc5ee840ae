import ArgumentParser
import Foundation

/// `bench ws broadcast`: one chat room, `--members` connections in it, `--senders` of them sending in a
/// closed loop; every member records the delivery latency of every message it receives.
struct WebSocketBroadcastBench: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "broadcast",
        abstract: "Room fan-out: deliveries/s (messages received, summed over all members) and delivery latency.",
        discussion: """
            All members join the same room URL before the load starts. A sender sends its next message \
            once its previous one came back to it (the room sends every text message to every member, \
            the sender included), so a message in flight per sender. Each message carries its send \
            time ("<monotonic nanos> <sender> xxx..."), and every receiving member records now minus \
            that time, so the latency includes the bench reaching each member in turn: a bench loop \
            that reads 1000 deliveries of one message reads the last of them later than the first.
            """)

    @Option(help: "Room endpoint; every member connects to this same URL.")
    var url = "ws://127.0.0.1:8787/room/bench"

    @Option(help: "Connections in the room.")
    var members = 1000

    @Option(help: "How many of the members send (closed loop, one message in flight each).")
    var senders = 1

    @Option(help: "Bytes of each message (at least the stamp, about 25 bytes).")
    var size = 64

    @OptionGroup var options: WebSocketRunOptions

    func validate() throws {
        guard members >= 1, members <= 50_000 else { throw ValidationError("--members: 1 to 50000") }
        guard senders >= 1, senders <= members else { throw ValidationError("--senders: 1 to --members") }
        guard size >= 0, size <= WebSocketBenchLimits.maxMessageBytes else {
            throw ValidationError("--size: 0 to \(WebSocketBenchLimits.maxMessageBytes)")
        }
    }

    func run() throws {
        let count = members
        let senderCount = senders
        let messageBytes = size
        let outcome = try options.runRounds(url: url) { group, target, warmup, length, label in
            WebSocketLoadRun.segment(group: group, count: count, warmup: warmup, length: length, label: label,
                                     rateName: "deliveries/s") { index, list in
                BroadcastMember(url: target, senderIndex: index < senderCount ? index : nil, size: messageBytes,
                                members: list)
            }
        }
        let sentPerSecond = zip(outcome.results, outcome.sent).map { result, sent in
            result.nanoseconds == 0 ? 0 : Double(sent) / (Double(result.nanoseconds) / 1e9)
        }
        let report = Report(results: outcome.results, connections: members, threads: options.threads,
                            duration: options.duration, arguments: CommandLine.arguments, unit: .deliveries,
                            extraFields: ["mode": "ws broadcast", "members": members, "senders": senders,
                                          "message_bytes": size],
                            extraTargetFields: zip(outcome.sent, sentPerSecond).map { sent, rate in
                                ["sent": sent, "sent_per_second": (rate * 10).rounded() / 10]
                            })
        print(report.table())
        for (index, result) in outcome.results.enumerated() {
            let perMessage = outcome.sent[index] == 0 ? 0 : Double(result.requests) / Double(outcome.sent[index])
            print("  \(result.name): senders sent \(Int(sentPerSecond[index])) msg/s, "
                + "\(String(format: "%.1f", perMessage)) deliveries per message (\(members) members)")
        }
        if let json = options.json { try report.writeJSON(to: json) }
    }
}
