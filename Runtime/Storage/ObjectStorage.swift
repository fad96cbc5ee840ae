import CSQLite
import RuntimeAPI
import RuntimeIO
#if canImport(Glibc)
import Glibc
#endif

/// One Durable Object's storage: its SQLite database with the SQL API, the key-value API (table
/// `_rt_kv`) and the alarm (table `_rt_meta`).
///
/// Implicit transactions: the first write of a loop turn opens `BEGIN` and marks the storage dirty in
/// the loop's `GroupCommit`, which commits it at the end of the turn. Each implicit transaction gets a
/// sequence number; `committedSequence` and `durableSequence` say how far commits have got, and
/// `waitUntilDurable()` is the output gate's wait.
///
/// Threading: loop-bound (the object's loop). `@unchecked Sendable` because apps hold it from their
/// object actor, which runs on that same loop.
public final class ObjectStorage: DurableObjectStorage, SQLStorage, @unchecked Sendable {
    public let database: SQLiteDatabase
    let groupCommit: GroupCommit
    /// Number of the open (or last) implicit transaction.
    public private(set) var writeSequence: UInt64 = 0
    public internal(set) var committedSequence: UInt64 = 0
    public internal(set) var durableSequence: UInt64 = 0
    /// Set when a commit or sync failed; every later wait throws it until the object is reset.
    public internal(set) var broken: StorageError?
    private var savepointDepth = 0
    private var durabilityWaiters: [(sequence: UInt64, continuation: CheckedContinuation<Void, any Error>)] = []
    /// Outgoing messages held until the writes before them are durable, in send order.
    private var heldOutput: [(sequence: UInt64, action: () -> Void)] = []
    /// The first commit of a new database must also make its directory entries durable.
    var needsDirectorySync: Bool
    /// Pages in the WAL after the last commit (from sqlite3_wal_hook); drives checkpoints.
    var walPages: Int32 = 0
    /// Where a due checkpoint is: its WAL fdatasync in flight, or done (`GroupCommit` checkpoints next).
    var checkpointStep = CheckpointStep.none
    enum CheckpointStep { case none, walSyncing, walSynced }
    /// The alarm as committed in the database, and whether the open transaction changed it.
    private var alarmInTransaction: Int64?? = nil
    /// True while `alarm()` runs: the alarm reads as deleted until the handler finishes.
    public var alarmRunning = false
    /// Called after a commit that changed the alarm, with the new time (nil: deleted).
    public var onAlarmCommitted: ((Int64?) -> Void)?

    /// The number of the last committed transaction, written by every commit. The
    /// commit journal's records carry it, so recovery knows which of them a database already has.
    public private(set) var lsn: UInt64 = 0
    /// This database's path relative to the commit journal's root, when its commits may be journaled.
    let journalPath: String?
    /// Records the open transaction's app-table changes for the journal (only when `journalPath` is
    /// set), begun at its first app SQL write.
    private let capture: ChangeCapture?
    /// The open transaction's key-value and alarm writes, as the journal logs them (only when
    /// `journalPath` is set).
    private var journalOperations: [JournalOperation] = []

    /// Small key-value entries as of the last commit (nil: the key is absent), so a `get` of a key
    /// read or written lately skips SQLite (a counter's read was about 8 % of an increment's CPU).
    /// Only the KV API writes `_rt_kv` (the authorizer keeps app SQL out), so the cache sees every
    /// change: the open transaction's writes wait in `pendingValues` and join it at COMMIT; a rollback
    /// drops them.
    private var valueCache: [ExactKey: [UInt8]?] = [:]
    private var pendingValues: [ExactKey: PendingValue] = [:]
    /// A write of the open transaction: its value (nil: deleted), or `uncached` for a key or value too
    /// large to keep, which `get` then reads from SQLite without caching.
    enum PendingValue { case value([UInt8]?), uncached }
    /// Set by `deleteAll`, or by more writes in one transaction than `pendingLimit`: reads go to SQLite
    /// until COMMIT empties the cache.
    private var cacheBypassed = false
    /// A key compared and hashed by its UTF-8 bytes, as SQLite compares keys; Swift's `String`
    /// equality would merge keys that differ only in Unicode normalization.
    struct ExactKey: Hashable {
        let key: String
        static func == (a: ExactKey, b: ExactKey) -> Bool { a.key.utf8.elementsEqual(b.key.utf8) }
        func hash(into hasher: inout Hasher) {
            var key = key
            key.withUTF8 { hasher.combine(bytes: UnsafeRawBufferPointer($0)) }
        }
    }
    /// Bounds of the value cache, per object (at most about 32 KiB with its keys).
    enum ValueCache {
        static let entries = 32
        static let maxValueBytes = 512
        static let maxKeyBytes = 256
        /// Writes one transaction tracks before it bypasses the cache instead.
        static let pendingLimit = 256
    }

