import CSQLite
import RuntimeAPI
#if canImport(Glibc)
import Glibc
#endif

/// One SQLite database file, opened in WAL mode. Generic: it knows nothing of objects.
///
/// Durability is not SQLite's job here: the database runs with `synchronous=OFF` (COMMIT writes the WAL
/// but does not fsync) and `wal_autocheckpoint=0`, because `GroupCommit` fdatasyncs the WAL itself,
/// asynchronously and shared across commits, and runs checkpoints with full sync.
///
/// App SQL runs under an authorizer that refuses the runtime's `_rt_` tables, transaction control,
/// ATTACH and PRAGMAs; the runtime's own SQL (string literals in this module) runs unchecked.
///
/// Threading: belongs to one loop thread; not Sendable.
public final class SQLiteDatabase {
    let handle: OpaquePointer
    public let path: String
    private var cache: [String: SQLiteStatement] = [:]
    /// True while app SQL runs, so the authorizer applies.
    fileprivate var authorizing = false
    /// Set when app SQL was allowed to change the schema; the owner reads and clears it per transaction
    /// (a schema change cannot be replayed from the commit journal).
    var sawSchemaChange = false
    public private(set) var closed = false

    /// The VFS databases open through: SQLite's unix VFS without file locks (each database has one
    /// connection, in one process, and `StateDirectoryLock` keeps other runtimes out, so POSIX locks
    /// guard nothing here, while the locking VFS walks a list of every open file at each open and
    /// close), whose database and WAL descriptors are pooled (`PooledVFS`), so open databases are not
    /// bounded by the descriptor limit. Without shared-memory methods SQLite allows WAL only in
    /// exclusive locking mode, which every connection sets first.
    public static var vfs: String { PooledVFS.registered() }
    /// The descriptor pool's counts across the process: descriptors held now, closed to make room, and
    /// files reopened after that (for stats and `bench`).
    public static var descriptorPoolCounts: (open: Int, evictions: Int, reopens: Int) { DescriptorPool.shared.counts }
    /// Lookaside slots per connection: 16 of 1200 bytes (SQLite's default is about 100, 120 KiB), since
    /// a loop keeps thousands of object databases open and each is used by small statements.
    static let lookasideSlotBytes: Int32 = 1200
    static let lookasideSlots: Int32 = 16
    /// Statements kept prepared per database.
    static let statementCacheSize = 64
    /// The WAL length a checkpoint leaves the file at (SQLite's `journal_size_limit`): room for about
    /// a thousand one-page commits, the WAL length `ObjectStorage` checkpoints at.
    public static let walKeptBytes = 4 * 1024 * 1024 + 256 * 1024

    public init(path: String) throws(SQLiteError) {
        self.path = path
        var db: OpaquePointer? = nil
        let flags = SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_NOMUTEX
        let result = sqlite3_open_v2(path, &db, flags, Self.vfs)
        guard result == SQLITE_OK, let db else {
            // sqlite3_open_v2 returns a handle even on failure; it must be closed either way.
            let error = SQLiteError(result, db: db, sql: nil)
            sqlite3_close(db)
            throw SQLiteError(code: error.code, extendedCode: error.extendedCode,
                              message: "cannot open \(path): \(error.message)")
        }
        handle = db
        sqlite3_extended_result_codes(db, 1)
        _ = csqlite_set_lookaside(db, Self.lookasideSlotBytes, Self.lookasideSlots)
        _ = csqlite_enable_defensive(db)
        sqlite3_limit(db, SQLITE_LIMIT_SQL_LENGTH, Int32(StorageLimits.maxStatementBytes))
        sqlite3_limit(db, SQLITE_LIMIT_VARIABLE_NUMBER, Int32(StorageLimits.maxBindings))
        sqlite3_limit(db, SQLITE_LIMIT_ATTACHED, 0)
        sqlite3_busy_timeout(db, 5000)
        do {
            // One connection per database, in one process: exclusive locking keeps the WAL index in
            // memory, so there is no -shm file to create, map and delete for every object. It must come
            // before anything reads the database (PRAGMA synchronous does), or SQLite opens an existing
            // WAL with a shared-memory index.
            try execute("PRAGMA locking_mode=EXCLUSIVE")
            // Before WAL mode: switching a new file to WAL under the default (FULL) would fsync it.
            try execute("PRAGMA synchronous=OFF")
            try execute("PRAGMA journal_mode=WAL")
            // Keep the WAL file across closes (emptied, not deleted): evicting and re-opening objects
            // then does not churn inodes, which ext4 pays for dearly when it allocates the next one.
            var persist: Int32 = 1
            sqlite3_file_control(db, "main", SQLITE_FCNTL_PERSIST_WAL, &persist)
            // A WAL keeps its length when a checkpoint restarts it: the next commits then overwrite
            // pages the file already has, about a third the cost of appending to a freshly truncated
            // one on ext4. Restarts trim it back to this length.
            try execute("PRAGMA journal_size_limit=\(Self.walKeptBytes)")
            sqlite3_wal_autocheckpoint(db, 0)
            _ = csqlite_enable_foreign_keys(db)
        } catch {
            sqlite3_close(db)
            throw error
        }
        let context = Unmanaged.passUnretained(self).toOpaque()
        sqlite3_set_authorizer(db, { context, action, first, second, _, _ in
            guard let context else { return SQLITE_OK }
            let database = Unmanaged<SQLiteDatabase>.fromOpaque(context).takeUnretainedValue()
            guard database.authorizing else { return SQLITE_OK }
            let verdict = SQLiteDatabase.authorize(action: action, first: first, second: second)
            if verdict == SQLITE_OK, SQLiteDatabase.changesSchema(action) { database.sawSchemaChange = true }
            return verdict
        }, context)
        _ = csqlite_disable_checkpoint_on_close(db)
    }

