import CSQLite
import RuntimeAPI

/// One prepared statement. Owns its `sqlite3_stmt` and finalizes it in `deinit`.
///
/// Threading: belongs to its database's thread; never shared.
final class SQLiteStatement {
    let handle: OpaquePointer
    let sql: String
    unowned let database: SQLiteDatabase

    init(handle: OpaquePointer, sql: String, database: SQLiteDatabase) {
        self.handle = handle
        self.sql = sql
        self.database = database
    }

    deinit { sqlite3_finalize(handle) }


    /// True when the statement cannot change the database (SELECT, most PRAGMAs).
    var isReadOnly: Bool { sqlite3_stmt_readonly(handle) != 0 }

    var parameterCount: Int { Int(sqlite3_bind_parameter_count(handle)) }

    /// Binds values to parameters 1...n. Binding does no I/O, so a failure here is a bug in the caller
    /// (a count mismatch is checked before).
    func bind(_ values: [SQLValue]) {
        sqlite3_reset(handle)
        sqlite3_clear_bindings(handle)
        for (offset, value) in values.enumerated() {
            let index = Int32(offset + 1)
            let result: Int32
            switch value {
            case .null: result = sqlite3_bind_null(handle, index)
            case .integer(let number): result = sqlite3_bind_int64(handle, index, number)
            case .real(let number): result = sqlite3_bind_double(handle, index, number)
            case .text(let text):
                // With an explicit byte count, so text holding NUL characters is bound whole.
                // (A null pointer would bind SQL NULL, hence the literal for empty text.)
                var text = text
                result = text.withUTF8 { utf8 in
                    guard let start = utf8.baseAddress, !utf8.isEmpty else {
                        return sqlite3_bind_text(handle, index, "", 0, csqlite_transient())
                    }
                    return start.withMemoryRebound(to: CChar.self, capacity: utf8.count) {
                        sqlite3_bind_text(handle, index, $0, Int32(utf8.count), csqlite_transient())
                    }
                }
            case .blob(let bytes):
                result = bytes.withUnsafeBytes {
                    sqlite3_bind_blob(handle, index, $0.baseAddress ?? UnsafeRawPointer(bitPattern: 1), Int32($0.count),
                                      csqlite_transient())
                }
            }
            precondition(result == SQLITE_OK, "sqlite3_bind failed (\(result)) for parameter \(index) of `\(sql)`")
        }
    }

    /// Steps to completion, collecting rows.
    func run() throws(SQLiteError) -> (columns: [String], rows: [[SQLValue]]) {
        defer { sqlite3_reset(handle) }
        let columnCount = Int(sqlite3_column_count(handle))
        let columns = (0..<columnCount).map { String(cString: sqlite3_column_name(handle, Int32($0))) }
        var rows: [[SQLValue]] = []
        while true {
            let result = sqlite3_step(handle)
            if result == SQLITE_DONE { break }
            guard result == SQLITE_ROW else { throw SQLiteError(result, db: database.handle, sql: sql) }
            rows.append((0..<columnCount).map { column(Int32($0)) })
        }
        return (columns, rows)
    }

    /// Steps once; true when a row is ready. For the runtime's own single-row queries.
    func step() throws(SQLiteError) -> Bool {
        let result = sqlite3_step(handle)
        if result == SQLITE_ROW { return true }
        if result == SQLITE_DONE { return false }
        throw SQLiteError(result, db: database.handle, sql: sql)
    }

    func reset() { sqlite3_reset(handle) }

    func column(_ index: Int32) -> SQLValue {
        switch sqlite3_column_type(handle, index) {
        case SQLITE_INTEGER: return .integer(sqlite3_column_int64(handle, index))
        case SQLITE_FLOAT: return .real(sqlite3_column_double(handle, index))
        case SQLITE_TEXT:
            let count = Int(sqlite3_column_bytes(handle, index))
            guard let text = sqlite3_column_text(handle, index) else { return .text("") }
            return .text(String(decoding: UnsafeBufferPointer(start: text, count: count), as: UTF8.self))
        case SQLITE_BLOB:
            let count = Int(sqlite3_column_bytes(handle, index))
            guard count > 0, let blob = sqlite3_column_blob(handle, index) else { return .blob([]) }
            return .blob(Array(UnsafeRawBufferPointer(start: blob, count: count)))
        default: return .null
        }
    }
}
