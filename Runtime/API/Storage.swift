/// A Durable Object's storage: a SQLite database of its own with a SQL API, a key-value API on top, and
/// one alarm. Every call is synchronous and runs on the object's loop.
///
/// Writes need no explicit transaction: all writes of one loop turn commit together, and a response
/// produced after a write is held until that write is durable. `transaction` groups writes that must
/// succeed or fail together.
public protocol DurableObjectStorage: AnyObject, Sendable {
    /// The SQL API.
    var sql: any SQLStorage { get }

    func get(_ key: String) throws -> [UInt8]?
    /// Values for the keys that exist (at most `StorageLimits.maxBatchKeys` keys).
    func get(_ keys: [String]) throws -> [String: [UInt8]]
    func put(_ key: String, _ value: [UInt8]) throws
    /// Writes all entries (at most `StorageLimits.maxBatchKeys`).
    func put(_ entries: [String: [UInt8]]) throws
    /// True if the key existed.
    @discardableResult func delete(_ key: String) throws -> Bool
    /// How many of the keys existed.
    @discardableResult func delete(_ keys: [String]) throws -> Int
    /// Entries in key order (UTF-8 byte order; reversed with `reverse`). `start` is inclusive, `end`
    /// exclusive; `prefix` limits to keys starting with it; `limit` caps the count.
    func list(_ options: ListOptions) throws -> [(key: String, value: [UInt8])]

    /// Runs `body` as one unit: if it throws, none of its writes happen, and the error is rethrown.
    /// Transactions nest.
    func transaction<T>(_ body: () throws -> T) throws -> T
    /// Deletes every table, key and the alarm.
    func deleteAll() throws

    /// Sets the alarm (one per object) to milliseconds since 1970; a past time fires as soon as possible.
    func setAlarm(atMilliseconds time: Int64) throws
    /// The pending alarm time, or nil. Inside `alarm()` the running alarm already reads as nil.
    func getAlarm() throws -> Int64?
    func deleteAlarm() throws
}

/// Options of `DurableObjectStorage.list`.
public struct ListOptions: Sendable, Equatable {
    public var prefix: String?
    public var start: String?
    public var end: String?
    public var reverse: Bool
    public var limit: Int?

    public init(prefix: String? = nil, start: String? = nil, end: String? = nil, reverse: Bool = false,
                limit: Int? = nil) {
        self.prefix = prefix
        self.start = start
        self.end = end
        self.reverse = reverse
        self.limit = limit
    }
}

extension DurableObjectStorage {
    public func list(prefix: String? = nil, start: String? = nil, end: String? = nil, reverse: Bool = false,
                     limit: Int? = nil) throws -> [(key: String, value: [UInt8])] {
        try list(ListOptions(prefix: prefix, start: start, end: end, reverse: reverse, limit: limit))
    }

    public func put(_ key: String, string: String) throws { try put(key, Array(string.utf8)) }
    public func getString(_ key: String) throws -> String? { try get(key).map { String(decoding: $0, as: UTF8.self) } }
    public func put(_ key: String, int: Int) throws { try put(key, string: String(int)) }
    public func getInt(_ key: String) throws -> Int? { try getString(key).flatMap { Int($0) } }

    /// Sets the alarm `delay` from now.
    public func setAlarm(after delay: Duration) throws {
        let (seconds, attoseconds) = delay.components
        try setAlarm(atMilliseconds: WallClock.milliseconds() + seconds * 1000 + attoseconds / 1_000_000_000_000_000)
    }
}

/// The SQL API of an object's database.
public protocol SQLStorage: AnyObject, Sendable {
    /// Runs one or more `;`-separated statements; bindings apply to the last one, whose rows are returned.
    /// App SQL may not touch tables named `_rt_*` nor use BEGIN/COMMIT/SAVEPOINT (use `transaction`).
    @discardableResult func exec(_ sql: String, _ bindings: [SQLValue]) throws -> SQLCursor
    /// Bytes the database takes (pages × page size).
    var databaseSize: Int { get }
}

extension SQLStorage {
    @discardableResult public func exec(_ sql: String, _ bindings: SQLValue...) throws -> SQLCursor {
        try exec(sql, bindings)
    }
}

