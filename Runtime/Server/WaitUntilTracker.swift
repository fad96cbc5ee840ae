import RuntimeAPI
import RuntimeIO
import Synchronization
#if canImport(Glibc)
import Glibc
#endif

/// Counts `ctx.waitUntil` work still running, so shutdown can give it the grace period.
final class WaitUntilTracker: Sendable {
    private let running = Mutex(0)

    var count: Int { running.withLock { $0 } }

    /// Starts `work` as a task that runs on `loop`, like the request that scheduled it, and tracks it.
    func start(on loop: Loop, _ work: @escaping @Sendable () async throws -> Void) {
        running.withLock { $0 += 1 }
        Task(executorPreference: loop.taskExecutor) {
            do {
                try await work()
            } catch {
                let line = "{\"level\":\"error\",\"msg\":\"waitUntil work failed\",\"error\":\(jsonQuoted("\(error)"))}\n"
                _ = line.withCString { write(2, $0, strlen($0)) }
            }
            self.running.withLock { $0 -= 1 }
        }
    }
}