    /// The lsn lives in the key-value table under a BLOB key, which no app key (always TEXT) can equal
    /// and which sorts after every TEXT key (SQLite orders TEXT before BLOB). So it usually shares a page
    /// with the key written in the same transaction: a commit then writes one WAL frame, not two, and
    /// WAL frames are most of what a small commit costs. Key-value reads bound their scans with
    /// `key < x''` to leave it out.
    static let writeLSN = "INSERT OR REPLACE INTO _rt_kv (key, value) VALUES (x'00', ?)"

    /// The lsn a database holds (0 for one that has never committed through the runtime).
    public static func storedLSN(_ database: SQLiteDatabase) throws(SQLiteError) -> UInt64 {
        UInt64(try database.scalar("SELECT value FROM _rt_kv WHERE key = x'00'")?.int ?? 0)
    }

    /// WAL pages past which a checkpoint runs after the commit is durable (about 4 MiB at 4 KiB pages).
    public static let checkpointPages: Int32 = 1000
    /// WAL file length past which closing the database checkpoints it and truncates the WAL first
    /// (about 64 one-page commits, or a long WAL a checkpoint restarted). Below, the WAL stays as it is
    /// (durable already) and closing does no I/O, which keeps evicting many objects cheap.
    public static let closeCheckpointBytes = 256 * 1024

    public init(path: String, groupCommit: GroupCommit) throws {
        let existed = access(path, F_OK) == 0
        database = try SQLiteDatabase(path: path)
        self.groupCommit = groupCommit
        needsDirectorySync = !existed
        try database.execute("""
            CREATE TABLE IF NOT EXISTS _rt_kv (key TEXT PRIMARY KEY, value BLOB NOT NULL) WITHOUT ROWID;
            CREATE TABLE IF NOT EXISTS _rt_meta (name TEXT PRIMARY KEY, value) WITHOUT ROWID;
            """)
        lsn = try Self.storedLSN(database)
        if let root = groupCommit.journal?.root, path.hasPrefix(root + "/") {
            journalPath = String(path.dropFirst(root.count + 1))
            capture = ChangeCapture(database: database)
        } else {
            journalPath = nil
            capture = nil
        }
        let context = Unmanaged.passUnretained(self).toOpaque()
        sqlite3_wal_hook(database.handle, { context, _, _, pages in
            if let context { Unmanaged<ObjectStorage>.fromOpaque(context).takeUnretainedValue().walPages = pages }
            return SQLITE_OK
        }, context)
    }

    /// Closes the database. Call only when nothing is pending (`isIdle`).
    ///
    /// Closing does not checkpoint (the WAL already holds every commit durably, or the commit journal
    /// does until its retirement syncs this WAL), unless the WAL file is longer than `closeCheckpointBytes`:
    /// then a checkpoint with full syncs folds it into the database file first, so closed objects do
    /// not keep large WALs on disk.
    public func close() {
        capture?.end()
        journalOperations = []
        if !database.inTransaction, database.walFileBytes > Self.closeCheckpointBytes {
            try? database.checkpoint(truncate: true)
        }
        sqlite3_wal_hook(database.handle, nil, nil)
        database.close()
    }

