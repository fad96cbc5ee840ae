import Testing
@testable import RuntimeStorage
import RuntimeAPI

/// A value bound to a column without affinity, and the `typeof()` SQLite must report for it.
struct BindingCase: Sendable, CustomTestStringConvertible {
    let value: SQLValue
    let type: String
    var testDescription: String { "\(value) as \(type)" }
}

/// A bad statement and what SQLite's message must contain.
struct BadSQLCase: Sendable, CustomTestStringConvertible {
    let sql: String
    let code: Int32
    let message: String
    var testDescription: String { sql }
}

@Suite("SQL API", .timeLimit(.minutes(1)))
struct SQLTests {
    static let bindings: [BindingCase] = [
        BindingCase(value: .integer(0), type: "integer"),
        BindingCase(value: .integer(-1), type: "integer"),
        BindingCase(value: .integer(Int64.max), type: "integer"),
        BindingCase(value: .integer(Int64.min), type: "integer"),
        BindingCase(value: .real(3.25), type: "real"),
        BindingCase(value: .real(-1e300), type: "real"),
        BindingCase(value: .real(.infinity), type: "real"),
        BindingCase(value: .text(""), type: "text"),
        BindingCase(value: .text("héllo, wörld ✓ 😀"), type: "text"),
        BindingCase(value: .blob([]), type: "blob"),
        BindingCase(value: .blob([0, 1, 0x7F, 0x80, 0xFF, 0]), type: "blob"),
        BindingCase(value: .blob(Array(repeating: 0xAB, count: 100_000)), type: "blob"),
        BindingCase(value: .null, type: "null"),
    ]

    @Test("each binding type is stored and read back equal, with SQLite's matching storage class",
          arguments: bindings)
    func bindingRoundTrip(_ binding: BindingCase) async throws {
        try await withStorage { bench in
            let sql = bench.storage.sql
            try sql.exec("CREATE TABLE t (v)")
            let inserted = try sql.exec("INSERT INTO t (v) VALUES (?)", binding.value)
            #expect(inserted.rowsWritten == 1)
            let row = try sql.exec("SELECT v, typeof(v) AS type FROM t").one()
            #expect(row[0] == binding.value)
            #expect(row["v"] == binding.value)
            #expect(row["type"] == .text(binding.type))
            // The bound value also compares equal inside SQLite, not only after the round trip.
            if binding.value != .null {
                let matches = try sql.exec("SELECT count(*) FROM t WHERE v = ?", binding.value).one()
                #expect(matches[0] == .integer(1))
            }
        }
    }

    @Test("all five binding types in one row keep their column order and names")
    func mixedRow() async throws {
        try await withStorage { bench in
            let sql = bench.storage.sql
            try sql.exec("CREATE TABLE t (i INTEGER, r REAL, s TEXT, b BLOB, n)")
            try sql.exec("INSERT INTO t VALUES (?, ?, ?, ?, ?)", 42, 2.5, "text", .blob([1, 2, 3]), nil)
            let cursor = try sql.exec("SELECT * FROM t")
            #expect(cursor.columnNames == ["i", "r", "s", "b", "n"])
            let row = try cursor.one()
            #expect(row.values == [.integer(42), .real(2.5), .text("text"), .blob([1, 2, 3]), .null])
            #expect(row["s"] == .text("text"))
            #expect(row["missing"] == nil)
            #expect(row["i"]?.int == 42)
            #expect(row["r"]?.double == 2.5)
            #expect(row["b"]?.bytes == [1, 2, 3])
        }
    }

    @Test("several `;`-separated statements run in order; the bindings go to the last, whose rows are returned")
    func multipleStatements() async throws {
        try await withStorage { bench in
            let sql = bench.storage.sql
            try sql.exec("CREATE TABLE t (x INTEGER)")
            let cursor = try sql.exec("""
                INSERT INTO t VALUES (1); INSERT INTO t VALUES (2);
                INSERT INTO t VALUES (3);
                SELECT x FROM t WHERE x >= ? ORDER BY x
                """, 2)
            #expect(cursor.columnNames == ["x"])
            #expect(cursor.rows.map { $0[0] } == [.integer(2), .integer(3)])
            #expect(cursor.rowsWritten == 3)
            let all = try sql.exec("SELECT count(*) FROM t").one()
            #expect(all[0] == .integer(3))
        }
    }

