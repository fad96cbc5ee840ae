import Testing
@testable import RuntimeStorage
import RuntimeAPI

@Suite("Transactions and deleteAll", .timeLimit(.minutes(1)))
struct TransactionTests {
    @Test("a transaction whose body throws rolls back its KV and SQL writes and rethrows the error")
    func rollbackOnThrow() async throws {
        try await withStorage { bench in
            let storage = bench.storage
            try storage.put("before", [1])
            try storage.sql.exec("CREATE TABLE t (x)")
            try storage.sql.exec("INSERT INTO t VALUES ('before')")
            do {
                try storage.transaction {
                    try storage.put("inside", [2])
                    try storage.put("before", [9])
                    try storage.delete("before-deleted")
                    try storage.sql.exec("INSERT INTO t VALUES ('inside')")
                    try storage.sql.exec("CREATE TABLE u (y)")
                    throw Abort(marker: 7)
                }
                Issue.record("the transaction did not rethrow")
            } catch let error as Abort {
                #expect(error == Abort(marker: 7))
            }
            #expect(try storage.get("inside") == nil)
            #expect(try storage.get("before") == [1])
            #expect(try storage.sql.exec("SELECT x FROM t").rows.map { $0[0] } == [.text("before")])
            #expect(try storage.appSchema() == ["t"])
            // The writes before the transaction still commit with the turn.
            try await storage.waitUntilDurable()
            let reopened = try bench.reopen()
            #expect(try reopened.allKeys() == ["before"])
            #expect(try reopened.sql.exec("SELECT count(*) FROM t").one()[0] == .integer(1))
        }
    }

    @Test("a transaction that completes returns its body's value and its writes commit")
    func commitOnSuccess() async throws {
        try await withStorage { bench in
            let storage = bench.storage
            let result = try storage.transaction {
                try storage.put("a", [1])
                try storage.sql.exec("CREATE TABLE t (x)")
                try storage.sql.exec("INSERT INTO t VALUES (1), (2)")
                return try storage.sql.exec("SELECT sum(x) FROM t").one()[0]
            }
            #expect(result == .integer(3))
            #expect(storage.database.inTransaction)
            try await storage.waitUntilDurable()
            let reopened = try bench.reopen()
            #expect(try reopened.get("a") == [1])
            #expect(try reopened.sql.exec("SELECT sum(x) FROM t").one()[0] == .integer(3))
        }
    }

    @Test("a nested transaction that throws, caught by the outer one, undoes only its own writes")
    func nestedInnerRollback() async throws {
        try await withStorage { bench in
            let storage = bench.storage
            let caught: Abort? = try storage.transaction {
                try storage.put("outer-1", [1])
                try storage.sql.exec("CREATE TABLE t (x)")
                try storage.sql.exec("INSERT INTO t VALUES ('outer-1')")
                var caught: Abort? = nil
                do {
                    try storage.transaction {
                        try storage.put("inner", [2])
                        try storage.put("outer-1", [99])
                        try storage.sql.exec("INSERT INTO t VALUES ('inner')")
                        throw Abort(marker: 1)
                    }
                } catch let error as Abort {
                    caught = error
                }
                try storage.put("outer-2", [3])
                try storage.sql.exec("INSERT INTO t VALUES ('outer-2')")
                return caught
            }
            #expect(caught == Abort(marker: 1))
            try await storage.waitUntilDurable()
            let reopened = try bench.reopen()
            #expect(try reopened.allKeys() == ["outer-1", "outer-2"])
            #expect(try reopened.get("outer-1") == [1])
            let rows = try reopened.sql.exec("SELECT x FROM t ORDER BY rowid").rows.map { $0[0] }
            #expect(rows == [.text("outer-1"), .text("outer-2")])
        }
    }