    /// No open transaction, every commit durable and no message held: safe to evict.
    public var isIdle: Bool {
        !database.inTransaction && durableSequence == committedSequence && broken == nil && heldOutput.isEmpty
    }

    public var sql: any SQLStorage { self }

    // MARK: Implicit transactions

    /// Opens the turn's implicit transaction before a write.
    func beginWrite() throws {
        if let broken { throw broken }
        guard !database.inTransaction else { return }
        dropPendingValues()
        do {
            try database.executeCached("BEGIN")
        } catch {
            if database.inTransaction { try? database.execute("ROLLBACK") }
            throw StorageError.sql(code: error.code, message: error.message)
        }
        writeSequence += 1
        groupCommit.markDirty(self)
    }

    /// Whether the group commit may commit now (no `transaction {}` is open).
    var canCommit: Bool { database.inTransaction && savepointDepth == 0 }

    /// COMMITs the implicit transaction (no fsync: `GroupCommit` makes it durable). Returns what it did
    /// when the commit journal can carry that; nil means only this database's own WAL can make it
    /// durable (a new database, a schema change, or a table a changeset cannot describe).
    func commit() throws(SQLiteError) -> [JournalOperation]? {
        let next = lsn + 1
        try database.executeCached(Self.writeLSN, [.integer(Int64(next))])
        var operations: [JournalOperation]? = nil
        if journalPath != nil {
            var logged = journalOperations
            var replayable = !needsDirectorySync && !database.sawSchemaChange
            if database.sawSchemaChange { capture?.noteSchemaChange() }
            if let capture, capture.isRecording {
                if let changeset = try capture.finish() {
                    if !changeset.isEmpty { logged.append(.changeset(changeset)) }
                } else {
                    replayable = false
                }
            }
            if replayable { operations = logged }
        }
        journalOperations = []
        database.sawSchemaChange = false
        try database.executeCached("COMMIT")
        foldPendingValues()
        lsn = next
        committedSequence = writeSequence
        if let change = alarmInTransaction {
            alarmInTransaction = nil
            onAlarmCommitted?(change)
        }
        return operations
    }

    /// Rolls back after a failed commit and breaks the storage, failing everyone waiting.
    func fail(_ reason: String) {
        capture?.end()
        journalOperations = []
        dropPendingValues()
        valueCache = [:]
        database.sawSchemaChange = false
        if database.inTransaction { try? database.execute("ROLLBACK") }
        alarmInTransaction = nil
        let error = StorageError.objectReset(reason)
        broken = error
        heldOutput = []
        let waiters = durabilityWaiters
        durabilityWaiters = []
        for waiter in waiters { waiter.continuation.resume(throwing: error) }
    }

    /// Marks commits up to `sequence` durable and releases the responses waiting for them.
    func markDurable(upTo sequence: UInt64) {
        durableSequence = max(durableSequence, sequence)
        if !heldOutput.isEmpty { releaseHeldOutput() }
        guard !durabilityWaiters.isEmpty else { return }
        var remaining: [(sequence: UInt64, continuation: CheckedContinuation<Void, any Error>)] = []
        for waiter in durabilityWaiters {
            if waiter.sequence <= durableSequence { waiter.continuation.resume() } else { remaining.append(waiter) }
        }
        durabilityWaiters = remaining
    }

    /// The output gate for messages: runs `action` now if every write made so far is durable (and nothing
    /// is held before it), otherwise once they are. Dropped if their commit fails: nothing sent after a
    /// write that never became durable reaches anyone.
    public func whenDurable(_ action: @escaping () -> Void) {
        guard broken == nil else { return }
        let target = database.inTransaction ? writeSequence : committedSequence
        if heldOutput.isEmpty, durableSequence >= target {
            action()
        } else {
            heldOutput.append((target, action))
        }
    }

    private func releaseHeldOutput() {
        var released = 0
        for held in heldOutput {
            guard held.sequence <= durableSequence else { break }
            released += 1
        }
        guard released > 0 else { return }
        let ready = heldOutput.prefix(released)
        heldOutput.removeFirst(released)
        for held in ready { held.action() }
    }

