import ArgumentParser
import Foundation
import RuntimeIO
#if canImport(Glibc)
import Glibc
#endif

/// `bench object`: committed Durable Object writes per second. Each request increments one of `--objects`
/// counters (picked at random) through the runtime's built-in counter app, so every 200 is a write that
/// was durable (fdatasynced) before its response left. Printed beside the disk's single-thread fsync
/// rate, measured first in `--fsync-dir` (put it on the disk of the runtime's state directory). With
/// `--state-dir`, also the runtime's own count of commits and fdatasyncs, and its CPU time per write.
struct ObjectBench: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "object",
        abstract: "Durable Object write load: committed writes/s and latency, beside this disk's fsync rate (or, with --reads, the same path reading).")

    @Option(help: "Base URL of a runtime serving the built-in app (its /counter/<name>/increment route).")
    var url = "http://127.0.0.1:8787"

    @Option(help: "How many distinct objects the writes spread over.")
    var objects = 100

    @Option(help: "Concurrent keep-alive connections.")
    var connections = 64

    @Option(help: "Measured time, e.g. 10s.")
    var duration = "10s"

    @Option(help: "Unmeasured load before measuring.")
    var warmup = "1s"

    @Option(help: "Load generator loop threads.")
    var threads = 1

    @Option(help: "Directory on the disk to measure the single-thread fsync rate in.")
    var fsyncDir = ".runtime-state"

    @Flag(help: "Read the counters (GET) instead of incrementing them: the same path through the objects without a write, for comparison.")
    var reads = false

    @Option(help: "State directory of the runtime under load, on this machine: then its commits, the fdatasyncs they waited for, and its CPU time per write are reported too.")
    var stateDir: String?

    @Option(help: "Write the results as JSON to this file.")
    var json: String?

    func validate() throws {
        guard objects >= 1, objects <= 1_000_000 else { throw ValidationError("--objects: 1 to 1000000") }
        guard connections >= 1, connections <= 20_000 else { throw ValidationError("--connections: 1 to 20000") }
        guard Duration.parse(duration) != nil, Duration.parse(warmup) != nil else {
            throw ValidationError("--duration and --warmup take durations such as 10s")
        }
    }

    func run() throws {
        signal(SIGPIPE, SIG_IGN)
        var fsyncRate = 0.0
        if !reads {
            progress("measuring single-thread fsync rate in \(fsyncDir) ...")
            fsyncRate = try FsyncProbe.rate(directory: fsyncDir, seconds: 2)
            progress("  \(Int(fsyncRate)) fdatasync/s")
        }
        let target = try TargetURL(url.hasSuffix("/") ? String(url.dropLast()) : url)
        let group = try LoopGroup(count: threads, namePrefix: "bench")
        defer {
            group.stop()
            group.join()
        }
        let objectCount = objects
        let host = target.hostHeader
        let prefix = target.path == "/" ? "" : target.path
        let reading = reads
        let source: @Sendable () -> () -> [UInt8] = {
            var generator = SystemRandomNumberGenerator()
            return {
                let object = Int.random(in: 0..<objectCount, using: &generator)
                let line = reading ? "GET \(prefix)/counter/bench-\(object)/" : "POST \(prefix)/counter/bench-\(object)/increment"
                return Array((line + " HTTP/1.1\r\nHost: \(host)\r\nContent-Length: 0\r\n\r\n").utf8)
            }
        }
        var probe: RuntimeProbe? = nil
        if let stateDir {
            let attached = RuntimeProbe.attach(stateDirectory: stateDir, app: "builtin")
            probe = attached.probe
            if let problem = attached.problem { progress("warning: not reporting the runtime's own numbers: \(problem)") }
        }
        if let warm = Duration.parse(warmup), warm > .zero {
            _ = LoadRun.segment(group: group, target: target, connections: connections, length: warm,
                                label: "warm-up", makeRequestSource: source)
        }
        let before = Self.sample(probe)
        let segment = LoadRun.segment(group: group, target: target, connections: connections,
                                      length: Duration.parse(duration)!, label: "\(objects) objects",
                                      makeRequestSource: source)
        let after = Self.sample(probe)
        var result = TargetResult(name: "\(objects) objects, \(connections) connections")
        result.add(segment)
        let writes = Double(result.requests - result.non2xx) / (Double(result.nanoseconds) / 1e9)
        let unit = reads ? "read" : "write"
        print("")
        print((reads ? "reads/s             " : "committed writes/s  ") + "\(Int(writes))   (errors \(result.errors), non-2xx \(result.non2xx))")
        print("latency ms          p50 \(String(format: "%.3f", result.percentile(50)))  "
            + "p90 \(String(format: "%.3f", result.percentile(90)))  p99 \(String(format: "%.3f", result.percentile(99)))  "
            + "max \(String(format: "%.3f", result.maxMilliseconds))")
        if !reads {
            print("disk fdatasync/s    \(Int(fsyncRate))   (one thread, 4 KiB writes, in \(fsyncDir))")
            print("ratio               \(String(format: "%.1f", writes / max(fsyncRate, 1)))x the single-thread fsync rate")
        }
        var runtimeDocument: [String: Any]? = nil
        if let before, let after {
            let commits = after.commits - before.commits
            let syncs = after.fdatasyncs - before.fdatasyncs
            let written = max(result.requests - result.non2xx, 1)
            let cpuMicroseconds = (after.cpuSeconds - before.cpuSeconds) * 1e6 / Double(written)
            if reads {
                print("runtime             CPU \(String(format: "%.1f", cpuMicroseconds)) us per read (\(commits) commits)")
            } else {
                print("runtime             \(commits) commits, \(syncs) fdatasyncs (\(String(format: "%.1f", Double(commits) / Double(max(syncs, 1)))) commits each), "
                    + "CPU \(String(format: "%.1f", cpuMicroseconds)) us per \(unit)")
            }
            let opens = after.objectsCreated - before.objectsCreated
            let reopens = after.fileReopens - before.fileReopens
            print("                    \(opens) objects opened (database opens), \(reopens) files reopened from the descriptor pool")
            let checkpoints = after.checkpoints - before.checkpoints
            let checkpointMs = Double(after.checkpointMicroseconds - before.checkpointMicroseconds) / 1000
            print("                    \(checkpoints) WAL checkpoints, \(String(format: "%.1f", checkpointMs)) ms in all")
            runtimeDocument = ["commits": commits, "fdatasyncs": syncs, "cpu_us_per_request": cpuMicroseconds,
                               "objects_opened": opens, "files_reopened": reopens,
                               "checkpoints": checkpoints, "checkpoint_ms": checkpointMs]
        }
        if let json {
            var document: [String: Any] = [
                "date": ISO8601DateFormatter().string(from: Date()), "command": CommandLine.arguments.joined(separator: " "),
                "objects": objects, "connections": connections, "duration": duration, "mode": reads ? "reads" : "writes",
                (reads ? "reads_per_second" : "committed_writes_per_second"): writes,
                "errors": result.errors, "non2xx": result.non2xx,
                "latency_ms": ["p50": result.percentile(50), "p90": result.percentile(90),
                               "p99": result.percentile(99), "max": result.maxMilliseconds],
            ]
            if !reads {
                document["fsync_per_second"] = fsyncRate
                document["ratio"] = writes / max(fsyncRate, 1)
            }
            if let runtimeDocument { document["runtime"] = runtimeDocument }
            let data = try JSONSerialization.data(withJSONObject: document, options: [.prettyPrinted, .sortedKeys])
            try data.write(to: URL(fileURLWithPath: json))
        }
    }
}

