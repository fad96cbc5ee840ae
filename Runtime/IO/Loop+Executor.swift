/// The loop runs Swift async code: an actor whose `unownedExecutor` is a loop runs only on that loop's
/// thread, and `Task(executorPreference: loop)` keeps a task's nonisolated code there too. Jobs run
/// between completion batches (see `Loop`).
extension Loop: SerialExecutor, TaskExecutor {
    public func enqueue(_ job: consuming ExecutorJob) {
        enqueueJob(UnownedJob(job))
    }

    public func asUnownedSerialExecutor() -> UnownedSerialExecutor {
        UnownedSerialExecutor(ordinary: self)
    }

    public func asUnownedTaskExecutor() -> UnownedTaskExecutor {
        UnownedTaskExecutor(ordinary: self)
    }

    public func isSameExclusiveExecutionContext(other: Loop) -> Bool { self === other }

    public func checkIsolated() {
        precondition(inLoop, "expected to run on loop \(name)")
    }
}
