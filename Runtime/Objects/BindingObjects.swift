import RuntimeAPI

/// The Durable Object behind a SQL database binding: one per binding and app, so statements run one call
/// at a time, each atomic and durable before its caller hears back (the output gate).
actor DatabaseObject: DurableObject {
    let state: DurableObjectState
    nonisolated var unownedExecutor: UnownedSerialExecutor { state.executor }

    init(state: DurableObjectState, env: Env) { self.state = state }

    func exec(_ sql: String, _ bindings: [SQLValue]) throws -> SQLCursor {
        try state.storage.sql.exec(sql, bindings)
    }

    func batch(_ statements: [(sql: String, bindings: [SQLValue])]) throws -> [SQLCursor] {
        let storage = state.storage
        return try storage.transaction { try statements.map { try storage.sql.exec($0.sql, $0.bindings) } }
    }
}

/// `env.database(...)` as apps see it.
struct SQLDatabaseBinding: SQLDatabase {
    /// The one object that holds the database.
    let stub: ObjectStub

    func exec(_ sql: String, _ bindings: [SQLValue]) async throws -> SQLCursor {
        try await stub.run(as: DatabaseObject.self) { try $0.exec(sql, bindings) }
    }

    func batch(_ statements: [(sql: String, bindings: [SQLValue])]) async throws -> [SQLCursor] {
        let copy = statements.map { SendableStatement(sql: $0.sql, bindings: $0.bindings) }
        return try await stub.run(as: DatabaseObject.self) { object in
            try object.batch(copy.map { ($0.sql, $0.bindings) })
        }
    }

    struct SendableStatement: Sendable {
        let sql: String
        let bindings: [SQLValue]
    }
}

/// The Durable Object behind a KV binding: keys, values and expiry times in a table of its own; expired
/// keys read as missing and are swept by the object's alarm.
actor KeyValueObject: DurableObject {
    let state: DurableObjectState
    nonisolated var unownedExecutor: UnownedSerialExecutor { state.executor }
    private var tableReady = false

    /// Longest KV key and value.
    static let maxKeyBytes = 512
    static let maxValueBytes = 1024 * 1024

    init(state: DurableObjectState, env: Env) { self.state = state }

    private func prepare() throws {
        guard !tableReady else { return }
        try state.storage.sql.exec(
            "CREATE TABLE IF NOT EXISTS kv (key TEXT PRIMARY KEY, value BLOB NOT NULL, expires INTEGER) WITHOUT ROWID", [])
        tableReady = true
    }

    func get(_ key: String) throws -> [UInt8]? {
        try prepare()
        let rows = try state.storage.sql.exec("SELECT value, expires FROM kv WHERE key = ?", [.text(key)]).rows
        guard let row = rows.first else { return nil }
        if let expires = row.values[1].int, Int64(expires) <= WallClock.milliseconds() { return nil }
        return row.values[0].bytes
    }

    func put(_ key: String, _ value: [UInt8], expiresAt: Int64?) throws {
        guard !key.isEmpty, key.utf8.count <= Self.maxKeyBytes else {
            throw StorageError.keyTooLarge(bytes: key.utf8.count, limit: Self.maxKeyBytes)
        }
        guard value.count <= Self.maxValueBytes else {
            throw StorageError.valueTooLarge(bytes: value.count, limit: Self.maxValueBytes)
        }
        try prepare()
        try state.storage.sql.exec("INSERT OR REPLACE INTO kv (key, value, expires) VALUES (?, ?, ?)",
                                   [.text(key), .blob(value), expiresAt.map { .integer($0) } ?? .null])
        if let expiresAt {
            let pending = try state.storage.getAlarm()
            if pending == nil || expiresAt < pending! { try state.storage.setAlarm(atMilliseconds: expiresAt) }
        }
    }

    func delete(_ key: String) throws -> Bool {
        try prepare()
        return try state.storage.sql.exec("DELETE FROM kv WHERE key = ?", [.text(key)]).rowsWritten > 0
    }

    func list(prefix: String?, limit: Int?) throws -> [String] {
        try prepare()
        var sql = "SELECT key FROM kv WHERE (expires IS NULL OR expires > ?)"
        var bindings: [SQLValue] = [.integer(WallClock.milliseconds())]
        if let prefix, !prefix.isEmpty {
            sql += " AND substr(CAST(key AS BLOB), 1, ?) = CAST(? AS BLOB)"
            bindings += [.integer(Int64(prefix.utf8.count)), .text(prefix)]
        }
        sql += " ORDER BY key"
        if let limit { sql += " LIMIT \(max(0, limit))" }
        return try state.storage.sql.exec(sql, bindings).rows.compactMap { $0.values[0].string }
    }

    /// Sweeps what expired, then waits for the next expiry.
    func alarm() async throws {
        try prepare()
        let now = WallClock.milliseconds()
        try state.storage.sql.exec("DELETE FROM kv WHERE expires IS NOT NULL AND expires <= ?", [.integer(now)])
        let next = try state.storage.sql.exec("SELECT min(expires) FROM kv WHERE expires IS NOT NULL", []).rows.first?.values[0].int
        if let next { try state.storage.setAlarm(atMilliseconds: Int64(next)) }
    }
}

