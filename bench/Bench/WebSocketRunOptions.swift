import ArgumentParser
import RuntimeIO
#if canImport(Glibc)
import Glibc
#endif

/// The options `bench ws echo` and `bench ws broadcast` share, and the rounds they drive: the same load
/// against `--url` and, with `--compare`, a second server, alternating A B A B ... as `bench http` does.
struct WebSocketRunOptions: ParsableArguments {
    @Option(help: "Measured time per target (split across rounds with --compare), e.g. 10s.")
    var duration = "10s"

    @Option(help: "Unmeasured load on each segment's freshly opened connections before it is measured.")
    var warmup = "1s"

    @Option(help: "Load generator loop threads.")
    var threads = 1

    @Option(help: "A second server (ws:// URL) to run the same load against, alternating with the first.")
    var compare: String?

    @Option(help: "Alternating rounds per target when comparing.")
    var rounds = 3

    @Option(help: "Names for the targets in the report, comma-separated (default: their URLs).")
    var labels: String?

    @Option(help: "Write the results as JSON to this file.")
    var json: String?

    func validate() throws {
        guard threads >= 1, threads <= 64 else { throw ValidationError("--threads: 1 to 64") }
        guard rounds >= 1 else { throw ValidationError("--rounds must be at least 1") }
        guard Duration.parse(duration) != nil else { throw ValidationError("--duration: e.g. 10s or 500ms") }
        guard Duration.parse(warmup) != nil else { throw ValidationError("--warmup: e.g. 1s") }
    }

    /// What the rounds produced, per target in `--url`, `--compare` order.
    struct Outcome {
        var names: [String]
        var results: [TargetResult]
        /// Broadcast: messages the senders sent and got back, per target.
        var sent: [Int]
    }

    /// Runs every segment: `segment` gets the loops, the target, the warm-up, the measured length and a
    /// progress label.
    func runRounds(url: String,
                   segment: (LoopGroup, WebSocketURL, Duration, Duration, String) -> WebSocketLoadRun.Segment)
        throws -> Outcome {
        signal(SIGPIPE, SIG_IGN)
        let targets = try ([url] + (compare.map { [$0] } ?? [])).map { try WebSocketURL($0) }
        let names = labels?.split(separator: ",").map(String.init) ?? targets.map(\.text)
        guard names.count == targets.count else { throw ValidationError("--labels: one name per target") }
        let roundCount = targets.count > 1 ? rounds : 1
        let length = Duration.parse(duration)! / roundCount
        let warmupTime = Duration.parse(warmup)!
        let group = try LoopGroup(count: threads, namePrefix: "bench")
        defer {
            group.stop()
            group.join()
        }
        var outcome = Outcome(names: names, results: names.map { TargetResult(name: $0) },
                              sent: names.map { _ in 0 })
        for round in 0..<roundCount {
            for (index, target) in targets.enumerated() {
                let label = roundCount > 1 ? "\(names[index]) round \(round + 1)/\(roundCount)" : names[index]
                let part = segment(group, target, warmupTime, length, label)
                outcome.results[index].add(part.result)
                outcome.sent[index] += part.sent
            }
        }
        return outcome
    }
}