    deinit { close() }

    /// Finalizes cached statements and closes the file. Safe to call twice.
    public func close() {
        guard !closed else { return }
        closed = true
        cache.removeAll()
        sqlite3_set_authorizer(handle, nil, nil)
        sqlite3_close_v2(handle)
    }

    /// The WAL file beside the database.
    public var walPath: String { path + "-wal" }

    /// True inside BEGIN ... COMMIT.
    public var inTransaction: Bool { sqlite3_get_autocommit(handle) == 0 }

    /// Bytes the database takes.
    public var size: Int {
        let pages = (try? scalar("PRAGMA page_count")).flatMap { $0.int } ?? 0
        let pageSize = (try? scalar("PRAGMA page_size")).flatMap { $0.int } ?? 0
        return pages * pageSize
    }

    /// Runs the runtime's own SQL (no bindings, no rows).
    public func execute(_ sql: String) throws(SQLiteError) {
        let result = sqlite3_exec(handle, sql, nil, nil, nil)
        guard result == SQLITE_OK else { throw SQLiteError(result, db: handle, sql: sql) }
    }

    /// Runs one statement of the runtime's own SQL with bindings, returning its rows. Prepared once and
    /// cached.
    @discardableResult
    public func query(_ sql: String, _ bindings: [SQLValue] = []) throws(SQLiteError) -> [[SQLValue]] {
        let statement = try cached(sql)
        statement.bind(bindings)
        return try statement.run().rows
    }

    /// The first column of the first row of a runtime query (prepared once and cached).
    public func scalar(_ sql: String, _ bindings: [SQLValue] = []) throws(SQLiteError) -> SQLValue? {
        let statement = try cached(sql)
        statement.bind(bindings)
        defer { statement.reset() }
        return try statement.step() ? statement.column(0) : nil
    }

    /// Runs one statement of the runtime's own SQL that returns no rows (BEGIN, COMMIT, an INSERT),
    /// prepared once and cached: the per-commit statements then skip SQLite's parser.
    public func executeCached(_ sql: String, _ bindings: [SQLValue] = []) throws(SQLiteError) {
        let statement = try cached(sql)
        statement.bind(bindings)
        defer { statement.reset() }
        while try statement.step() {}
    }

    /// Rows changed by the last statement.
    public var changes: Int { Int(sqlite3_changes(handle)) }

    private func cached(_ sql: String) throws(SQLiteError) -> SQLiteStatement {
        if let statement = cache[sql] { return statement }
        let statement = try prepare(sql, persistent: true)
        if cache.count >= Self.statementCacheSize { cache.removeAll() }
        cache[sql] = statement
        return statement
    }

    private func prepare(_ sql: String, persistent: Bool) throws(SQLiteError) -> SQLiteStatement {
        var statement: OpaquePointer? = nil
        let flags: UInt32 = persistent ? UInt32(SQLITE_PREPARE_PERSISTENT) : 0
        let result = sqlite3_prepare_v3(handle, sql, -1, flags, &statement, nil)
        guard result == SQLITE_OK, let statement else { throw SQLiteError(result, db: handle, sql: sql) }
        return SQLiteStatement(handle: statement, sql: sql, database: self)
    }

    // MARK: App SQL