/// `env.keyValue(...)` as apps see it.
struct KeyValueBinding: KVNamespace {
    let stub: ObjectStub

    func get(_ key: String) async throws -> [UInt8]? {
        try await stub.run(as: KeyValueObject.self) { try $0.get(key) }
    }

    func put(_ key: String, _ value: [UInt8], expiresIn: Duration?) async throws {
        let expiresAt = expiresIn.map { delay -> Int64 in
            let (seconds, attoseconds) = delay.components
            return WallClock.milliseconds() + seconds * 1000 + attoseconds / 1_000_000_000_000_000
        }
        try await stub.run(as: KeyValueObject.self) { try $0.put(key, value, expiresAt: expiresAt) }
    }

    func delete(_ key: String) async throws -> Bool {
        try await stub.run(as: KeyValueObject.self) { try $0.delete(key) }
    }

    func list(prefix: String?, limit: Int?) async throws -> [String] {
        try await stub.run(as: KeyValueObject.self) { try $0.list(prefix: prefix, limit: limit) }
    }
}

/// The hidden object bindings behind an app's SQL databases and KV namespaces.
public enum BindingObjects {
    static let databasePrefix = "__db_"
    static let keyValuePrefix = "__kv_"
    /// The one object of each such namespace.
    static let instanceName = "store"

    /// Object classes to add to an app's own for its `sql_databases` and `kv_namespaces`.
    public static func classes(databases: [String], keyValues: [String]) -> [String: any DurableObject.Type] {
        var classes: [String: any DurableObject.Type] = [:]
        for binding in databases { classes[databasePrefix + binding] = DatabaseObject.self }
        for binding in keyValues { classes[keyValuePrefix + binding] = KeyValueObject.self }
        return classes
    }

    /// Splits bound namespaces into the app's objects, databases and KV namespaces.
    public static func bindings(from namespaces: [String: any ObjectNamespace])
        -> (objects: [String: any ObjectNamespace], databases: [String: any SQLDatabase], keyValues: [String: any KVNamespace]) {
        var objects: [String: any ObjectNamespace] = [:]
        var databases: [String: any SQLDatabase] = [:]
        var keyValues: [String: any KVNamespace] = [:]
        for (binding, namespace) in namespaces {
            if binding.hasPrefix(databasePrefix) {
                databases[String(binding.dropFirst(databasePrefix.count))] =
                    SQLDatabaseBinding(stub: namespace.get(name: instanceName))
            } else if binding.hasPrefix(keyValuePrefix) {
                keyValues[String(binding.dropFirst(keyValuePrefix.count))] =
                    KeyValueBinding(stub: namespace.get(name: instanceName))
            } else {
                objects[binding] = namespace
            }
        }
        return (objects, databases, keyValues)
    }
}
