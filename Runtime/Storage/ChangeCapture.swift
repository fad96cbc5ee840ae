import CSQLite

/// Records the app-table row changes of one database's open implicit transaction with SQLite's session
/// extension, so the commit journal can log them instead of fsyncing the database's own WAL. (The
/// runtime's own `_rt_` tables are not recorded: their writes are logged as operations.)
///
/// A changeset can only carry what the session extension records: changes to tables whose primary key
/// can never be NULL. A change to any other table, or a schema change, makes the transaction
/// `replayable == false`; it then takes the direct path (its WAL is fsynced) and nothing is lost.
///
/// Threading: belongs to its database's loop.
final class ChangeCapture {
    private let database: SQLiteDatabase
    private var session: OpaquePointer?
    /// Tables a changeset can carry; nil until computed, and again after a schema change.
    private var replayableTables: Set<String>?
    /// False once the open transaction changed something a changeset cannot carry.
    private(set) var replayable = true

    init(database: SQLiteDatabase) { self.database = database }

    deinit { end() }

    var isRecording: Bool { session != nil }

    /// Starts recording. Call inside the transaction before its first app SQL write.
    func begin() throws(SQLiteError) {
        precondition(session == nil, "change capture begun twice")
        if replayableTables == nil { replayableTables = try Self.replayableTables(in: database) }
        var created: OpaquePointer? = nil
        let result = sqlite3session_create(database.handle, "main", &created)
        guard result == SQLITE_OK, let created else { throw SQLiteError(result, db: database.handle, sql: "sqlite3session_create") }
        sqlite3session_table_filter(created, { context, table in
            guard let context, let table else { return 0 }
            let capture = Unmanaged<ChangeCapture>.fromOpaque(context).takeUnretainedValue()
            let name = String(cString: table)
            if name.hasPrefix("_rt_") { return 0 }
            if capture.replayableTables?.contains(name) == true { return 1 }
            capture.replayable = false
            return 0
        }, Unmanaged.passUnretained(self).toOpaque())
        let attached = sqlite3session_attach(created, nil)
        guard attached == SQLITE_OK else {
            sqlite3session_delete(created)
            throw SQLiteError(attached, db: database.handle, sql: "sqlite3session_attach")
        }
        session = created
        replayable = true
    }

    /// The schema changed in this transaction: nothing of it is replayable, and which tables are must be
    /// worked out again.
    func noteSchemaChange() {
        replayable = false
        replayableTables = nil
    }

    /// The changes recorded since `begin`, and the end of recording. Call before COMMIT (the session
    /// reads the current rows to build the changeset). Nil when the transaction is not replayable.
    func finish() throws(SQLiteError) -> [UInt8]? {
        defer { end() }
        guard let session, replayable else { return nil }
        var size: Int32 = 0
        var bytes: UnsafeMutableRawPointer? = nil
        let result = sqlite3session_changeset(session, &size, &bytes)
        guard result == SQLITE_OK else { throw SQLiteError(result, db: database.handle, sql: "sqlite3session_changeset") }
        defer { sqlite3_free(bytes) }
        guard let bytes, size > 0 else { return [] }
        return Array(UnsafeRawBufferPointer(start: bytes, count: Int(size)))
    }

    /// Stops recording without a changeset (rollback, failure, close).
    func end() {
        if let session { sqlite3session_delete(session) }
        session = nil
    }

    /// Tables of `main` whose every change a session records: WITHOUT ROWID tables, tables whose primary
    /// key is the rowid (a lone INTEGER PRIMARY KEY), and rowid tables whose primary key columns are all
    /// NOT NULL (SQLite otherwise lets them hold NULL, and the session ignores such rows).
    static func replayableTables(in database: SQLiteDatabase) throws(SQLiteError) -> Set<String> {
        let tables = try database.query("""
            SELECT name, wr FROM pragma_table_list WHERE schema = 'main' AND type = 'table'
            AND name NOT LIKE 'sqlite\\_%' ESCAPE '\\'
            """)
        var replayable: Set<String> = []
        for table in tables {
            guard let name = table[0].string else { continue }
            let withoutRowID = table[1].int == 1
            let keyColumns = try database.query("SELECT type, \"notnull\" FROM pragma_table_info(?) WHERE pk > 0",
                                                [.text(name)])
            guard !keyColumns.isEmpty else { continue }
            let rowidAlias = keyColumns.count == 1 && keyColumns[0][0].string?.uppercased() == "INTEGER"
            let allNotNull = keyColumns.allSatisfy { $0[1].int == 1 }
            if withoutRowID || rowidAlias || allNotNull { replayable.insert(name) }
        }
        return replayable
    }
}
