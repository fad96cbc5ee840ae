import Testing
@testable import RuntimeStorage
import RuntimeAPI
import RuntimeIO
#if canImport(Glibc)
import Glibc
#endif

@Suite("Durability and group commit", .timeLimit(.minutes(1)))
struct DurabilityTests {
    @Test("with nothing written, waitUntilDurable returns at once and nothing is committed")
    func nothingToWaitFor() async throws {
        try await withStorage { bench in
            let storage = bench.storage
            _ = try storage.get("k")
            try storage.sql.exec("SELECT 1")
            try await storage.waitUntilDurable()
            #expect(storage.writeSequence == 0)
            #expect(storage.durableSequence == 0)
            #expect(bench.groupCommit.commitCount == 0)
            #expect(bench.groupCommit.syncCount == 0)
            #expect(storage.isIdle)
        }
    }

    @Test("after writes, waitUntilDurable returns with durable == committed == written, committed and synced")
    func writesBecomeDurable() async throws {
        try await withStorage { bench in
            let storage = bench.storage
            try storage.put("a", [1])
            try storage.sql.exec("CREATE TABLE t (x)")
            try storage.setAlarm(atMilliseconds: 77)
            #expect(storage.writeSequence == 1)
            #expect(storage.committedSequence == 0)
            #expect(!storage.isIdle)
            try await storage.waitUntilDurable()
            #expect(storage.writeSequence == 1)
            #expect(storage.committedSequence == 1)
            #expect(storage.durableSequence == 1)
            #expect(bench.groupCommit.commitCount == 1)
            // A new database syncs its WAL, its directory and the database file with its first commit.
            #expect(bench.groupCommit.syncCount == 3)
            #expect(storage.isIdle)
            #expect(bench.groupCommit.isIdle)

            try storage.put("b", [2])
            try await storage.waitUntilDurable()
            #expect(storage.writeSequence == 2)
            #expect(storage.committedSequence == 2)
            #expect(storage.durableSequence == 2)
            #expect(bench.groupCommit.commitCount == 2)
            #expect(bench.groupCommit.syncCount == 4)
        }
    }

    @Test("many writes in one loop turn produce one COMMIT and one sync")
    func oneCommitPerTurn() async throws {
        try await withStorage { bench in
            let storage = bench.storage
            try storage.put("warm-up", [0])
            try await storage.waitUntilDurable()
            let commits = bench.groupCommit.commitCount
            let syncs = bench.groupCommit.syncCount
            for index in 0..<50 { try storage.put("key-\(index)", [UInt8(index)]) }
            try storage.sql.exec("CREATE TABLE t (x)")
            try storage.sql.exec("INSERT INTO t VALUES (1), (2)")
            try storage.delete("key-0")
            try storage.setAlarm(atMilliseconds: 1)
            try storage.put(["x": [1], "y": [2]])
            try await storage.waitUntilDurable()
            #expect(bench.groupCommit.commitCount - commits == 1)
            #expect(bench.groupCommit.syncCount - syncs == 1)
            #expect(storage.durableSequence == storage.writeSequence)
            // warm-up, key-1 ... key-49, x and y.
            #expect(try storage.list().count == 52)
        }
    }

    @Test("writes in separate loop turns produce separate COMMITs")
    func commitPerTurn() async throws {
        try await withStorage { bench in
            let storage = bench.storage
            let commits = bench.groupCommit.commitCount
            for index in 0..<3 {
                try storage.put("key-\(index)", [1])
                try await bench.nextTurn()
            }
            try await storage.waitUntilDurable()
            #expect(bench.groupCommit.commitCount - commits == 3)
            #expect(storage.writeSequence == 3)
            #expect(storage.durableSequence == 3)
        }
    }

    @Test("a write made while the previous turn's sync is in flight is waited for too")
    func waitCoversLaterWrite() async throws {
        try await withStorage { bench in
            let storage = bench.storage
            try storage.put("first", [1])
            try await bench.nextTurn()
            #expect(storage.committedSequence == 1)
            try storage.put("second", [2])
            #expect(storage.writeSequence == 2)
            try await storage.waitUntilDurable()
            #expect(storage.durableSequence == 2)
            #expect(try bench.reopen().allKeys() == ["first", "second"])
        }
    }

    @Test("two objects on one loop commit in the same turn and each becomes durable")
    func twoObjectsOneLoop() async throws {
        try await withStorage { bench in
            let other = try ObjectStorage(path: bench.directory + "/other.sqlite", groupCommit: bench.groupCommit)
            defer { other.close() }
            let commits = bench.groupCommit.commitCount
            try bench.storage.put("mine", [1])
            try other.put("theirs", [2])
            try await bench.storage.waitUntilDurable()
            try await other.waitUntilDurable()
            #expect(bench.groupCommit.commitCount - commits == 2)
            #expect(other.durableSequence == 1)
            #expect(bench.storage.durableSequence == 1)
            #expect(try other.allKeys() == ["theirs"])
            #expect(try bench.storage.allKeys() == ["mine"])
        }
    }