    /// The output gate: returns once every write made so far is durable; throws if its commit failed.
    public func waitUntilDurable() async throws {
        if let broken { throw broken }
        let target = database.inTransaction ? writeSequence : committedSequence
        guard durableSequence < target else { return }
        try await withCheckedThrowingContinuation { continuation in
            durabilityWaiters.append((target, continuation))
        }
    }

    // MARK: SQL

    public func exec(_ sql: String, _ bindings: [SQLValue]) throws -> SQLCursor {
        if let broken { throw broken }
        defer { checkTransactionSurvived() }
        return try database.runAppSQL(sql, bindings) {
            try beginWrite()
            if let capture, !capture.isRecording {
                try run { try capture.begin() }
            }
        }
    }

    /// Logs a key-value or alarm write of the open transaction for the journal.
    private func log(_ operation: JournalOperation) {
        if journalPath != nil { journalOperations.append(operation) }
    }

    /// App SQL can end the implicit transaction behind the runtime's back (`INSERT OR ROLLBACK`, or an
    /// error after which SQLite rolls back on its own). The turn's earlier writes are then gone, and must
    /// not be reported durable: break the storage, so the object resets and waiting callers get an error.
    private func checkTransactionSurvived() {
        guard broken == nil, committedSequence < writeSequence, !database.inTransaction else { return }
        fail("SQL rolled back the implicit transaction; this event's and other events' uncommitted writes were lost")
    }

    public var databaseSize: Int { database.size }

    // MARK: Key-value

    static func check(key: String) throws {
        let bytes = key.utf8.count
        guard bytes <= StorageLimits.maxKeyBytes else {
            throw StorageError.keyTooLarge(bytes: bytes, limit: StorageLimits.maxKeyBytes)
        }
    }

    static func check(batch count: Int) throws {
        guard count <= StorageLimits.maxBatchKeys else {
            throw StorageError.tooManyKeys(count: count, limit: StorageLimits.maxBatchKeys)
        }
    }

    public func get(_ key: String) throws -> [UInt8]? {
        try Self.check(key: key)
        if !database.inTransaction { dropPendingValues() }
        if !cacheBypassed {
            let exact = ExactKey(key: key)
            // Most reads come in a turn that has written nothing: skip hashing the key for an empty table.
            switch pendingValues.isEmpty ? nil : pendingValues[exact] {
            case .value(let value): return value
            case .uncached: return try read(key)
            case nil: if let cached = valueCache[exact] { return cached }
            }
            let value = try read(key)
            // Not written by the open transaction (checked above), so this is the committed value.
            cache(exact, value, in: &valueCache)
            return value
        }
        return try read(key)
    }

    private func read(_ key: String) throws -> [UInt8]? {
        try run { try database.scalar("SELECT value FROM _rt_kv WHERE key = ?", [.text(key)]) }?.bytes
    }

    // MARK: Value cache

    /// Keeps `value` of `key` in `cache` when both are small; a full cache starts over (simpler than
    /// LRU, and an object's hot keys come back after one read each).
    private func cache(_ key: ExactKey, _ value: [UInt8]?, in cache: inout [ExactKey: [UInt8]?]) {
        guard Self.fitsCache(key, value) else {
            cache[key] = nil
            return
        }
        if cache.count >= ValueCache.entries, cache[key] == nil { cache.removeAll(keepingCapacity: true) }
        cache[key] = .some(value)
    }

    private static func fitsCache(_ key: ExactKey, _ value: [UInt8]?) -> Bool {
        key.key.utf8.count <= ValueCache.maxKeyBytes && (value?.count ?? 0) <= ValueCache.maxValueBytes
    }

    /// A write of the open transaction (nil: deleted), read back by `get` until COMMIT.
    private func notePending(_ key: String, _ value: [UInt8]?) {
        guard !cacheBypassed else { return }
        guard pendingValues.count < ValueCache.pendingLimit else {
            pendingValues.removeAll(keepingCapacity: true)
            cacheBypassed = true
            return
        }
        let exact = ExactKey(key: key)
        pendingValues[exact] = Self.fitsCache(exact, value) ? .value(value) : .uncached
    }

