@_spi(Runtime) import RuntimeAPI
import RuntimeIO
import RuntimeStorage
#if canImport(Glibc)
import Glibc
#endif

/// One live Durable Object on its loop: the instance (created on demand), its storage, its input gate,
/// and its idle timer. Every event goes through `deliver`, which is where the input gate, the implicit
/// transaction's output gate and resets happen.
///
/// Threading: loop-bound (the object's loop). Events arrive as tasks running on that loop, and the
/// instance is an actor on the same loop's serial executor, so this state is never touched concurrently.
final class ObjectHost: ObjectInputGate, OutputGateScope, @unchecked Sendable {
    let namespace: ObjectNamespaceRuntime
    let id: ObjectID
    let loopObjects: LoopObjects
    private(set) var storage: ObjectStorage?
    private(set) var instance: (any DurableObject)?
    /// The namespace's code version `instance` was made with.
    private var instanceVersion = 0
    private var eventsInFlight = 0
    private var gateDepth = 0
    private var gateWaiters: [CheckedContinuation<Void, Never>] = []
    private(set) var lastActivity: UInt64 = 0
    private var idleTimer: LoopTimer?
    private(set) var evicted = false
    /// Sockets accepted with `WebSocket.accept()` during this object's events: while any is open the
    /// object stays in memory (their event loops run in its instance).
    private var standardSockets = 0

    init(namespace: ObjectNamespaceRuntime, id: ObjectID, loopObjects: LoopObjects) {
        self.namespace = namespace
        self.id = id
        self.loopObjects = loopObjects
    }

    var loop: Loop { loopObjects.loop }
    var key: String { namespace.name + "/" + id.hex }
    var isLive: Bool { instance != nil }

    /// Counts an event that will be delivered shortly (`deliver(counted: true)`), so the object cannot be
    /// evicted in between.
    func notePendingEvent() { eventsInFlight += 1 }

    /// Runs one event against the instance: waits at the input gate, creates the instance if needed,
    /// runs `body` (with this host as the output gate for WebSocket sends), then holds the result until
    /// the event's writes are durable (the output gate).
    func deliver<Result>(counted: Bool = false, _ body: (any DurableObject) async throws -> Result) async throws -> Result {
        loop.preconditionOnLoop()
        precondition(!evicted, "event delivered to an evicted object host")
        // Counted before the gate, so an event waiting there keeps the object from being evicted.
        if !counted { eventsInFlight += 1 }
        await enterGate()
        defer {
            eventsInFlight -= 1
            noteActivity()
        }
        let instance = try activate()
        let result: Result
        do {
            result = try await OutputGate.$current.withValue(self) { try await body(instance) }
        } catch {
            try await releaseOutput()
            throw error
        }
        try await releaseOutput()
        return result
    }

    // MARK: Output gate for messages

    func release(_ action: @escaping @Sendable () -> Void) {
        guard loop.inLoop else {
            loop.execute { self.release(action) }
            return
        }
        if let storage { storage.whenDurable(action) } else { action() }
    }

    func socketOpened() {
        guard loop.inLoop else { return loop.execute { self.socketOpened() } }
        standardSockets += 1
    }

    func socketEnded() {
        guard loop.inLoop else { return loop.execute { self.socketEnded() } }
        standardSockets -= 1
        noteActivity()
    }

    // MARK: Hibernatable WebSockets (ObjectInputGate)

    func acceptWebSocket(_ socket: WebSocket, tags: [String]) throws {
        loop.preconditionOnLoop()
        try loopObjects.sockets(for: namespace, id).accept(socket, tags: tags)
        UpgradeTracker.current?.note(socket)
    }

    func webSockets(tag: String?) -> [WebSocket] {
        loopObjects.existingSockets(namespace, id)?.sockets(tag: tag) ?? []
    }

    func setWebSocketAutoResponse(_ pair: WebSocketAutoResponse?) {
        loopObjects.sockets(for: namespace, id).autoResponse = pair
    }

    var webSocketAutoResponse: WebSocketAutoResponse? { loopObjects.existingSockets(namespace, id)?.autoResponse }

    /// Logs an event that failed outside a caller that could see the error (WebSocket events).
    func logEventError(_ event: String, _ error: any Error) {
        var line = "{\"level\":\"error\",\"msg\":\"object event failed\",\"event\":\"\(event)\","
            + "\"object\":\"\(key)\",\"error\":\"\(String(describing: error).replacingQuotes)\"}\n"
        _ = line.withUTF8 { write(STDERR_FILENO, $0.baseAddress, $0.count) }
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

    /// Creates the instance (and opens storage) unless it is live. A deploy that changed the class makes
    /// the next event start a new instance of it, once no event runs in the old one; sockets and storage
    /// carry over.
    private func activate() throws -> any DurableObject {
        let code = namespace.current
        if let instance, instanceVersion == code.version || eventsInFlight > 1 { return instance }
        let storage = try openStorage()
        let state = DurableObjectState(id: id, storage: storage, executor: loop.asUnownedSerialExecutor(), gate: self)
        let created = code.objectClass.init(state: state, env: namespace.runtime.env)
        instance = created
        instanceVersion = code.version
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
    /// visible, and the next event starts from what is durable. Its hibernatable sockets are closed
    /// (1011): messages it sent after the failed write were dropped, and clients must resynchronise.
    func reset() {
        instance = nil
        storage?.close()
        storage = nil
        loopObjects.existingSockets(namespace, id)?.closeAll(code: 1011, reason: "object reset")
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
        guard isIdleForEviction else {
            if let idleTimer { loop.arm(idleTimer, after: .milliseconds(100)) }
            return
        }
        if loop.now < due {
            if let idleTimer { loop.arm(idleTimer, at: due) }
            return
        }
        evict()
    }

    /// An event is running or waiting, or a critical section holds the gate, or a commit is not durable
    /// yet (standard sockets do not count: they are not work that finishes on its own).
    var hasWorkInFlight: Bool { eventsInFlight > 0 || gateDepth > 0 || !(storage?.isIdle ?? true) }

    var isIdleForEviction: Bool {
        eventsInFlight == 0 && gateDepth == 0 && standardSockets == 0 && (storage?.isIdle ?? true)
    }

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

extension String {
    /// The text with `"` and `\` escaped, for a JSON string.
    fileprivate var replacingQuotes: String {
        var out = ""
        for character in self {
            if character == "\"" || character == "\\" { out.append("\\") }
            if character == "\n" { out += "\\n"; continue }
            out.append(character)
        }
        return out
    }
}
