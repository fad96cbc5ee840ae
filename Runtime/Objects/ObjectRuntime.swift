import RuntimeAPI
import RuntimeCrypto
import RuntimeIO
import RuntimeStorage
import Synchronization
#if canImport(Glibc)
import Glibc
#endif

/// The Durable Objects side of a running server: namespaces (one per class binding), the per-loop
/// registries, and the alarm scheduler. An object is pinned to one loop by its id, and every event
/// for it runs there.
public final class ObjectRuntime: @unchecked Sendable {
    public let config: ObjectsConfig
    let loops: [Loop]
    let perLoop: [LoopObjects]
    /// Bindings to namespaces; a deploy may add some while loops read it, hence the lock.
    private let namespaceTable = Mutex<[String: ObjectNamespaceRuntime]>([:])
    var namespaces: [String: ObjectNamespaceRuntime] { namespaceTable.withLock { $0 } }
    private let currentEnv = Mutex(Env())
    /// What the app's worker and objects see (objects: at each (re)creation).
    public var env: Env { currentEnv.withLock { $0 } }
    private(set) var alarms: AlarmScheduler!
    /// Held while this runtime uses the state directory, so a second runtime cannot share it.
    private let stateLock: StateDirectoryLock

    struct SetupError: Error, CustomStringConvertible {
        let message: String
        var description: String { message }
    }

    /// Prepares namespace directories and keys and loads the alarm index. Runs before serving starts.
    public init(loops: [Loop], config: ObjectsConfig, classes: [String: any DurableObject.Type],
                vars: [String: String] = [:]) throws {
        precondition(!loops.isEmpty, "objects need at least one loop")
        self.config = config
        self.loops = loops
        try Self.makeDirectory(config.objectsDirectory)
        stateLock = try StateDirectoryLock(directory: config.objectsDirectory)
        // Before any database opens: bring them up to date from the journals of the last run.
        let journalDirectory = config.objectsDirectory + "/journal"
        try Self.makeDirectory(journalDirectory)
        let recovered = try JournalRecovery.recover(root: config.objectsDirectory, directory: journalDirectory)
        if recovered.records > 0 {
            Self.logStartup("objects: commit journal replayed \(recovered.applied) of \(recovered.records) journaled transactions into \(recovered.objects.count) objects")
        }
        perLoop = try loops.enumerated().map { index, loop in
            let journal = config.useCommitJournal
                ? try CommitJournal(loop: loop, root: config.objectsDirectory, directory: journalDirectory,
                                    name: "loop-\(index)")
                : nil
            return LoopObjects(loop: loop, maxLive: config.maxLiveObjectsPerLoop(loops: loops.count), journal: journal)
        }
        var objects: [String: any ObjectNamespace] = [:]
        for (binding, namespace) in try makeNamespaces(classes) {
            objects[binding] = namespace
        }
        currentEnv.withLock { $0 = Env(vars: vars, objects: objects) }
        alarms = try AlarmScheduler(loop: loops[0], path: config.objectsDirectory + "/alarms.sqlite", runtime: self)
        // The alarm index is written after each commit; a crash in between would leave it stale for an
        // object that is not opened again. Recovery read those objects' alarms: index them now.
        for object in recovered.objects {
            guard let (namespace, id) = objectAddress(relativePath: object.path) else { continue }
            alarms.update(namespace: namespace, id: id, at: object.alarm)
        }
        alarms.start()
    }

    /// The namespace and id of an object database path relative to the objects directory
    /// (`<binding>/<id hex>.sqlite`), if it names one of this runtime's objects.
    func objectAddress(relativePath path: String) -> (String, ObjectID)? {
        let parts = path.split(separator: "/")
        guard parts.count == 2, parts[1].hasSuffix(".sqlite"), let namespace = namespaces[String(parts[0])],
              let id = try? namespace.idFromString(String(parts[1].dropLast(".sqlite".count))) else { return nil }
        return (namespace.name, id)
    }

    private static func logStartup(_ line: String) {
        var text = line + "\n"
        _ = text.withUTF8 { write(STDERR_FILENO, $0.baseAddress, $0.count) }
    }