    @Test("a later statement in the same exec may use a table an earlier one creates")
    func laterStatementSeesEarlierSchema() async throws {
        try await withStorage { bench in
            let sql = bench.storage.sql
            let cursor = try sql.exec("CREATE TABLE t (x); INSERT INTO t VALUES (?)", 7)
            #expect(cursor.rowsWritten == 1)
            #expect(try sql.exec("SELECT x FROM t").one()[0] == .integer(7))
        }
    }

    @Test("rowsRead counts rows of every statement; rowsWritten counts rows inserted, updated and deleted")
    func rowCounts() async throws {
        try await withStorage { bench in
            let sql = bench.storage.sql
            try sql.exec("CREATE TABLE t (x INTEGER)")
            let insert = try sql.exec("INSERT INTO t VALUES (1), (2), (3), (4)")
            #expect(insert.rowsWritten == 4)
            #expect(insert.rowsRead == 0)
            let update = try sql.exec("UPDATE t SET x = x * 10 WHERE x > 2")
            #expect(update.rowsWritten == 2)
            let select = try sql.exec("SELECT x FROM t ORDER BY x")
            #expect(select.rowsRead == 4)
            #expect(select.rowsWritten == 0)
            #expect(Array(select).map { $0[0] } == [.integer(1), .integer(2), .integer(30), .integer(40)])
            let both = try sql.exec("SELECT x FROM t WHERE x < 10; DELETE FROM t WHERE x > 10; SELECT x FROM t")
            #expect(both.rowsRead == 4)
            #expect(both.rowsWritten == 2)
            #expect(both.rows.count == 2)
            let none = try sql.exec("DELETE FROM t WHERE x > 1000")
            #expect(none.rowsWritten == 0)
        }
    }

    @Test("a statement that changes no rows (DDL) reports rowsWritten 0 even after an insert")
    func ddlWritesNoRows() async throws {
        try await withStorage { bench in
            let sql = bench.storage.sql
            try sql.exec("CREATE TABLE t (x)")
            try sql.exec("INSERT INTO t VALUES (1), (2), (3)")
            #expect(try sql.exec("CREATE TABLE u (y)").rowsWritten == 0)
            #expect(try sql.exec("INSERT INTO t VALUES (4), (5); CREATE INDEX t_x ON t (x)").rowsWritten == 2)
            try bench.storage.put("k", [1])
            #expect(try sql.exec("DROP TABLE u").rowsWritten == 0)
        }
    }

    @Test("databaseSize is positive for a new database and grows with the data")
    func databaseSize() async throws {
        try await withStorage { bench in
            let sql = bench.storage.sql
            let empty = sql.databaseSize
            #expect(empty > 0)
            #expect(empty % 512 == 0)
            try sql.exec("CREATE TABLE t (b BLOB)")
            for _ in 0..<4 {
                try sql.exec("INSERT INTO t VALUES (?)", .blob(Array(repeating: 7, count: 50_000)))
            }
            let filled = sql.databaseSize
            #expect(filled >= empty + 200_000)
            try await bench.storage.waitUntilDurable()
            #expect(sql.databaseSize == filled)
        }
    }

    @Test("one() returns the only row and throws invalidArgument for zero or several rows")
    func oneRow() async throws {
        try await withStorage { bench in
            let sql = bench.storage.sql
            try sql.exec("CREATE TABLE t (x)")
            try sql.exec("INSERT INTO t VALUES (1), (2)")
            #expect(try sql.exec("SELECT x FROM t WHERE x = 2").one()[0] == .integer(2))
            let none = storageError { _ = try sql.exec("SELECT x FROM t WHERE x = 3").one() }
            #expect(none == .invalidArgument("expected exactly one row, got 0"))
            let two = storageError { _ = try sql.exec("SELECT x FROM t").one() }
            #expect(two == .invalidArgument("expected exactly one row, got 2"))
        }
    }

