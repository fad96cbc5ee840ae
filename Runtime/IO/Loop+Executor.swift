/// The loop runs Swift async code two ways:
/// - as a `SerialExecutor`: an actor whose `unownedExecutor` is the loop runs only on its thread
///   (Durable Objects are such actors);
/// - through `taskExecutor`, a `TaskExecutor`: `Task(executorPreference: loop.taskExecutor)` keeps a
///   task's nonisolated code (a worker's `fetch`) on the loop.
///
/// The two are separate objects because a job must be run knowing which one it was enqueued on: a
/// nonisolated job run as if isolated to the loop's serial executor makes Swift hop away and back at its
/// next suspension point, an extra trip through the queue per `await`.
extension Loop: SerialExecutor {
    public func enqueue(_ job: consuming ExecutorJob) {
        enqueueJob(UnownedJob(job), serial: true)
    }

    public func asUnownedSerialExecutor() -> UnownedSerialExecutor {
        UnownedSerialExecutor(ordinary: self)
    }

    public func isSameExclusiveExecutionContext(other: Loop) -> Bool { self === other }

    public func checkIsolated() {
        precondition(inLoop, "expected to run on loop \(name)")
    }
}

/// The task executor of one loop (see `Loop.taskExecutor`).
public final class LoopTaskExecutor: TaskExecutor, @unchecked Sendable {
    unowned let loop: Loop

    init(loop: Loop) { self.loop = loop }

    public func enqueue(_ job: consuming ExecutorJob) {
        loop.enqueueJob(UnownedJob(job), serial: false)
    }

    public func asUnownedTaskExecutor() -> UnownedTaskExecutor {
        UnownedTaskExecutor(ordinary: self)
    }
}

extension Loop {
    /// Continues the calling task on this loop's thread. Use inside
    /// `withTaskExecutorPreference(loop.taskExecutor)`, where later code then stays on the loop.
    public nonisolated(nonsending) func hopHere() async {
        if inLoop { return }
        await withUnsafeContinuation { (continuation: UnsafeContinuation<Void, Never>) in
            execute { continuation.resume() }
        }
    }
}