/// A SQL value: what a binding is and what a column holds.
public enum SQLValue: Sendable, Equatable, Hashable, ExpressibleByIntegerLiteral, ExpressibleByStringLiteral,
    ExpressibleByFloatLiteral, ExpressibleByNilLiteral {
    case null
    case integer(Int64)
    case real(Double)
    case text(String)
    case blob([UInt8])

    public init(integerLiteral value: Int64) { self = .integer(value) }
    public init(stringLiteral value: String) { self = .text(value) }
    public init(floatLiteral value: Double) { self = .real(value) }
    public init(nilLiteral: ()) { self = .null }

    public var int: Int? {
        switch self {
        case .integer(let value): Int(value)
        case .real(let value): Int(exactly: value)
        default: nil
        }
    }

    public var double: Double? {
        switch self {
        case .integer(let value): Double(value)
        case .real(let value): value
        default: nil
        }
    }

    public var string: String? {
        if case .text(let value) = self { return value }
        return nil
    }

    public var bytes: [UInt8]? {
        switch self {
        case .blob(let value): value
        case .text(let value): Array(value.utf8)
        default: nil
        }
    }
}

/// The rows of a statement, read eagerly (so a cursor is never tied to a database across an `await`).
public struct SQLCursor: Sequence, Sendable {
    public let columnNames: [String]
    public let rows: [SQLRow]
    /// Rows the statements stepped over.
    public let rowsRead: Int
    /// Rows the statements inserted, updated or deleted.
    public let rowsWritten: Int

    public init(columnNames: [String], rows: [SQLRow], rowsRead: Int, rowsWritten: Int) {
        self.columnNames = columnNames
        self.rows = rows
        self.rowsRead = rowsRead
        self.rowsWritten = rowsWritten
    }

    public func makeIterator() -> IndexingIterator<[SQLRow]> { rows.makeIterator() }

    /// The only row; throws unless there is exactly one.
    public func one() throws -> SQLRow {
        guard rows.count == 1 else { throw StorageError.invalidArgument("expected exactly one row, got \(rows.count)") }
        return rows[0]
    }
}

/// One row: values in column order, also reachable by column name.
public struct SQLRow: Sendable, Equatable {
    public let columnNames: [String]
    public let values: [SQLValue]

    public init(columnNames: [String], values: [SQLValue]) {
        self.columnNames = columnNames
        self.values = values
    }

    public subscript(index: Int) -> SQLValue { values[index] }
    public subscript(column: String) -> SQLValue? {
        columnNames.firstIndex(of: column).map { values[$0] }
    }
}

/// Errors from storage, with what a person needs to fix the call.
public enum StorageError: Error, CustomStringConvertible, Equatable {
    case keyTooLarge(bytes: Int, limit: Int)
    case valueTooLarge(bytes: Int, limit: Int)
    case tooManyKeys(count: Int, limit: Int)
    case statementTooLarge(bytes: Int, limit: Int)
    /// SQLite refused or failed a statement; `message` is SQLite's own.
    case sql(code: Int32, message: String)
    /// App SQL tried something reserved to the runtime.
    case notAuthorized(String)
    case invalidArgument(String)
    /// The object's storage failed to commit and the object was reset; nothing of the failed write stayed.
    case objectReset(String)

    public var description: String {
        switch self {
        case .keyTooLarge(let bytes, let limit): "storage: key of \(bytes) bytes is over the limit of \(limit)"
        case .valueTooLarge(let bytes, let limit): "storage: value of \(bytes) bytes is over the limit of \(limit)"
        case .tooManyKeys(let count, let limit): "storage: \(count) keys in one call; at most \(limit)"
        case .statementTooLarge(let bytes, let limit): "storage: SQL of \(bytes) bytes is over the limit of \(limit)"
        case .sql(let code, let message): "SQLite error \(code): \(message)"
        case .notAuthorized(let message): "storage: not allowed: \(message)"
        case .invalidArgument(let message): "storage: \(message)"
        case .objectReset(let reason): "object reset: \(reason)"
        }
    }
}

/// Limits of object storage. Exceeding one is a `StorageError` naming it.
public enum StorageLimits {
    /// Longest key, in UTF-8 bytes.
    public static let maxKeyBytes = 2048
    /// Largest value, in bytes.
    public static let maxValueBytes = 128 * 1024
    /// Most keys in one batch get, put or delete.
    public static let maxBatchKeys = 128
    /// Longest SQL text accepted by `exec`.
    public static let maxStatementBytes = 100_000
    /// Most bindings in one `exec`.
    public static let maxBindings = 100
}

/// Wall-clock milliseconds since 1970 (alarms are wall-clock times).
public enum WallClock {
    public static func milliseconds() -> Int64 {
        Int64(ContinuousClockShim.wallNanoseconds() / 1_000_000)
    }
}
