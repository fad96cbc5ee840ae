import CSQLite

/// A failed SQLite call: result code, extended code, SQLite's message, and the SQL it ran.
/// Prints as "SQLite error 1: no such table: x (while running `SELECT * FROM x`)".
public struct SQLiteError: Error, CustomStringConvertible, Equatable {
    public let code: Int32
    public let extendedCode: Int32
    public let message: String
    public let sql: String?

    public init(code: Int32, extendedCode: Int32? = nil, message: String, sql: String? = nil) {
        self.code = code
        self.extendedCode = extendedCode ?? code
        self.message = message
        self.sql = sql
    }

    /// The error SQLite reports on `db` for result `result`.
    init(_ result: Int32, db: OpaquePointer?, sql: String? = nil) {
        let message = db.flatMap { sqlite3_errmsg($0) }.map { String(cString: $0) }
            ?? String(cString: sqlite3_errstr(result))
        self.init(code: result & 0xFF, extendedCode: result, message: message, sql: sql)
    }

    public var description: String {
        var text = "SQLite error \(code): \(message)"
        if let sql { text += " (while running `\(sql.prefix(200))`)" }
        return text
    }
}