    @Test("KV entries, SQL rows and the alarm survive closing and reopening the database")
    func persistence() async throws {
        try await withStorage { bench in
            let storage = bench.storage
            try storage.put(["a": [1], "b": [2, 3]])
            try storage.sql.exec("CREATE TABLE t (x, y)")
            try storage.sql.exec("INSERT INTO t VALUES (?, ?)", 1, .blob([9, 9]))
            try storage.setAlarm(atMilliseconds: 123_456)
            try await storage.waitUntilDurable()

            let reopened = try bench.reopen()
            #expect(reopened !== storage)
            #expect(try reopened.get(["a", "b"]) == ["a": [1], "b": [2, 3]])
            #expect(try reopened.sql.exec("SELECT x, y FROM t").one().values == [.integer(1), .blob([9, 9])])
            #expect(try reopened.getAlarm() == 123_456)
            // A reopened database is not new: its commits sync the WAL only.
            let syncs = bench.groupCommit.syncCount
            try reopened.put("c", [4])
            try await reopened.waitUntilDurable()
            #expect(bench.groupCommit.syncCount - syncs == 1)
            #expect(try bench.reopen().allKeys() == ["a", "b", "c"])
        }
    }

    @Test("the object holds its database in exclusive locking mode, so no -shm file exists")
    func exclusiveLocking() async throws {
        try await withStorage { bench in
            let storage = bench.storage
            try storage.put("k", [1])
            try await storage.waitUntilDurable()
            #expect(access(bench.path + "-shm", F_OK) != 0)
            #expect(try storage.database.scalar("PRAGMA locking_mode") == .text("exclusive"))
            // Closing leaves the (durable) WAL in place; reopening it must not fall back to a -shm index.
            let reopened = try bench.reopen()
            #expect(access(bench.path + "-wal", F_OK) == 0)
            #expect(try reopened.get("k") == [1])
            #expect(access(bench.path + "-shm", F_OK) != 0)
        }
    }

    @Test("a WAL past checkpointPages is checkpointed once durable and then reused from its start; closing truncates a long one")
    func checkpointWhenLarge() async throws {
        try await withStorage { bench in
            let storage = bench.storage
            let walPath = storage.database.walPath
            let value = [UInt8](repeating: 0x5A, count: StorageLimits.maxValueBytes)
            // 40 values of 128 KiB are about 1300 pages of 4 KiB, past the 1000-page threshold.
            for index in 0..<40 { try storage.put("big-\(index)", value) }
            try await storage.waitUntilDurable()
            // The checkpoint comes once an fdatasync of the WAL, off the loop, has finished.
            #expect(await eventually { storage.walPages == 0 })
            #expect(bench.groupCommit.checkpointCount == 1)
            // The checkpoint keeps the file's length, so the next commits overwrite pages it has.
            #expect(Self.fileBytes(walPath) > SQLiteDatabase.walKeptBytes)

            // A small commit afterwards does not checkpoint; it restarts the WAL at its first frame and
            // SQLite trims the file to walKeptBytes.
            try storage.put("small", [1])
            try await storage.waitUntilDurable()
            #expect(storage.walPages > 0 && storage.walPages < 10)
            #expect(Self.fileBytes(walPath) == SQLiteDatabase.walKeptBytes)

            // Closing a database whose WAL file is longer than closeCheckpointBytes folds the WAL into
            // the database and truncates it.
            let reopened = try bench.reopen()
            #expect(Self.fileBytes(walPath) == 0)
            #expect(try reopened.list().count == 41)
            #expect(try reopened.get("big-39") == value)
            #expect(try reopened.get("small") == [1])
        }
    }

    static func fileBytes(_ path: String) -> Int {
        var info = stat()
        return stat(path, &info) == 0 ? Int(info.st_size) : -1
    }

    // MARK: Failure