    /// After COMMIT: the transaction's writes become the cached committed values.
    private func foldPendingValues() {
        if cacheBypassed {
            valueCache.removeAll(keepingCapacity: true)
            cacheBypassed = false
        }
        for (key, pending) in pendingValues {
            switch pending {
            case .value(let value): cache(key, value, in: &valueCache)
            case .uncached: valueCache[key] = nil
            }
        }
        pendingValues.removeAll(keepingCapacity: true)
    }

    /// The open transaction is gone without a COMMIT: its writes never happened.
    private func dropPendingValues() {
        if !pendingValues.isEmpty { pendingValues.removeAll(keepingCapacity: true) }
        cacheBypassed = false
    }

    public func get(_ keys: [String]) throws -> [String: [UInt8]] {
        try Self.check(batch: keys.count)
        var found: [String: [UInt8]] = [:]
        for key in keys {
            if let value = try get(key) { found[key] = value }
        }
        return found
    }

    public func put(_ key: String, _ value: [UInt8]) throws {
        try Self.check(key: key)
        guard value.count <= StorageLimits.maxValueBytes else {
            throw StorageError.valueTooLarge(bytes: value.count, limit: StorageLimits.maxValueBytes)
        }
        try beginWrite()
        try run { try database.executeCached("INSERT OR REPLACE INTO _rt_kv (key, value) VALUES (?, ?)", [.text(key), .blob(value)]) }
        notePending(key, value)
        log(.put(key: key, value: value))
    }

    public func put(_ entries: [String: [UInt8]]) throws {
        try Self.check(batch: entries.count)
        for (key, value) in entries {
            try Self.check(key: key)
            guard value.count <= StorageLimits.maxValueBytes else {
                throw StorageError.valueTooLarge(bytes: value.count, limit: StorageLimits.maxValueBytes)
            }
        }
        try transaction {
            for (key, value) in entries { try put(key, value) }
        }
    }

    @discardableResult
    public func delete(_ key: String) throws -> Bool {
        try Self.check(key: key)
        try beginWrite()
        try run { try database.executeCached("DELETE FROM _rt_kv WHERE key = ?", [.text(key)]) }
        notePending(key, nil)
        let existed = database.changes > 0
        if existed { log(.delete(key: key)) }
        return existed
    }

    @discardableResult
    public func delete(_ keys: [String]) throws -> Int {
        try Self.check(batch: keys.count)
        var count = 0
        try transaction {
            for key in keys {
                if try delete(key) { count += 1 }
            }
        }
        return count
    }

    public func list(_ options: ListOptions) throws -> [(key: String, value: [UInt8])] {
        if let limit = options.limit, limit <= 0 { throw StorageError.invalidArgument("list limit must be positive") }
        var conditions: [String] = []
        var bindings: [SQLValue] = []
        if let start = options.start {
            conditions.append("key >= ?")
            bindings.append(.text(start))
        }
        if let end = options.end {
            conditions.append("key < ?")
            bindings.append(.text(end))
        }
        if let prefix = options.prefix, !prefix.isEmpty {
            // Keys starting with the prefix sort between the prefix and the prefix followed by the
            // highest byte; compared as blobs so the bound is exact for any UTF-8.
            conditions.append("CAST(key AS BLOB) >= CAST(? AS BLOB) AND substr(CAST(key AS BLOB), 1, ?) = CAST(? AS BLOB)")
            bindings.append(.text(prefix))
            bindings.append(.integer(Int64(prefix.utf8.count)))
            bindings.append(.text(prefix))
        }
        // Only TEXT keys: the runtime's own BLOB-keyed row sorts after them.
        conditions.append("key < x''")
        var sql = "SELECT key, value FROM _rt_kv WHERE " + conditions.joined(separator: " AND ")
        sql += options.reverse ? " ORDER BY key DESC" : " ORDER BY key ASC"
        if let limit = options.limit { sql += " LIMIT \(limit)" }
        let rows = try run { try database.query(sql, bindings) }
        return rows.map { (key: $0[0].string ?? "", value: $0[1].bytes ?? []) }
    }

