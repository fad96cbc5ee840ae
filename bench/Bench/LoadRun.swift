import RuntimeIO
import Synchronization
#if canImport(Glibc)
import Glibc
#endif

/// One measured stretch of closed-loop load, shared by the bench commands.
enum LoadRun {
    /// Runs `connections` connections against `target` for `length`; `makeRequestSource` is called once per
    /// connection (on its loop) and returns that connection's request maker.
    static func segment(group: LoopGroup, target: TargetURL, connections: Int, length: Duration, label: String,
                        makeRequestSource: @escaping @Sendable () -> () -> [UInt8]) -> SegmentResult {
        let stats = group.loops.map { _ in LoopStats() }
        let live = Mutex<[[LoadConnection]]>(group.loops.map { _ in [] })
        for (index, loop) in group.loops.enumerated() {
            let share = connections / group.loops.count + (index < connections % group.loops.count ? 1 : 0)
            let loopStats = stats[index]
            loop.execute {
                var made: [LoadConnection] = []
                for _ in 0..<share {
                    let connection = LoadConnection(loop: loop, target: target, stats: loopStats,
                                                    nextRequest: makeRequestSource())
                    made.append(connection)
                    connection.start()
                }
                live.withLock { $0[index] = made }
            }
        }
        let started = MonotonicClock.now()
        let end = started + length.nanoseconds
        var lastPrint = started
        var lastCount = 0
        while true {
            let now = MonotonicClock.now()
            if now >= end { break }
            usleep(UInt32(min(100_000, (end - now) / 1000)))
            let current = MonotonicClock.now()
            if current - lastPrint >= 1_000_000_000 {
                let count = stats.reduce(0) { $0 + $1.completed.load(ordering: .relaxed) }
                let rate = Double(count - lastCount) / (Double(current - lastPrint) / 1e9)
                let elapsed = Double(current - started) / 1e9
                progress("  \(label): \(String(format1: elapsed))s  \(Int(rate)) req/s  (\(count) done)")
                lastPrint = current
                lastCount = count
            }
        }
        let elapsed = MonotonicClock.now() - started
        let collected = Mutex<[SegmentResult?]>(group.loops.map { _ in nil })
        for (index, loop) in group.loops.enumerated() {
            let loopStats = stats[index]
            loop.execute {
                for connection in live.withLock({ $0[index] }) { connection.stop() }
                collected.withLock {
                    $0[index] = SegmentResult(histogram: loopStats.histogram, requests: loopStats.completed.load(ordering: .relaxed),
                                              errors: loopStats.errors, non2xx: loopStats.non2xx,
                                              nanoseconds: elapsed, lastError: loopStats.lastError)
                }
            }
        }
        while collected.withLock({ $0.contains { $0 == nil } }) { usleep(1000) }
        // Give the closes a moment so the next segment starts from a quiet server.
        usleep(100_000)
        return collected.withLock { parts in
            parts.compactMap { $0 }.reduce(SegmentResult.empty(nanoseconds: elapsed)) { $0.merged($1) }
        }
    }
}