    /// Namespaces for `classes` (binding → class): existing ones get the new class (a deploy), new ones
    /// their directory and key. Bindings not listed keep their namespace (and data) but are not returned.
    private func makeNamespaces(_ classes: [String: any DurableObject.Type]) throws -> [String: ObjectNamespaceRuntime] {
        var bound: [String: ObjectNamespaceRuntime] = [:]
        for (binding, objectClass) in classes.sorted(by: { $0.key < $1.key }) {
            guard Self.isValidBinding(binding) else {
                throw SetupError(message: "object binding \"\(binding)\": use letters, digits and _ only")
            }
            if let existing = namespaces[binding] {
                if ObjectIdentifier(existing.current.objectClass) != ObjectIdentifier(objectClass) {
                    existing.replaceClass(objectClass)
                }
                bound[binding] = existing
                continue
            }
            let directory = config.objectsDirectory + "/" + binding
            try Self.makeDirectory(directory)
            let key = try Self.loadOrCreateKey(directory + "/namespace.key")
            let namespace = ObjectNamespaceRuntime(name: binding, objectClass: objectClass, uniqueKey: key,
                                                   directory: directory, runtime: self)
            namespaceTable.withLock { $0[binding] = namespace }
            bound[binding] = namespace
        }
        return bound
    }

    /// A deploy: new classes for the bindings (see `makeNamespaces`); returns the namespaces now bound.
    /// Live objects move to their new class at their next event; their sockets and storage stay.
    public func update(classes: [String: any DurableObject.Type]) throws -> [String: any ObjectNamespace] {
        try makeNamespaces(classes)
    }

    /// What workers and objects see from now on (objects: when next created).
    public func setEnv(_ env: Env) { currentEnv.withLock { $0 = env } }

    static func isValidBinding(_ name: String) -> Bool {
        !name.isEmpty && name.utf8.allSatisfy { ($0 >= 0x30 && $0 <= 0x39) || ($0 >= 0x41 && $0 <= 0x5A)
            || ($0 >= 0x61 && $0 <= 0x7A) || $0 == 0x5F }
    }

    /// The loop an object lives on: fixed by its id.
    func loopIndex(for id: ObjectID) -> Int {
        var value: UInt64 = 0
        for byte in id.bytes.prefix(8) { value = value << 8 | UInt64(byte) }
        return Int(value % UInt64(loops.count))
    }

    /// Runs `body` as an event of object `id`, on the object's loop.
    func deliver<Result>(to namespace: ObjectNamespaceRuntime, _ id: ObjectID,
                         _ body: (any DurableObject) async throws -> Result) async throws -> Result {
        let index = loopIndex(for: id)
        let loop = loops[index]
        let objects = perLoop[index]
        return try await withTaskExecutorPreference(loop.taskExecutor) {
            await loop.hopHere()
            return try await objects.host(namespace, id).deliver(body)
        }
    }

    /// Runs a due alarm (called by the scheduler); false when the handler failed.
    func runAlarm(namespace name: String, id: ObjectID) async -> Bool {
        guard let namespace = namespaces[name] else { return true }
        let index = loopIndex(for: id)
        let loop = loops[index]
        let objects = perLoop[index]
        return await withTaskExecutorPreference(loop.taskExecutor) {
            await loop.hopHere()
            return await objects.host(namespace, id).runAlarm()
        }
    }

    /// Deletes an alarm that failed every attempt.
    func giveUpAlarm(namespace name: String, id: ObjectID) async {
        guard let namespace = namespaces[name] else { return }
        _ = try? await deliver(to: namespace, id) { _ in
            let storage = try await self.storage(namespace, id)
            try storage.deleteAlarm()
        }
    }

    private func storage(_ namespace: ObjectNamespaceRuntime, _ id: ObjectID) async throws -> any DurableObjectStorage {
        try perLoop[loopIndex(for: id)].host(namespace, id).openStorage()
    }

    /// Objects with a live instance, across loops.
    public func liveInstances() async -> Int { await sumOverLoops { $0.liveInstances } }

    /// Evictions ask `trimmer` to give freed memory back to the system (set once, before serving).
    public func setMemoryTrimmer(_ trimmer: MemoryTrimmer) {
        for objects in perLoop { objects.loop.execute { objects.trimmer = trimmer } }
    }

    /// Hibernatable WebSockets open across loops.
    public func openWebSockets() async -> Int { await sumOverLoops { $0.openWebSockets } }

    /// Instances created since start, across loops.
    public func instancesCreated() async -> Int { await sumOverLoops { $0.instancesCreated } }

    /// What the storage of this runtime's objects has done since start, across loops: the admin API's
    /// stats, and `bench object`'s commits per fdatasync.
    public struct StorageCounters: Sendable, Equatable {
        /// Implicit transactions committed.
        public var commits = 0
        /// Commits the commit journal made durable (the rest synced their own WAL).
        public var journaledCommits = 0
        /// fdatasyncs that acknowledged writes waited for: journal syncs plus direct WAL syncs.
        public var fdatasyncs = 0
        /// Database and WAL files reopened after the descriptor pool had closed them, process-wide
        /// (every app's objects share the pool).
        public var fileReopens = 0
        /// WAL checkpoints run after commits, and the microseconds they took in all.
        public var checkpoints = 0
        public var checkpointMicroseconds = 0
        public init() {}
    }