    @Test("empty SQL and SQL of only comments return an empty cursor")
    func emptySQL() async throws {
        try await withStorage { bench in
            for text in ["", "   ", "-- nothing here", ";;"] {
                let cursor = try bench.storage.sql.exec(text)
                #expect(cursor.rows.isEmpty)
                #expect(cursor.columnNames.isEmpty)
                #expect(cursor.rowsWritten == 0)
            }
            #expect(!bench.storage.database.inTransaction)
        }
    }

    static let badSQL: [BadSQLCase] = [
        BadSQLCase(sql: "SELECT * FROM missing", code: 1, message: "no such table: missing"),
        BadSQLCase(sql: "SELEC 1", code: 1, message: "syntax error"),
        BadSQLCase(sql: "SELECT nope FROM t", code: 1, message: "no such column: nope"),
        BadSQLCase(sql: "INSERT INTO t VALUES (1, 2, 3)", code: 1, message: "3 values"),
        BadSQLCase(sql: "INSERT INTO t VALUES (1)", code: 19, message: "UNIQUE constraint failed: t.x"),
        BadSQLCase(sql: "INSERT INTO t VALUES (NULL)", code: 19, message: "NOT NULL constraint failed: t.x"),
        BadSQLCase(sql: "SELECT 1; SELECT * FROM missing", code: 1, message: "no such table: missing"),
        BadSQLCase(sql: "CREATE TABLE t (y)", code: 1, message: "table t already exists"),
    ]

    @Test("bad SQL throws StorageError.sql with SQLite's code and message, and storage keeps working",
          arguments: badSQL)
    func badSQLThrows(_ bad: BadSQLCase) async throws {
        try await withStorage { bench in
            let sql = bench.storage.sql
            try sql.exec("CREATE TABLE t (x INTEGER UNIQUE NOT NULL)")
            try sql.exec("INSERT INTO t VALUES (1)")
            let error = storageError { try sql.exec(bad.sql) }
            guard case .sql(let code, let message) = error else {
                Issue.record("expected StorageError.sql, got \(String(describing: error))")
                return
            }
            #expect(code == bad.code)
            #expect(message.contains(bad.message), "\(message)")
            try sql.exec("INSERT INTO t VALUES (2)")
            #expect(try sql.exec("SELECT count(*) FROM t").one()[0] == .integer(2))
            try await bench.storage.waitUntilDurable()
            #expect(bench.storage.broken == nil)
        }
    }