    /// Runs app SQL: one or more statements separated by `;`, the bindings going to the last, whose rows
    /// are returned. `beforeWrite` runs before the first statement that may write (the caller opens its
    /// implicit transaction there).
    ///
    /// Statements are prepared and run one at a time, so a later one may use a table an earlier one
    /// created. Several statements run as one unit: if any fails (or the bindings do not fit the last),
    /// the writes of the earlier ones are rolled back too.
    public func runAppSQL(_ sql: String, _ bindings: [SQLValue], beforeWrite: () throws -> Void) throws -> SQLCursor {
        guard sql.utf8.count <= StorageLimits.maxStatementBytes else {
            throw StorageError.statementTooLarge(bytes: sql.utf8.count, limit: StorageLimits.maxStatementBytes)
        }
        guard bindings.count <= StorageLimits.maxBindings else {
            throw StorageError.tooManyKeys(count: bindings.count, limit: StorageLimits.maxBindings)
        }
        return try sql.withCString { start in
            try runStatements(from: start, sql: sql, bindings, beforeWrite: beforeWrite)
        }
    }

    private func runStatements(from start: UnsafePointer<CChar>, sql: String, _ bindings: [SQLValue],
                               beforeWrite: () throws -> Void) throws -> SQLCursor {
        var cursor = start
        var rowsRead = 0
        var rowsWritten = 0
        var result: (columns: [String], rows: [[SQLValue]]) = ([], [])
        var inSavepoint = false
        do {
            while cursor.pointee != 0 {
                var prepared: OpaquePointer? = nil
                var tail: UnsafePointer<CChar>? = nil
                authorizing = true
                let code = sqlite3_prepare_v3(handle, cursor, -1, 0, &prepared, &tail)
                authorizing = false
                guard code == SQLITE_OK else { throw Self.appError(SQLiteError(code, db: handle, sql: sql)) }
                guard let tail, tail > cursor else { break }
                cursor = tail
                // Only whitespace or comments: SQLite gives no statement.
                guard let prepared else { continue }
                let statement = SQLiteStatement(handle: prepared, sql: String(cString: sqlite3_sql(prepared)),
                                                database: self)
                let isLast = Self.onlyTrivia(from: cursor)
                if isLast, bindings.count != statement.parameterCount {
                    throw StorageError.invalidArgument(
                        "the last statement has \(statement.parameterCount) parameters but \(bindings.count) bindings were given")
                }
                if !statement.isReadOnly {
                    try beforeWrite()
                    if !isLast, !inSavepoint {
                        try execute("SAVEPOINT _rt_exec")
                        inSavepoint = true
                    }
                }
                statement.bind(isLast ? bindings : [])
                let changesBefore = sqlite3_total_changes64(handle)
                // The authorizer is off while the statement runs: the session extension prepares its
                // own queries then (on the first change to a table), and those must not be refused.
                // Nothing app-controlled is prepared during the step: statements run one at a time,
                // so the schema cannot change between a statement's prepare and its step.
                do {
                    result = try statement.run()
                } catch {
                    throw Self.appError(error)
                }
                rowsRead += result.rows.count
                rowsWritten += Int(sqlite3_total_changes64(handle) - changesBefore)
            }
            if inSavepoint { try execute("RELEASE _rt_exec") }
        } catch {
            // The savepoint is gone if the app's SQL ended the whole transaction (OR ROLLBACK); the
            // caller notices that on its own.
            if inSavepoint, inTransaction {
                try? execute("ROLLBACK TO _rt_exec")
                try? execute("RELEASE _rt_exec")
            }
            throw error
        }
        let names = result.columns
        return SQLCursor(columnNames: names, rows: result.rows.map { SQLRow(columnNames: names, values: $0) },
                         rowsRead: rowsRead, rowsWritten: rowsWritten)
    }

    /// True when the SQL from `text` on holds no further statement: only whitespace, `;` and comments.
    static func onlyTrivia(from text: UnsafePointer<CChar>) -> Bool {
        var at = text
        while true {
            switch UInt8(bitPattern: at.pointee) {
            case 0: return true
            case 0x20, 0x09, 0x0A, 0x0B, 0x0C, 0x0D, 0x3B: at += 1
            case 0x2D where at[1] == 0x2D:  // -- to the end of the line
                at += 2
                while at.pointee != 0, at.pointee != 0x0A { at += 1 }
            case 0x2F where at[1] == 0x2A:  // /* to */ (or to the end, as SQLite reads it)
                at += 2
                while at.pointee != 0, !(at.pointee == 0x2A && at[1] == 0x2F) { at += 1 }
                if at.pointee != 0 { at += 2 }
            default: return false
            }
        }
    }