    public func storageCounters() async -> StorageCounters {
        var total = StorageCounters()
        for objects in perLoop {
            let counters = await onLoop(of: objects) { objects -> StorageCounters in
                var counters = StorageCounters()
                counters.commits = objects.groupCommit.commitCount
                counters.journaledCommits = objects.groupCommit.journaledCount
                counters.fdatasyncs = objects.groupCommit.directSyncCount + (objects.groupCommit.journal?.flushCount ?? 0)
                counters.checkpoints = objects.groupCommit.checkpointCount
                counters.checkpointMicroseconds = Int(objects.groupCommit.checkpointNanoseconds / 1000)
                return counters
            }
            total.commits += counters.commits
            total.journaledCommits += counters.journaledCommits
            total.fdatasyncs += counters.fdatasyncs
            total.checkpoints += counters.checkpoints
            total.checkpointMicroseconds += counters.checkpointMicroseconds
        }
        total.fileReopens = SQLiteDatabase.descriptorPoolCounts.reopens
        return total
    }

    /// `read` of every loop's objects, run on that loop, summed.
    private func sumOverLoops(_ read: @escaping @Sendable (LoopObjects) -> Int) async -> Int {
        var total = 0
        for objects in perLoop { total += await onLoop(of: objects, read) }
        return total
    }

    private func onLoop<T: Sendable>(of objects: LoopObjects, _ read: @escaping @Sendable (LoopObjects) -> T) async -> T {
        await withCheckedContinuation { continuation in
            objects.loop.execute { continuation.resume(returning: read(objects)) }
        }
    }

    /// Evicts every idle object now (tests; shutdown closes databases this way).
    public func evictIdle() async {
        for objects in perLoop {
            await withCheckedContinuation { (continuation: CheckedContinuation<Void, Never>) in
                objects.loop.execute {
                    objects.evictIdle()
                    continuation.resume()
                }
            }
        }
    }

    /// Objects with work in flight across loops (shutdown waits for them), blocking the calling thread
    /// (not a loop) until every loop has counted.
    public func busyObjectsBlocking() -> Int {
        let total = Mutex((counted: 0, sum: 0))
        for objects in perLoop {
            objects.loop.execute {
                let busy = objects.busyObjects
                total.withLock { $0 = ($0.counted + 1, $0.sum + busy) }
            }
        }
        while total.withLock({ $0.counted }) < perLoop.count { usleep(500) }
        return total.withLock { $0.sum }
    }

    /// Evicts every idle object and closes the alarm index, blocking the calling thread (not a loop)
    /// until each loop has done so, or `timeout` passed. Shutdown uses it to close databases without
    /// needing a Swift task; afterwards the state directory can be opened by another runtime (databases
    /// are held in exclusive locking mode while open).
    public func closeBlocking(timeout: Duration = .seconds(2)) {
        let done = Mutex(0)
        for objects in perLoop {
            objects.loop.execute {
                objects.evictIdle()
                done.withLock { $0 += 1 }
            }
        }
        let alarms = self.alarms!
        alarms.loop.execute {
            alarms.close()
            done.withLock { $0 += 1 }
        }
        let deadline = MonotonicClock.now() + timeout.nanoseconds
        while done.withLock({ $0 }) < perLoop.count + 1, MonotonicClock.now() < deadline { usleep(1_000) }
        stateLock.release()
    }

    // MARK: Files

    static func makeDirectory(_ path: String) throws {
        if mkdir(path, 0o700) != 0, errno != EEXIST {
            throw SetupError(message: "cannot create \(path): \(String(cString: strerror(errno)))")
        }
    }

    /// The namespace's secret: ids are derived from it, so it is created once and kept (0600).
    static func loadOrCreateKey(_ path: String) throws -> [UInt8] {
        let fd = open(path, O_RDONLY | O_CLOEXEC)
        if fd >= 0 {
            defer { close(fd) }
            var key = [UInt8](repeating: 0, count: 32)
            let count = key.withUnsafeMutableBytes { read(fd, $0.baseAddress, 32) }
            guard count == 32 else { throw SetupError(message: "namespace key \(path) is damaged (expected 32 bytes)") }
            return key
        }
        let key = SecureRandom.bytes(32)
        let temporary = path + ".tmp"
        let out = open(temporary, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0o600)
        guard out >= 0 else { throw SetupError(message: "cannot create \(temporary): \(String(cString: strerror(errno)))") }
        let written = key.withUnsafeBytes { write(out, $0.baseAddress, 32) }
        fsync(out)
        close(out)
        guard written == 32, rename(temporary, path) == 0 else {
            throw SetupError(message: "cannot write namespace key \(path)")
        }
        return key
    }
}