    // MARK: Transactions

    public func transaction<T>(_ body: () throws -> T) throws -> T {
        try beginWrite()
        savepointDepth += 1
        let name = "_rt_savepoint_\(savepointDepth)"
        defer { savepointDepth -= 1 }
        try run { try database.execute("SAVEPOINT \(name)") }
        let alarmBefore = alarmInTransaction
        let loggedBefore = journalOperations.count
        let pendingBefore = pendingValues, bypassedBefore = cacheBypassed
        do {
            let result = try body()
            try run { try database.execute("RELEASE \(name)") }
            return result
        } catch {
            try? database.execute("ROLLBACK TO \(name)")
            try? database.execute("RELEASE \(name)")
            alarmInTransaction = alarmBefore
            journalOperations.removeSubrange(min(loggedBefore, journalOperations.count)...)
            pendingValues = pendingBefore
            cacheBypassed = bypassedBefore
            throw error
        }
    }

    public func deleteAll() throws {
        try beginWrite()
        // Dropping tables is a schema change: this transaction cannot be journaled.
        database.sawSchemaChange = true
        try transaction {
            let tables = try run {
                // `_` is a LIKE wildcard, hence the escapes: SQLite reserves names starting "sqlite_".
                try database.query("""
                    SELECT type, name FROM sqlite_master WHERE type IN ('table', 'view')
                    AND name NOT LIKE 'sqlite\\_%' ESCAPE '\\' AND name NOT LIKE '\\_rt\\_%' ESCAPE '\\'
                    """)
            }
            try run {
                // foreign_keys cannot change inside a transaction; deferring the checks to COMMIT lets
                // tables that reference each other be dropped in any order.
                try database.execute("PRAGMA defer_foreign_keys=ON")
                // Views first: a view may name a table, never the other way round.
                for row in tables.sorted(by: { ($0[0].string == "view") && ($1[0].string != "view") }) {
                    guard let type = row[0].string, let name = row[1].string else { continue }
                    let kind = type == "view" ? "VIEW" : "TABLE"
                    try database.execute("DROP \(kind) IF EXISTS \(Self.quotedIdentifier(name))")
                }
                try database.execute("DELETE FROM _rt_kv")
            }
            pendingValues.removeAll()
            cacheBypassed = true
            try deleteAlarm()
        }
    }

    // MARK: Alarm

    public func setAlarm(atMilliseconds time: Int64) throws {
        try beginWrite()
        try run { try database.executeCached("INSERT OR REPLACE INTO _rt_meta (name, value) VALUES ('alarm', ?)", [.integer(time)]) }
        log(.setAlarm(time))
        alarmInTransaction = .some(time)
        alarmRunning = false
    }

    public func getAlarm() throws -> Int64? {
        if alarmRunning { return nil }
        return try storedAlarm()
    }

    /// The alarm as stored, regardless of a running handler.
    public func storedAlarm() throws -> Int64? {
        try run { try database.scalar("SELECT value FROM _rt_meta WHERE name = 'alarm'") }.flatMap { value in
            if case .integer(let time) = value { return time }
            return nil
        }
    }

    public func deleteAlarm() throws {
        try beginWrite()
        try run { try database.executeCached("DELETE FROM _rt_meta WHERE name = 'alarm'") }
        log(.deleteAlarm)
        alarmInTransaction = .some(nil)
    }

    /// `name` as a double-quoted SQL identifier.
    static func quotedIdentifier(_ name: String) -> String {
        var out = "\""
        for character in name {
            out.append(character)
            if character == "\"" { out.append("\"") }
        }
        return out + "\""
    }

    /// Runs runtime SQL, turning SQLite's error into the app-facing one.
    private func run<T>(_ body: () throws -> T) throws -> T {
        do {
            return try body()
        } catch let error as SQLiteError {
            throw StorageError.sql(code: error.code, message: error.message)
        }
    }
}