    @Test("when the inner transaction succeeds and the outer throws, both are undone")
    func nestedOuterRollback() async throws {
        try await withStorage { bench in
            let storage = bench.storage
            #expect(throws: Abort(marker: 2)) {
                try storage.transaction {
                    try storage.put("outer", [1])
                    try storage.transaction { try storage.put("inner", [2]) }
                    #expect(try storage.get("inner") == [2])
                    throw Abort(marker: 2)
                }
            }
            #expect(try storage.allKeys() == [])
            try storage.put("after", [3])
            try await storage.waitUntilDurable()
            #expect(try bench.reopen().allKeys() == ["after"])
        }
    }

    @Test("a SQL error inside a transaction rolls it back and surfaces as StorageError.sql")
    func sqlErrorInsideTransaction() async throws {
        try await withStorage { bench in
            let storage = bench.storage
            try storage.sql.exec("CREATE TABLE t (x UNIQUE)")
            let error = storageError {
                try storage.transaction {
                    try storage.sql.exec("INSERT INTO t VALUES (1)")
                    try storage.put("k", [1])
                    try storage.sql.exec("INSERT INTO t VALUES (1)")
                }
            }
            #expect(error?.kind == "sql")
            #expect(try storage.sql.exec("SELECT count(*) FROM t").one()[0] == .integer(0))
            #expect(try storage.get("k") == nil)
            try await storage.waitUntilDurable()
            #expect(storage.broken == nil)
            #expect(try bench.reopen().sql.exec("SELECT count(*) FROM t").one()[0] == .integer(0))
        }
    }

    @Test("writes in a transaction commit with the rest of the turn, in one COMMIT")
    func transactionCommitsWithTurn() async throws {
        try await withStorage { bench in
            let storage = bench.storage
            let before = bench.groupCommit.commitCount
            try storage.put("a", [1])
            try storage.transaction { try storage.put("b", [2]) }
            try storage.transaction { try storage.put("c", [3]) }
            try storage.put("d", [4])
            #expect(storage.writeSequence == 1)
            try await storage.waitUntilDurable()
            #expect(bench.groupCommit.commitCount - before == 1)
            #expect(try bench.reopen().allKeys() == ["a", "b", "c", "d"])
        }
    }

    // MARK: deleteAll

    @Test("deleteAll removes app tables, indexes, KV entries and the alarm, and storage works afterwards")
    func deleteAll() async throws {
        try await withStorage { bench in
            let storage = bench.storage
            try storage.put(["a": [1], "b": [2]])
            try storage.setAlarm(atMilliseconds: 5000)
            try storage.sql.exec("CREATE TABLE t1 (x PRIMARY KEY, y)")
            try storage.sql.exec("CREATE INDEX t1_y ON t1 (y)")
            try storage.sql.exec("CREATE TABLE \"odd \"\"name\"\"\" (z)")
            try storage.sql.exec("CREATE TABLE counter (n INTEGER PRIMARY KEY AUTOINCREMENT, v)")
            try storage.sql.exec("INSERT INTO t1 VALUES (1, 2)")
            try storage.sql.exec("INSERT INTO counter (v) VALUES ('x')")
            try await storage.waitUntilDurable()
            #expect(try storage.appSchema() == ["counter", "odd \"name\"", "t1", "t1_y"])

            try storage.deleteAll()
            #expect(try storage.appSchema() == [])
            #expect(try storage.list().isEmpty)
            #expect(try storage.getAlarm() == nil)
            try await storage.waitUntilDurable()
            #expect(storage.broken == nil)

            let reopened = try bench.reopen()
            #expect(try reopened.appSchema() == [])
            #expect(try reopened.list().isEmpty)
            #expect(try reopened.storedAlarm() == nil)
            // Everything works again, including re-creating a dropped table by the same name.
            try reopened.put("c", [3])
            try reopened.sql.exec("CREATE TABLE t1 (x)")
            try reopened.sql.exec("CREATE TABLE counter (n INTEGER PRIMARY KEY AUTOINCREMENT, v)")
            try reopened.sql.exec("INSERT INTO counter (v) VALUES ('y')")
            #expect(try reopened.sql.exec("SELECT n FROM counter").one()[0] == .integer(1))
            try reopened.setAlarm(atMilliseconds: 6000)
            try await reopened.waitUntilDurable()
            #expect(try reopened.allKeys() == ["c"])
            #expect(try reopened.getAlarm() == 6000)
        }
    }

    @Test("deleteAll drops tables that reference each other by foreign keys, in any order")
    func deleteAllWithForeignKeys() async throws {
        try await withStorage { bench in
            let storage = bench.storage
            try storage.put("k", [1])
            try storage.sql.exec("CREATE TABLE parent (id INTEGER PRIMARY KEY)")
            try storage.sql.exec("CREATE TABLE child (id INTEGER PRIMARY KEY, parent INTEGER REFERENCES parent (id))")
            try storage.sql.exec("CREATE TABLE grandchild (child INTEGER REFERENCES child (id) DEFERRABLE INITIALLY DEFERRED)")
            try storage.sql.exec("INSERT INTO parent VALUES (1), (2)")
            try storage.sql.exec("INSERT INTO child VALUES (10, 1), (20, 2)")
            try storage.sql.exec("INSERT INTO grandchild VALUES (10), (20)")
            try await storage.waitUntilDurable()

            try storage.deleteAll()
            try await storage.waitUntilDurable()
            #expect(storage.broken == nil)
            #expect(try bench.reopen().appSchema() == [])
        }
    }

    @Test("deleteAll in a transaction that throws is undone")
    func deleteAllRolledBack() async throws {
        try await withStorage { bench in
            let storage = bench.storage
            try storage.put("k", [1])
            try storage.setAlarm(atMilliseconds: 42)
            try storage.sql.exec("CREATE TABLE t (x)")
            try await storage.waitUntilDurable()
            #expect(throws: Abort(marker: 3)) {
                try storage.transaction {
                    try storage.deleteAll()
                    throw Abort(marker: 3)
                }
            }
            #expect(try storage.allKeys() == ["k"])
            #expect(try storage.getAlarm() == 42)
            #expect(try storage.appSchema() == ["t"])
            try await storage.waitUntilDurable()
            #expect(try bench.reopen().appSchema() == ["t"])
        }
    }

    @Test("deleteAll also removes app views, leaving no schema behind")
    func deleteAllViews() async throws {
        try await withStorage { bench in
            let storage = bench.storage
            try storage.sql.exec("CREATE TABLE t (x)")
            try storage.sql.exec("CREATE VIEW v AS SELECT x FROM t")
            try storage.deleteAll()
            #expect(try storage.appSchema() == [])
            try storage.sql.exec("CREATE TABLE v (y)")
        }
    }

    @Test("deleteAll removes app tables whose names merely start with \"sqlite\"")
    func deleteAllSQLiteLikeNames() async throws {
        try await withStorage { bench in
            let storage = bench.storage
            try storage.sql.exec("CREATE TABLE sqlite3_stats (x)")
            try storage.sql.exec("CREATE TABLE SQLiteCache (x)")
            try storage.sql.exec("INSERT INTO SQLiteCache VALUES (1)")
            try storage.deleteAll()
            let left = try storage.database.query("SELECT name FROM sqlite_master WHERE name NOT LIKE '\\_rt\\_%' ESCAPE '\\'")
            #expect(left.isEmpty, "\(left)")
        }
    }
}