    static func appError(_ error: SQLiteError) -> StorageError {
        if error.code == SQLITE_AUTH {
            return .notAuthorized("\(error.message): tables named _rt_* belong to the runtime, and BEGIN, COMMIT, "
                + "SAVEPOINT, ATTACH and PRAGMA are not available to app SQL (use storage.transaction)")
        }
        return .sql(code: error.code, message: error.message)
    }

    /// The authorizer for app SQL (sqlite3_set_authorizer): which actions it may take.
    ///
    /// What the two names mean depends on the action: reads and updates name a table and a column;
    /// indexes and triggers name themselves and then their table; ALTER TABLE names the schema and then
    /// the table. Any runtime table named in either place is refused.
    static func authorize(action: Int32, first: UnsafePointer<CChar>?, second: UnsafePointer<CChar>?) -> Int32 {
        func reserved(_ name: UnsafePointer<CChar>?) -> Bool {
            guard let name else { return false }
            return strncasecmp_rt(name)
        }
        switch action {
        case SQLITE_TRANSACTION, SQLITE_SAVEPOINT, SQLITE_ATTACH, SQLITE_DETACH, SQLITE_PRAGMA:
            return SQLITE_DENY
        case SQLITE_READ, SQLITE_UPDATE, SQLITE_INSERT, SQLITE_DELETE, SQLITE_ANALYZE:
            return reserved(first) ? SQLITE_DENY : SQLITE_OK
        case SQLITE_FUNCTION, SQLITE_SELECT, SQLITE_RECURSIVE:
            return SQLITE_OK
        default:
            // Schema changes (CREATE/DROP of tables, temp tables, indexes, triggers, views, virtual
            // tables), ALTER TABLE and REINDEX.
            return reserved(first) || reserved(second) ? SQLITE_DENY : SQLITE_OK
        }
    }

    /// True for the authorizer actions that create, drop or alter schema objects.
    static func changesSchema(_ action: Int32) -> Bool {
        switch action {
        case SQLITE_CREATE_INDEX, SQLITE_CREATE_TABLE, SQLITE_CREATE_TEMP_INDEX, SQLITE_CREATE_TEMP_TABLE,
             SQLITE_CREATE_TEMP_TRIGGER, SQLITE_CREATE_TEMP_VIEW, SQLITE_CREATE_TRIGGER, SQLITE_CREATE_VIEW,
             SQLITE_DROP_INDEX, SQLITE_DROP_TABLE, SQLITE_DROP_TEMP_INDEX, SQLITE_DROP_TEMP_TABLE,
             SQLITE_DROP_TEMP_TRIGGER, SQLITE_DROP_TEMP_VIEW, SQLITE_DROP_TRIGGER, SQLITE_DROP_VIEW,
             SQLITE_ALTER_TABLE, SQLITE_CREATE_VTABLE, SQLITE_DROP_VTABLE:
            true
        default:
            false
        }
    }

    // MARK: Checkpoints

    /// Copies the WAL into the database file, with full fsyncs (the only place this database syncs on
    /// its own). With `truncate` the WAL file is cut to zero length afterwards; without, it keeps its
    /// length and the next commit starts overwriting it from the beginning. Runs on the loop thread; the
    /// caller keeps it rare.
    public func checkpoint(truncate: Bool) throws(SQLiteError) {
        try execute("PRAGMA synchronous=FULL")
        defer { try? execute("PRAGMA synchronous=OFF") }
        var logFrames: Int32 = 0
        var checkpointed: Int32 = 0
        let mode = truncate ? SQLITE_CHECKPOINT_TRUNCATE : SQLITE_CHECKPOINT_RESTART
        let result = sqlite3_wal_checkpoint_v2(handle, nil, mode, &logFrames, &checkpointed)
        guard result == SQLITE_OK else { throw SQLiteError(result, db: handle, sql: "checkpoint") }
    }

    /// Bytes the WAL file takes on disk (0 when there is none).
    public var walFileBytes: Int {
        var info = stat()
        return stat(walPath, &info) == 0 ? Int(info.st_size) : 0
    }
}

/// True when `name` starts with "_rt_" (ASCII case-insensitive).
private func strncasecmp_rt(_ name: UnsafePointer<CChar>) -> Bool {
    let prefix: [UInt8] = [0x5F, 0x72, 0x74, 0x5F]
    for index in 0..<4 {
        let byte = UInt8(bitPattern: name[index])
        if byte == 0 { return false }
        let folded = byte >= 0x41 && byte <= 0x5A ? byte | 0x20 : byte
        if folded != prefix[index] { return false }
    }
    return true
}
