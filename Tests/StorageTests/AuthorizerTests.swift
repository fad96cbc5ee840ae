import Testing
@testable import RuntimeStorage
import RuntimeAPI

@Suite("App SQL authorizer", .timeLimit(.minutes(1)))
struct AuthorizerTests {
    static let refused: [String] = [
        "SELECT * FROM _rt_kv",
        "SELECT value FROM _rt_meta WHERE name = 'alarm'",
        "SELECT * FROM _RT_KV",
        "SELECT * FROM main._rt_kv",
        "SELECT * FROM \"_rt_kv\"",
        "SELECT * FROM t WHERE x IN (SELECT key FROM _rt_kv)",
        "WITH c AS (SELECT key FROM _rt_kv) SELECT * FROM c",
        "SELECT 1; SELECT * FROM _rt_kv",
        "INSERT INTO _rt_kv (key, value) VALUES ('k', x'00')",
        "INSERT INTO _rt_meta (name, value) VALUES ('alarm', 1)",
        "UPDATE _rt_kv SET value = x'01'",
        "DELETE FROM _rt_kv",
        "DELETE FROM _rt_meta",
        "DROP TABLE _rt_kv",
        "DROP TABLE _rt_meta",
        "CREATE TABLE _rt_mine (x)",
        "CREATE TABLE _RT_mine (x)",
        "BEGIN",
        "BEGIN IMMEDIATE",
        "COMMIT",
        "END",
        "ROLLBACK",
        "SAVEPOINT x",
        "RELEASE x",
        "ROLLBACK TO x",
        "PRAGMA journal_mode",
        "PRAGMA journal_mode=DELETE",
        "PRAGMA foreign_keys=OFF",
        "PRAGMA synchronous=FULL",
        "ATTACH DATABASE ':memory:' AS other",
        "DETACH DATABASE other",
    ]

    @Test("app SQL touching _rt_ tables or controlling transactions, PRAGMAs or ATTACH is refused as notAuthorized",
          arguments: refused)
    func refusedStatement(_ statement: String) async throws {
        try await withStorage { bench in
            let storage = bench.storage
            try storage.put("canary", [1, 2, 3])
            try storage.setAlarm(atMilliseconds: 1234)
            try storage.sql.exec("CREATE TABLE t (x)")
            try storage.sql.exec("INSERT INTO t VALUES ('canary')")
            try await storage.waitUntilDurable()
            // Refused at prepare time, before anything runs: no implicit transaction is opened.

            let error = storageError { try storage.sql.exec(statement) }
            #expect(error?.kind == "notAuthorized", "\(String(describing: error))")
            if case .notAuthorized(let message) = error { #expect(message.contains("_rt_")) }

            // Nothing changed, and both APIs keep working in the same turn and the next.
            #expect(try storage.get("canary") == [1, 2, 3])
            #expect(try storage.getAlarm() == 1234)
            #expect(!storage.database.inTransaction)
            #expect(storage.writeSequence == 1)
            #expect(try storage.sql.exec("SELECT x FROM t").one()[0] == .text("canary"))
            try storage.put("after", [4])
            try storage.sql.exec("INSERT INTO t VALUES ('after')")
            try await storage.waitUntilDurable()
            #expect(storage.broken == nil)
            #expect(try storage.allKeys() == ["after", "canary"])
            #expect(try storage.sql.exec("SELECT count(*) FROM t").one()[0] == .integer(2))
            #expect(try storage.database.query("PRAGMA journal_mode").first?.first == .text("wal"))
            #expect(try storage.database.query("PRAGMA foreign_keys").first?.first == .integer(1))
        }
    }

    static let bypasses: [String] = [
        "ALTER TABLE _rt_kv RENAME TO stolen",
        "ALTER TABLE _rt_meta ADD COLUMN extra",
        "CREATE INDEX kv_by_value ON _rt_kv (value)",
        "CREATE TRIGGER spy AFTER INSERT ON _rt_kv BEGIN SELECT 1; END",
        "CREATE TEMP TABLE _rt_kv (key TEXT PRIMARY KEY, value BLOB NOT NULL) WITHOUT ROWID",
        "CREATE TEMP TRIGGER spy AFTER INSERT ON main._rt_kv BEGIN SELECT 1; END",
    ]

    @Test("schema statements aimed at _rt_ tables (ALTER, indexes, triggers, TEMP shadows) are refused too",
          arguments: bypasses)
    func schemaBypass(_ statement: String) async throws {
        try await withStorage { bench in
            let storage = bench.storage
            let error = storageError { try storage.sql.exec(statement) }
            #expect(error?.kind == "notAuthorized", "\(String(describing: error))")
        }
    }

    @Test("app SQL cannot redirect the key-value API to a TEMP table of the same name")
    func tempShadowLosesWrites() async throws {
        try await withStorage { bench in
            _ = try? bench.storage.sql.exec(
                "CREATE TEMP TABLE _rt_kv (key TEXT PRIMARY KEY, value BLOB NOT NULL) WITHOUT ROWID")
            try bench.storage.put("k", [9])
            try await bench.storage.waitUntilDurable()
            let reopened = try bench.reopen()
            #expect(try reopened.get("k") == [9])
        }
    }

    @Test("app SQL cannot rename the key-value table out from under the runtime")
    func renameBreaksKV() async throws {
        try await withStorage { bench in
            try bench.storage.put("k", [1])
            _ = try? bench.storage.sql.exec("ALTER TABLE _rt_kv RENAME TO stolen")
            #expect(try bench.storage.get("k") == [1])
            try bench.storage.put("j", [2])
            try await bench.storage.waitUntilDurable()
            #expect(bench.storage.broken == nil)
        }
    }

    @Test("the authorizer applies only to app SQL: the runtime's own KV and alarm SQL runs after a refusal")
    func runtimeSQLUnaffected() async throws {
        try await withStorage { bench in
            let storage = bench.storage
            #expect(storage.databaseSize > 0)
            #expect(storageError { try storage.sql.exec("SELECT * FROM _rt_meta") }?.kind == "notAuthorized")
            try storage.setAlarm(atMilliseconds: 99)
            try storage.put("k", [1])
            #expect(try storage.list().map(\.key) == ["k"])
            #expect(try storage.storedAlarm() == 99)
            // App SQL may still read the schema table, which names _rt_ tables but exposes no data.
            let names = try storage.sql.exec("SELECT name FROM sqlite_master WHERE type = 'table' ORDER BY name")
            #expect(names.rows.map { $0[0] } == [.text("_rt_kv"), .text("_rt_meta")])
        }
    }
}
