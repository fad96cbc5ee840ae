import Synchronization
import Testing
@testable import RuntimeIO
#if canImport(Glibc)
import Glibc
#endif

/// An actor whose executor is a loop: its code must run on that loop's thread.
actor LoopBoundCounter {
    let loop: Loop
    var value = 0
    nonisolated var unownedExecutor: UnownedSerialExecutor { loop.asUnownedSerialExecutor() }
    init(loop: Loop) { self.loop = loop }
    func increment() -> (Int, Bool) {
        value += 1
        return (value, loop.inLoop)
    }
}

@Suite("Loop")
struct LoopTests {
    @Test("work handed over from other threads runs on the loop thread, woken from sleep")
    func crossThreadExecute() throws {
        let group = try LoopGroup(count: 1)
        defer { group.stop(); group.join() }
        let loop = group.loops[0]
        let ran = Shared<[Bool]>([])
        for _ in 0..<100 {
            loop.execute { ran.withLock { $0.append(loop.inLoop) } }
            usleep(200)  // let the loop go to sleep between hand-overs
        }
        var waited = 0
        while ran.withLock({ $0.count }) < 100, waited < 5000 { usleep(1000); waited += 1 }
        #expect(ran.withLock { $0 } == Array(repeating: true, count: 100))
    }

    @Test("an actor on the loop's executor runs there, one call at a time")
    func actorOnLoop() async throws {
        let group = try LoopGroup(count: 1)
        defer { group.stop(); group.join() }
        let counter = LoopBoundCounter(loop: group.loops[0])
        try await withThrowingTaskGroup(of: Bool.self) { tasks in
            for _ in 0..<1000 {
                tasks.addTask { await counter.increment().1 }
            }
            for try await onLoop in tasks { #expect(onLoop) }
        }
        #expect(await counter.value == 1000)
    }

    @Test("a task with the loop as executor preference resumes on the loop after sleeping")
    func taskPreference() async throws {
        let group = try LoopGroup(count: 1)
        defer { group.stop(); group.join() }
        let loop = group.loops[0]
        let onLoop = await Task(executorPreference: loop.taskExecutor) {
            let before = loop.inLoop
            try? await Task.sleep(for: .milliseconds(20))
            return before && loop.inLoop
        }.value
        #expect(onLoop)
    }

    @Test("timers fire in order and not early")
    func timers() throws {
        let group = try LoopGroup(count: 1)
        defer { group.stop(); group.join() }
        let loop = group.loops[0]
        let fired = Shared<[(Int, UInt64)]>([])
        let start = MonotonicClock.now()
        let holder = Shared<[LoopTimer]>([])
        loop.execute {
            for (index, delay) in [(2, 60), (0, 20), (1, 40)] {
                let timer = LoopTimer { fired.withLock { $0.append((index, MonotonicClock.now() - start)) } }
                holder.withLock { $0.append(timer) }
                loop.arm(timer, after: .milliseconds(delay))
            }
            let cancelled = LoopTimer { fired.withLock { $0.append((99, 0)) } }
            holder.withLock { $0.append(cancelled) }
            loop.arm(cancelled, after: .milliseconds(30))
            loop.cancel(cancelled)
        }
        usleep(200_000)
        let result = fired.withLock { $0 }
        #expect(result.map(\.0) == [0, 1, 2])
        for (index, elapsed) in result {
            #expect(elapsed >= UInt64(20 + 20 * index) * 1_000_000)
        }
    }
}
