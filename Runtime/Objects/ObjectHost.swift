import RuntimeAPI
import RuntimeIO
import RuntimeStorage

/// One live Durable Object on its loop: the instance (created on demand), its storage, its input gate,
/// and its idle timer. Every event goes through `deliver`, which is where the input gate, the implicit
/// transaction's output gate and resets happen.
///
/// Threading: loop-bound (the object's loop). Events arrive as tasks running on that loop, and the
/// instance is an actor on the same loop's serial executor, so this state is never touched concurrently.
final class ObjectHost: ObjectInputGate, @unchecked Sendable {
    let namespace: ObjectNamespaceRuntime
    let id: ObjectID
    let loopObjects: LoopObjects
    private(set) var storage: ObjectStorage?
    private(set) var instance: (any DurableObject)?
    private var eventsInFlight = 0
    private var gateDepth = 0
    private var gateWaiters: [CheckedContinuation<Void, Never>] = []
    private(set) var lastActivity: UInt64 = 0
    private var idleTimer: LoopTimer?
    private(set) var evicted = false

    init(namespace: ObjectNamespaceRuntime, id: ObjectID, loopObjects: LoopObjects) {
        self.namespace = namespace
        self.id = id
        self.loopObjects = loopObjects
    }

    var loop: Loop { loopObjects.loop }
    var key: String { namespace.name + "/" + id.hex }
    var isLive: Bool { instance != nil }

    /// Runs one event against the instance: waits at the input gate, creates the instance if needed,
    /// runs `body`, then holds the result until the event's writes are durable (the output gate).
    func deliver<Result>(_ body: (any DurableObject) async throws -> Result) async throws -> Result {
        loop.preconditionOnLoop()
        precondition(!evicted, "event delivered to an evicted object host")
        // Counted before the gate, so an event waiting there keeps the object from being evicted.
        eventsInFlight += 1
        await enterGate()
        defer {
            eventsInFlight -= 1
            noteActivity()
        }
        let instance = try activate()
        let result: Result
        do {
            result = try await body(instance)
        } catch {
            try await releaseOutput()
            throw error
        }
        try await releaseOutput()
        return result
    }

    /// The output gate: wait for this object's writes to be durable; reset it if they cannot be.
    private func releaseOutput() async throws {
        guard let storage else { return }
        do {
            try await storage.waitUntilDurable()
        } catch {
            reset()
            throw error
        }
    }

    /// Creates the instance (and opens storage) unless it is live.
    private func activate() throws -> any DurableObject {
        if let instance { return instance }
        let storage = try openStorage()
        let state = DurableObjectState(id: id, storage: storage, executor: loop.asUnownedSerialExecutor(), gate: self)
        let created = namespace.objectClass.init(state: state, env: namespace.runtime.env)
        instance = created
        loopObjects.instancesCreated += 1
        return created
    }

    func openStorage() throws -> ObjectStorage {
        if let storage { return storage }
        let opened = try ObjectStorage(path: namespace.databasePath(for: id), groupCommit: loopObjects.groupCommit)
        let namespaceName = namespace.name
        let id = self.id
        let scheduler: AlarmScheduler = namespace.runtime.alarms
        opened.onAlarmCommitted = { time in scheduler.update(namespace: namespaceName, id: id, at: time) }
        // The alarm index may have missed a change before a crash; the object's own table is the truth.
        if let stored = try? opened.storedAlarm() {
            scheduler.update(namespace: namespaceName, id: id, at: stored)
        }
        storage = opened
        return opened
    }

    /// Drops the instance and its storage after a failed commit: nothing of the failed write stays
    /// visible, and the next event starts from what is durable.
    func reset() {
        instance = nil
        storage?.close()
        storage = nil
    }

    // MARK: Input gate

    private func enterGate() async {
        guard gateDepth > 0 else { return }
        await withCheckedContinuation { gateWaiters.append($0) }
    }

    func blockConcurrencyWhile<T: Sendable>(_ body: @Sendable () async throws -> T) async throws -> T {
        gateDepth += 1
        defer {
            gateDepth -= 1
            if gateDepth == 0 {
                let waiters = gateWaiters
                gateWaiters = []
                for waiter in waiters { waiter.resume() }
            }
        }
        do {
            return try await body()
        } catch {
            // A failed critical section leaves the object in an unknown state: start it afresh.
            instance = nil
            throw error
        }
    }

    // MARK: Alarms

    /// Runs the alarm handler if the stored alarm is due. Returns false if the handler threw.
    func runAlarm() async -> Bool {
        do {
            return try await deliver { instance in
                guard let storage = self.storage, let scheduled = try storage.storedAlarm(),
                      scheduled <= WallClock.milliseconds() else { return true }
                storage.alarmRunning = true
                do {
                    try await instance.alarm()
                } catch {
                    storage.alarmRunning = false
                    return false
                }
                if storage.alarmRunning {
                    storage.alarmRunning = false
                    // At-least-once: the alarm is deleted only now that the handler succeeded.
                    if try storage.storedAlarm() == scheduled { try storage.deleteAlarm() }
                }
                return true
            }
        } catch {
            return false
        }
    }

    // MARK: Eviction

    private func noteActivity() {
        lastActivity = loop.now
        guard eventsInFlight == 0 else { return }
        if idleTimer == nil {
            idleTimer = LoopTimer { [weak self] in self?.idleTimerFired() }
        }
        if let timer = idleTimer, !timer.isArmed {
            loop.arm(timer, at: lastActivity + namespace.runtime.config.idleTimeout.nanoseconds)
        }
    }

    private func idleTimerFired() {
        let due = lastActivity + namespace.runtime.config.idleTimeout.nanoseconds
        guard eventsInFlight == 0, gateDepth == 0, storage?.isIdle ?? true else {
            if let idleTimer { loop.arm(idleTimer, after: .milliseconds(100)) }
            return
        }
        if loop.now < due {
            if let idleTimer { loop.arm(idleTimer, at: due) }
            return
        }
        evict()
    }

    var isIdleForEviction: Bool { eventsInFlight == 0 && gateDepth == 0 && (storage?.isIdle ?? true) }

    /// Drops the instance from memory and closes its database; the registry forgets it.
    func evict() {
        guard !evicted else { return }
        evicted = true
        if let idleTimer { loop.cancel(idleTimer) }
        instance = nil
        storage?.close()
        storage = nil
        loopObjects.remove(self)
    }
}
