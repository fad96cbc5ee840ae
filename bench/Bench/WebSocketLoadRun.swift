import RuntimeIO
import Synchronization
#if canImport(Glibc)
import Glibc
#endif

/// The phases of a `bench ws` run, driven from the main thread: open the members (paced), start the load,
/// measure, stop. Echo and broadcast run them all per segment; idle uses the pieces.
enum WebSocketLoadRun {
    /// What one measured segment of echo or broadcast load produced.
    struct Segment {
        var result: SegmentResult
        /// Broadcast: messages the senders sent and got back; 0 for echo.
        var sent: Int
    }

    /// Makes `count` members spread round-robin over the loops (member `k` on loop `k % loops`) and starts
    /// their first connects, at most `inFlight` at a time; once `haltSignal` is raised no loop starts another. `makeMember` runs on the member's loop with the member's index.
    static func open(group: LoopGroup, count: Int, inFlight: Int = WebSocketBenchLimits.maxConnectsInFlight,
                     haltSignal: HaltSignal? = nil,
                     makeMember: @escaping @Sendable (_ index: Int, _ members: LoopMembers) -> any LoadMember)
        -> [LoopMembers] {
        let loopCount = group.loops.count
        let window = max(1, inFlight / loopCount)
        let lists = group.loops.map { LoopMembers(loop: $0, window: window, haltSignal: haltSignal) }
        for (index, list) in lists.enumerated() {
            let indices = Array(stride(from: index, to: count, by: loopCount))
            list.stats.unsettled.add(indices.count, ordering: .relaxed)
            list.loop.execute {
                for member in indices { list.add(makeMember(member, list)) }
                list.startPaced()
            }
        }
        return lists
    }

    /// One segment of echo or broadcast load: open `count` members, wait until all are open, start the load,
    /// run `warmup` unmeasured, then measure for `length`, then close everything.
    static func segment(group: LoopGroup, count: Int, warmup: Duration, length: Duration, label: String,
                        rateName: String,
                        makeMember: @escaping @Sendable (_ index: Int, _ members: LoopMembers) -> any LoadMember)
        -> Segment {
        let lists = open(group: group, count: count, makeMember: makeMember)
        let openStarted = MonotonicClock.now()
        // Stop waiting early when every first attempt failed: the target is down or refuses everyone.
        let noneCanOpen = { unsettledCount(lists) == 0 && openCount(lists) == 0 }
        _ = poll(for: WebSocketBenchLimits.openTimeout, until: { openCount(lists) == count || noneCanOpen() }) { _ in
            progress("  \(label): opening, \(openCount(lists))/\(count) open")
        }
        let allOpen = openCount(lists) == count
        let openSeconds = Double(MonotonicClock.now() - openStarted) / 1e9
        if !allOpen, noneCanOpen() {
            let failed = onEachLoop(lists) { $0.stats.snapshot(nanoseconds: 0) }
            progress("  \(label): no connection opened (\(lastError(lists) ?? "no error recorded")); skipping")
            close(lists)
            return Segment(result: failed.reduce(SegmentResult.empty(nanoseconds: 0)) { $0.merged($1) }, sent: 0)
        }
        if allOpen {
            progress("  \(label): \(count) open in \(String(format1: openSeconds))s")
        } else {
            progress("  \(label): only \(openCount(lists))/\(count) open after \(WebSocketBenchLimits.openTimeout); "
                + "running anyway (last error: \(lastError(lists) ?? "none"))")
        }
        onEachLoop(lists) { list in for member in list.members { member.begin() } }
        if warmup > .zero {
            let warmupStarted = MonotonicClock.now()
            _ = poll(for: warmup, until: { false }) { now in
                progress("  \(label) warm-up: \(String(format1: Double(now - warmupStarted) / 1e9))s")
            }
        }
        onEachLoop(lists) { $0.stats.reset() }
        let started = MonotonicClock.now()
        var lastCount = 0
        var lastPrint = started
        _ = poll(for: length, until: { false }) { now in
            let count = lists.reduce(0) { $0 + $1.stats.messages.load(ordering: .relaxed) }
            let rate = Double(count - lastCount) / (Double(now - lastPrint) / 1e9)
            progress("  \(label): \(String(format1: Double(now - started) / 1e9))s  \(Int(rate)) \(rateName)  "
                + "(\(count) done, \(openCount(lists)) open)")
            lastCount = count
            lastPrint = now
        }
        let elapsed = MonotonicClock.now() - started
        let parts = onEachLoop(lists) { list in
            (list.stats.snapshot(nanoseconds: elapsed), list.stats.sent.load(ordering: .relaxed))
        }
        close(lists)
        let merged = parts.reduce(SegmentResult.empty(nanoseconds: elapsed)) { $0.merged($1.0) }
        return Segment(result: merged, sent: parts.reduce(0) { $0 + $1.1 })
    }

    /// Stops every member and waits (up to `WebSocketBenchLimits.closeWait`) for the close handshakes, so
    /// the next segment starts from a quiet server.
    static func close(_ lists: [LoopMembers]) {
        onEachLoop(lists) { list in for member in list.members { member.stop() } }
        _ = poll(for: WebSocketBenchLimits.closeWait, until: {
            lists.allSatisfy { $0.stats.live.load(ordering: .relaxed) == 0 }
        }) { _ in }
    }

    static func unsettledCount(_ lists: [LoopMembers]) -> Int {
        lists.reduce(0) { $0 + $1.stats.unsettled.load(ordering: .relaxed) }
    }

    static func openCount(_ lists: [LoopMembers]) -> Int {
        lists.reduce(0) { $0 + $1.stats.open.load(ordering: .relaxed) }
    }

    /// The most recent error any loop recorded. Read off the loops, so only between phases.
    static func lastError(_ lists: [LoopMembers]) -> String? {
        onEachLoop(lists) { $0.stats.lastError }.compactMap { $0 }.last
    }

    /// Runs `work` on every list's loop and returns the results in list order, once all have run.
    @discardableResult
    static func onEachLoop<Value: Sendable>(_ lists: [LoopMembers],
                                            _ work: @escaping @Sendable (LoopMembers) -> Value) -> [Value] {
        let results = Mutex<[Value?]>(lists.map { _ in nil })
        for (index, list) in lists.enumerated() {
            list.loop.execute {
                let value = work(list)
                results.withLock { $0[index] = value }
            }
        }
        while results.withLock({ $0.contains { $0 == nil } }) { usleep(1000) }
        return results.withLock { $0.map { $0! } }
    }

    /// Sleeps in short steps until `done()` or `length` (nil: no limit) has passed, calling `everySecond`
    /// with the monotonic time once a second. Returns whether `done()` became true.
    static func poll(for length: Duration?, until done: () -> Bool, everySecond: (_ now: UInt64) -> Void) -> Bool {
        let start = MonotonicClock.now()
        let end = length.map { start + $0.nanoseconds } ?? UInt64.max
        var lastPrint = start
        while true {
            if done() { return true }
            let now = MonotonicClock.now()
            if now >= end { return false }
            usleep(UInt32(min(10_000, (end - now) / 1000)))
            let current = MonotonicClock.now()
            if current - lastPrint >= 1_000_000_000 {
                everySecond(current)
                lastPrint = current
            }
        }
    }
}
