import ArgumentParser
import Histogram
import RuntimeIO
import Synchronization
#if canImport(Glibc)
import Glibc
#endif

/// `bench http`: closed-loop HTTP/1.1 load (each connection sends its next request when the previous
/// response has arrived), with keep-alive, on the runtime's own io_uring loops.
struct HTTPBench: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "http",
        abstract: "Closed-loop keep-alive HTTP load; prints requests/s, errors and latency percentiles.",
        discussion: """
            With --compare, the same load runs against both servers in the same run, alternating in \
            rounds (A B A B ...), and the ratio A/B is printed. Pin the servers and the bench to \
            different cores with taskset for numbers you can compare (see bench/README.md).
            """)

    @Option(help: "Target URL (http://host:port/path).")
    var url: String

    @Option(help: "Concurrent keep-alive connections.")
    var connections = 64

    @Option(help: "Measured time per target (split across rounds with --compare), e.g. 10s.")
    var duration = "10s"

    @Option(help: "Load generator loop threads.")
    var threads = 1

    @Option(help: "A second server to run the same load against, alternating with the first.")
    var compare: String?

    @Option(help: "Alternating rounds per target when comparing.")
    var rounds = 3

    @Option(help: "Unmeasured load per target before measuring.")
    var warmup = "1s"

    @Option(help: "Write the results as JSON to this file.")
    var json: String?

    @Option(help: "Names for the targets in the report, comma-separated (default: their URLs).")
    var labels: String?

    func validate() throws {
        guard connections >= 1, connections <= 20_000 else { throw ValidationError("--connections: 1 to 20000") }
        guard threads >= 1, threads <= 64 else { throw ValidationError("--threads: 1 to 64") }
        guard rounds >= 1 else { throw ValidationError("--rounds must be at least 1") }
        guard Duration.parse(duration) != nil else { throw ValidationError("--duration: e.g. 10s or 500ms") }
        guard Duration.parse(warmup) != nil else { throw ValidationError("--warmup: e.g. 1s") }
    }

    func run() throws {
        signal(SIGPIPE, SIG_IGN)
        let targets = try ([url] + (compare.map { [$0] } ?? [])).map { try TargetURL($0) }
        let names = labels?.split(separator: ",").map(String.init) ?? targets.map(\.text)
        guard names.count == targets.count else { throw ValidationError("--labels: one name per target") }
        let total = Duration.parse(duration)!
        let roundCount = targets.count > 1 ? rounds : 1
        let segment = total / roundCount
        let group = try LoopGroup(count: threads, namePrefix: "bench")
        defer {
            group.stop()
            group.join()
        }
        var results = names.map { TargetResult(name: $0) }
        let warmupTime = Duration.parse(warmup)!
        if warmupTime > .zero {
            for (index, target) in targets.enumerated() {
                _ = runSegment(group: group, target: target, length: warmupTime, label: "\(names[index]) warm-up")
            }
        }
        for round in 0..<roundCount {
            for (index, target) in targets.enumerated() {
                let label = roundCount > 1 ? "\(names[index]) round \(round + 1)/\(roundCount)" : names[index]
                results[index].add(runSegment(group: group, target: target, length: segment, label: label))
            }
        }
        let report = Report(results: results, connections: connections, threads: threads, duration: duration,
                            arguments: CommandLine.arguments)
        print(report.table())
        if let json { try report.writeJSON(to: json) }
    }

    private func runSegment(group: LoopGroup, target: TargetURL, length: Duration, label: String) -> SegmentResult {
        let request = Array("GET \(target.path) HTTP/1.1\r\nHost: \(target.hostHeader)\r\nUser-Agent: bench\r\n\r\n".utf8)
        return LoadRun.segment(group: group, target: target, connections: connections, length: length, label: label) {
            { request }
        }
    }
}

extension String {
    init(format1 value: Double) {
        let tenths = Int((value * 10).rounded())
        self = "\(tenths / 10).\(tenths % 10)"
    }
}

/// Progress goes to standard error so standard output carries only the report.
func progress(_ line: String) {
    let text = line + "\n"
    _ = text.withCString { write(2, $0, strlen($0)) }
}