    @Test("a COMMIT that fails breaks the storage, fails the wait with objectReset, and leaves nothing behind")
    func failedCommit() async throws {
        try await withStorage { bench in
            let storage = bench.storage
            let log = AlarmLog()
            storage.onAlarmCommitted = { log.calls.append($0) }
            try storage.put("kept", [1])
            try storage.setAlarm(atMilliseconds: 100)
            try storage.sql.exec("CREATE TABLE parent (id INTEGER PRIMARY KEY)")
            try storage.sql.exec(
                "CREATE TABLE child (parent INTEGER REFERENCES parent (id) DEFERRABLE INITIALLY DEFERRED)")
            try await storage.waitUntilDurable()
            let commits = bench.groupCommit.commitCount
            let durable = storage.durableSequence

            // The dangling row is accepted now; the deferred check fails at COMMIT, at the end of the turn.
            try storage.put("lost", [2])
            try storage.setAlarm(atMilliseconds: 200)
            let inserted = try storage.sql.exec("INSERT INTO child VALUES (404)")
            #expect(inserted.rowsWritten == 1)
            var waitError: (any Error)? = nil
            do {
                try await storage.waitUntilDurable()
            } catch {
                waitError = error
            }
            guard case .objectReset(let reason) = waitError as? StorageError else {
                Issue.record("expected StorageError.objectReset, got \(String(describing: waitError))")
                return
            }
            #expect(reason.contains("FOREIGN KEY constraint failed"), "\(reason)")
            #expect(storage.broken == .objectReset(reason))
            #expect(bench.groupCommit.commitCount == commits)
            #expect(storage.committedSequence == durable)
            #expect(storage.durableSequence == durable)
            #expect(!storage.database.inTransaction)
            #expect(!storage.isIdle)
            #expect(log.calls == [100])

            // It stays broken: every later wait and write throws the same error, and nothing is written.
            await #expect(throws: StorageError.objectReset(reason)) { try await storage.waitUntilDurable() }
            #expect(storageError { try storage.put("later", [3]) } == .objectReset(reason))
            #expect(storageError { try storage.sql.exec("INSERT INTO parent VALUES (1)") } == .objectReset(reason))
            #expect(storageError { try storage.transaction { } } == .objectReset(reason))
            #expect(storageError { try storage.deleteAll() } == .objectReset(reason))
            #expect(storageError { try storage.setAlarm(atMilliseconds: 300) } == .objectReset(reason))
            #expect(try storage.get("lost") == nil)
            #expect(try storage.get("kept") == [1])

            let reopened = try bench.reopen()
            #expect(reopened.broken == nil)
            #expect(try reopened.allKeys() == ["kept"])
            #expect(try reopened.getAlarm() == 100)
            #expect(try reopened.sql.exec("SELECT count(*) FROM child").one()[0] == .integer(0))
            try reopened.put("fresh", [4])
            try await reopened.waitUntilDurable()
            #expect(reopened.durableSequence == 1)
        }
    }

    @Test("a failed COMMIT of one object does not fail another object committing in the same turn")
    func failureIsPerObject() async throws {
        try await withStorage { bench in
            let other = try ObjectStorage(path: bench.directory + "/other.sqlite", groupCommit: bench.groupCommit)
            defer { other.close() }
            let storage = bench.storage
            try storage.put("setup", [0])
            try storage.sql.exec("CREATE TABLE parent (id INTEGER PRIMARY KEY)")
            try storage.sql.exec(
                "CREATE TABLE child (parent INTEGER REFERENCES parent (id) DEFERRABLE INITIALLY DEFERRED)")
            try await storage.waitUntilDurable()

            try storage.put("x", [1])
            try storage.sql.exec("INSERT INTO child VALUES (404)")
            try other.put("fine", [2])
            await #expect(throws: StorageError.self) { try await storage.waitUntilDurable() }
            try await other.waitUntilDurable()
            #expect(other.broken == nil)
            #expect(other.durableSequence == 1)
            #expect(storage.broken != nil)
        }
    }

    @Test("a write reported durable is never lost, even when app SQL rolls back the implicit transaction")
    func conflictRollbackDoesNotLoseAcknowledgedWrites() async throws {
        try await withStorage { bench in
            let storage = bench.storage
            try storage.put("setup", [0])
            try storage.sql.exec("CREATE TABLE t (x UNIQUE)")
            try storage.sql.exec("INSERT INTO t VALUES (1)")
            try await storage.waitUntilDurable()

            // Another event's write in the same turn, then app SQL whose conflict clause rolls back.
            try storage.put("acknowledged", [1])
            #expect(storageError { try storage.sql.exec("INSERT OR ROLLBACK INTO t VALUES (1)") }?.kind == "sql")
            let reportedDurable: Bool
            do {
                try await storage.waitUntilDurable()
                reportedDurable = true
            } catch {
                reportedDurable = false
            }
            if reportedDurable {
                #expect(try storage.get("acknowledged") == [1])
                #expect(try bench.reopen().get("acknowledged") == [1])
            } else {
                #expect(storage.broken?.kind == "objectReset")
            }
        }
    }
}