extension ObjectBench {
    /// A sample of the runtime under load, or nil (with a warning) when it cannot be read.
    static func sample(_ probe: RuntimeProbe?) -> RuntimeProbe.Sample? {
        guard let probe else { return nil }
        do {
            return try probe.sample()
        } catch {
            progress("warning: cannot read the runtime's numbers: \(error)")
            return nil
        }
    }
}

/// Measures how many write + fdatasync rounds one thread gets per second on a disk.
enum FsyncProbe {
    static func rate(directory: String, seconds: Double) throws -> Double {
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        let path = directory + "/.fsync-probe-\(getpid())"
        let fd = open(path, O_RDWR | O_CREAT | O_TRUNC | O_CLOEXEC, 0o600)
        guard fd >= 0 else { throw ValidationError("cannot create \(path): errno \(errno)") }
        defer {
            close(fd)
            unlink(path)
        }
        let block = [UInt8](repeating: 0x5A, count: 4096)
        let start = MonotonicClock.now()
        let end = start + UInt64(seconds * 1e9)
        var count = 0
        var offset: off_t = 0
        while MonotonicClock.now() < end {
            _ = block.withUnsafeBytes { pwrite(fd, $0.baseAddress, 4096, offset) }
            offset = (offset + 4096) % (4096 * 256)
            fdatasync(fd)
            count += 1
        }
        return Double(count) / (Double(MonotonicClock.now() - start) / 1e9)
    }
}