    @Test("a binding count that does not match the last statement's parameters throws invalidArgument",
          arguments: [
              ("SELECT ?", 0), ("SELECT ?", 2), ("SELECT 1", 1), ("SELECT ?, ?2, :name", 2),
              ("SELECT ?; SELECT 1", 1), ("SELECT 1; SELECT ?", 0),
          ])
    func bindingCountMismatch(_ sql: String, _ count: Int) async throws {
        try await withStorage { bench in
            let values = Array(repeating: SQLValue.integer(1), count: count)
            let error = storageError { try bench.storage.sql.exec(sql, values) }
            #expect(error?.kind == "invalidArgument")
            if case .invalidArgument(let message) = error { #expect(message.contains("\(count) bindings")) }
        }
    }

    @Test("the binding count of the last statement is checked before the earlier statements run")
    func mismatchRunsNothing() async throws {
        try await withStorage { bench in
            let sql = bench.storage.sql
            try sql.exec("CREATE TABLE t (x)")
            let error = storageError { try sql.exec("INSERT INTO t VALUES (1); SELECT ?", []) }
            #expect(error?.kind == "invalidArgument")
            #expect(try sql.exec("SELECT count(*) FROM t").one()[0] == .integer(0))
        }
    }

    @Test("more bindings than StorageLimits.maxBindings are refused before SQLite sees them")
    func tooManyBindings() async throws {
        try await withStorage { bench in
            let count = StorageLimits.maxBindings + 1
            let placeholders = Array(repeating: "?", count: count).joined(separator: ", ")
            let values = Array(repeating: SQLValue.integer(1), count: count)
            let error = storageError { try bench.storage.sql.exec("SELECT \(placeholders)", values) }
            #expect(error == .tooManyKeys(count: count, limit: StorageLimits.maxBindings))
            let limit = StorageLimits.maxBindings
            let atLimit = try bench.storage.sql.exec(
                "SELECT " + Array(repeating: "?", count: limit).joined(separator: ", "),
                Array(repeating: SQLValue.integer(2), count: limit))
            #expect(try atLimit.one().values == Array(repeating: SQLValue.integer(2), count: limit))
        }
    }

    @Test("SQL longer than StorageLimits.maxStatementBytes throws statementTooLarge; exactly the limit runs",
          arguments: [0, 1, 1000])
    func statementSize(_ over: Int) async throws {
        try await withStorage { bench in
            let limit = StorageLimits.maxStatementBytes
            let head = "SELECT 1 /*"
            let tail = "*/"
            let padding = String(repeating: "x", count: limit + over - head.utf8.count - tail.utf8.count)
            let text = head + padding + tail
            #expect(text.utf8.count == limit + over)
            if over == 0 {
                let row = try bench.storage.sql.exec(text).one()
                #expect(row[0] == .integer(1))
            } else {
                let error = storageError { try bench.storage.sql.exec(text) }
                #expect(error == .statementTooLarge(bytes: limit + over, limit: limit))
            }
        }
    }

    @Test("the statement size limit counts UTF-8 bytes, not characters")
    func statementSizeInBytes() async throws {
        try await withStorage { bench in
            let limit = StorageLimits.maxStatementBytes
            // "é" is two bytes: this text has fewer characters than the limit but more bytes.
            let text = "SELECT '" + String(repeating: "é", count: limit / 2) + "'"
            #expect(text.count < limit)
            let error = storageError { try bench.storage.sql.exec(text) }
            #expect(error == .statementTooLarge(bytes: text.utf8.count, limit: limit))
        }
    }

    @Test("app SQL may be the first write of a turn: it opens the implicit transaction itself")
    func sqlOpensImplicitTransaction() async throws {
        try await withStorage { bench in
            let storage = bench.storage
            try storage.sql.exec("SELECT 1")
            #expect(!storage.database.inTransaction)
            #expect(storage.writeSequence == 0)
            try storage.sql.exec("CREATE TABLE t (x)")
            #expect(storage.database.inTransaction)
            #expect(storage.writeSequence == 1)
            try storage.sql.exec("INSERT INTO t VALUES (1)")
            #expect(storage.writeSequence == 1)
            try await storage.waitUntilDurable()
            #expect(!storage.database.inTransaction)
            #expect(storage.committedSequence == 1)
            // And again in a later turn, once the first transaction is committed.
            try storage.sql.exec("INSERT INTO t VALUES (2)")
            #expect(storage.writeSequence == 2)
            try await storage.waitUntilDurable()
            #expect(try storage.sql.exec("SELECT count(*) FROM t").one()[0] == .integer(2))
        }
    }

    @Test("a read opens no transaction; the first write opens one that the end of the turn commits")
    func implicitTransaction() async throws {
        try await withStorage { bench in
            let storage = bench.storage
            try storage.sql.exec("SELECT 1")
            _ = try storage.get("k")
            #expect(!storage.database.inTransaction)
            #expect(storage.writeSequence == 0)
            try storage.put("k", [1])
            #expect(storage.database.inTransaction)
            #expect(storage.writeSequence == 1)
            try storage.sql.exec("CREATE TABLE t (x)")
            try storage.put("j", [2])
            #expect(storage.writeSequence == 1)
            try await bench.nextTurn()
            #expect(!storage.database.inTransaction)
            #expect(storage.committedSequence == 1)
            try storage.put("k", [3])
            #expect(storage.writeSequence == 2)
        }
    }

    @Test("a text binding with a NUL character is stored whole")
    func textWithNUL() async throws {
        try await withStorage { bench in
            let sql = bench.storage.sql
            try sql.exec("CREATE TABLE t (v TEXT)")
            try sql.exec("INSERT INTO t VALUES (?)", .text("a\u{0}b"))
            #expect(try sql.exec("SELECT v, length(CAST(v AS BLOB)) FROM t").one().values == [.text("a\u{0}b"), 3])
        }
    }
}
