import Foundation
import Testing
@testable import RuntimeStorage
import RuntimeAPI
import RuntimeIO

/// A loop's group commit with a commit journal, and object databases under the journal's root.
///
/// Threading: loop-bound, like `StorageBench`.
final class JournalBench {
    let loop: Loop
    let root: String
    let journalDirectory: String
    let journal: CommitJournal
    let groupCommit: GroupCommit

    init(loop: Loop, root: String, limits: CommitJournal.Limits = CommitJournal.Limits()) throws {
        self.loop = loop
        self.root = root
        journalDirectory = root + "/journal"
        try FileManager.default.createDirectory(atPath: journalDirectory, withIntermediateDirectories: true)
        journal = try CommitJournal(loop: loop, root: root, directory: journalDirectory, name: "loop-0", limits: limits)
        groupCommit = GroupCommit(loop: loop, journal: journal)
    }

    func open(_ name: String) throws -> ObjectStorage {
        try ObjectStorage(path: root + "/" + name + ".sqlite", groupCommit: groupCommit)
    }

    /// Copies an object's database and WAL aside: "what the disk held" at this moment.
    func snapshot(_ name: String, as label: String) throws {
        for suffix in ["", "-wal"] {
            let source = root + "/" + name + ".sqlite" + suffix
            let copy = root + "/" + label + suffix
            try? FileManager.default.removeItem(atPath: copy)
            if FileManager.default.fileExists(atPath: source) { try FileManager.default.copyItem(atPath: source, toPath: copy) }
        }
    }

    /// Puts a snapshot back in place of the object's files, as if everything written after it had been
    /// lost from the page cache in a power cut (the journal, fdatasynced, survives).
    func restore(_ name: String, from label: String) throws {
        for suffix in ["", "-wal"] {
            let target = root + "/" + name + ".sqlite" + suffix
            try? FileManager.default.removeItem(atPath: target)
            let copy = root + "/" + label + suffix
            if FileManager.default.fileExists(atPath: copy) { try FileManager.default.copyItem(atPath: copy, toPath: target) }
        }
    }
}

func withJournal<T: Sendable>(limits: CommitJournal.Limits = CommitJournal.Limits(),
                              _ body: @escaping @Sendable (JournalBench) async throws -> T) async throws -> T {
    let directory = try makeTemporaryDirectory()
    defer { try? FileManager.default.removeItem(atPath: directory) }
    let group = try LoopGroup(count: 1, namePrefix: "journal-test")
    defer { group.stop(); group.join() }
    let loop = group.loops[0]
    return try await Task(executorPreference: loop.taskExecutor) {
        await loop.hopHere()
        return try await body(try JournalBench(loop: loop, root: directory, limits: limits))
    }.value
}

/// Everything an object holds, in a comparable form.
struct Dump: Equatable {
    var kv: [String: [UInt8]]
    var rows: [[SQLValue]]
    var alarm: Int64?
    var lsn: UInt64

    init(_ storage: ObjectStorage) throws {
        kv = Dictionary(uniqueKeysWithValues: try storage.list().map { ($0.key, $0.value) })
        rows = try storage.sql.exec("SELECT id, name, score FROM players ORDER BY id").rows.map(\.values)
        alarm = try storage.getAlarm()
        lsn = storage.lsn
    }
}

@Suite("Commit journal", .timeLimit(.minutes(1)))
struct JournalTests {
    @Test("records round-trip; reading stops at a torn record and at a record of an older generation")
    func format() throws {
        let records = [
            JournalFormat.Record(path: "NS/a.sqlite", lsn: 7, operations: [
                .put(key: "k", value: [1, 2, 3]), .delete(key: "gone"), .setAlarm(-5), .deleteAlarm, .changeset([9, 9]),
            ]),
            JournalFormat.Record(path: "NS/b.sqlite", lsn: 1, operations: []),
            JournalFormat.Record(path: "NS/ü.sqlite", lsn: UInt64.max, operations: [
                .put(key: "ключ\u{0}", value: Array(repeating: 0xEE, count: 5000)), .put(key: "", value: []),
            ]),
        ]
        var file = JournalFormat.header(generation: 9)
        for record in records { JournalFormat.encode(record, generation: 9, into: &file) }
        let whole = try #require(JournalFormat.decode(file: file))
        #expect(whole.generation == 9)
        #expect(whole.records == records)

        // Cut inside the last record: the first two survive.
        #expect(JournalFormat.decode(file: Array(file.dropLast(10)))?.records == Array(records.prefix(2)))
        // A flipped bit in the second record's changeset ends the journal there.
        var flipped = file
        let secondStart = JournalFormat.headerBytes + JournalFormat.encodedSize(of: records[0])
        flipped[secondStart + JournalFormat.encodedSize(of: records[1]) - 1] ^= 0x01
        #expect(JournalFormat.decode(file: flipped)?.records == Array(records.prefix(1)))
        // A record left over from an earlier generation of the file is not read as current.
        var reused = JournalFormat.header(generation: 10)
        JournalFormat.encode(records[0], generation: 10, into: &reused)
        JournalFormat.encode(records[1], generation: 9, into: &reused)
        #expect(JournalFormat.decode(file: reused)?.records == [records[0]])
        // No valid header, no records.
        var badHeader = file
        badHeader[3] ^= 0xFF
        #expect(JournalFormat.decode(file: badHeader) == nil)
    }

    @Test("commits of many objects in one turn share one journal fsync; a new database's first commit syncs its own WAL")
    func oneSyncForManyObjects() async throws {
        try await withJournal { bench in
            let storages = try (0..<10).map { try bench.open("object-\($0)") }
            defer { storages.forEach { $0.close() } }
            for storage in storages { try storage.put("created", [1]) }
            for storage in storages { try await storage.waitUntilDurable() }
            // New databases: each synced its WAL, database file and directory.
            #expect(bench.groupCommit.journaledCount == 0)
            #expect(bench.groupCommit.syncCount == 30)

            let syncs = bench.groupCommit.syncCount
            for (index, storage) in storages.enumerated() { try storage.put("k", [UInt8(index)]) }
            for storage in storages { try await storage.waitUntilDurable() }
            #expect(bench.groupCommit.journaledCount == 10)
            #expect(bench.groupCommit.syncCount - syncs == 1)
            #expect(bench.journal.flushCount == 1)
            for (index, storage) in storages.enumerated() { #expect(try storage.get("k") == [UInt8(index)]) }
        }
    }

    @Test("schema changes and tables a changeset cannot describe take the direct path")
    func directPath() async throws {
        try await withJournal { bench in
            let storage = try bench.open("object")
            defer { storage.close() }
            try storage.put("created", [1])
            try await storage.waitUntilDurable()

            try storage.sql.exec("CREATE TABLE players (id INTEGER PRIMARY KEY, name TEXT, score INTEGER)")
            try storage.sql.exec("CREATE TABLE loose (x)")
            try storage.sql.exec("CREATE TABLE nullable (k TEXT PRIMARY KEY, v)")
            try await storage.waitUntilDurable()
            #expect(bench.groupCommit.journaledCount == 0, "DDL is not journaled")

            try storage.sql.exec("INSERT INTO players (name, score) VALUES ('ada', 1)")
            try await storage.waitUntilDurable()
            #expect(bench.groupCommit.journaledCount == 1, "a rowid-keyed table is")

            for table in ["loose", "nullable"] {
                let journaled = bench.groupCommit.journaledCount
                let values = table == "loose" ? "(1)" : "('a', 1)"
                try storage.sql.exec("INSERT INTO \(table) VALUES \(values)")
                try storage.put("beside", [2])
                try await storage.waitUntilDurable()
                #expect(bench.groupCommit.journaledCount == journaled, "\(table): the whole transaction goes direct")
            }
            try storage.deleteAll()
            let journaled = bench.groupCommit.journaledCount
            try await storage.waitUntilDurable()
            #expect(bench.groupCommit.journaledCount == journaled, "deleteAll drops tables: direct")
            #expect(try storage.list().isEmpty)
        }
    }

    @Test("after a power cut loses what the page cache held, recovery replays the journal into the database")
    func replayAfterLostPageCache() async throws {
        try await withJournal { bench in
            var storage = try bench.open("object")
            try storage.sql.exec("CREATE TABLE players (id INTEGER PRIMARY KEY, name TEXT, score INTEGER)")
            try storage.put("setup", [0])
            try await storage.waitUntilDurable()
            storage.close()
            // The disk after the direct (fdatasynced) commit.
            try bench.snapshot("object", as: "disk")

            storage = try bench.open("object")
            let journaledBefore = bench.groupCommit.journaledCount
            for round in 0..<20 {
                try storage.put("key-\(round)", Array("value \(round)".utf8))
                try storage.sql.exec("INSERT INTO players (name, score) VALUES (?, ?)", .text("p\(round)"), .integer(Int64(round)))
                if round % 3 == 0 { try storage.delete("key-\(round / 2)") }
                if round % 4 == 1 {
                    try storage.sql.exec("UPDATE players SET score = score + 100 WHERE id % 2 = 0")
                }
                if round % 5 == 2 {
                    // Rolled back: must not come back from the journal either.
                    _ = try? storage.transaction {
                        try storage.put("rolled-back-\(round)", [9])
                        try storage.sql.exec("DELETE FROM players")
                        throw CancellationError()
                    }
                }
                if round == 7 { try storage.setAlarm(atMilliseconds: 1_234_567) }
                try await storage.waitUntilDurable()
            }
            #expect(bench.groupCommit.journaledCount - journaledBefore == 20)
            let expected = try Dump(storage)
            #expect(expected.lsn == 21)
            storage.close()

            // Power cut: the database and WAL are back to the snapshot; the journal survived.
            try bench.restore("object", from: "disk")
            let lost = try bench.open("object")
            #expect(lost.lsn == 1)
            lost.close()
            let report = try JournalRecovery.recover(root: bench.root, directory: bench.journalDirectory)
            #expect(report.applied == 20)
            #expect(report.records == 20)
            #expect(report.objects.map(\.path) == ["object.sqlite"])
            #expect(report.objects.first?.alarm == 1_234_567)
            let recovered = try bench.open("object")
            defer { recovered.close() }
            #expect(try Dump(recovered) == expected)
            #expect(try recovered.list(prefix: "rolled-back").isEmpty)
            // The journals are gone once applied, and the database is durable on its own.
            #expect(try JournalRecovery.journalFiles(in: bench.journalDirectory).isEmpty)
        }
    }

    @Test("after a checkpoint restarts the WAL, the commits that overwrite its old frames come back from the journal after a power cut")
    func replayAfterRestartedWAL() async throws {
        try await withJournal { bench in
            var storage = try bench.open("object")
            let walPath = storage.database.walPath
            try storage.sql.exec("CREATE TABLE players (id INTEGER PRIMARY KEY, name TEXT, score INTEGER)")
            try await storage.waitUntilDurable()
            let big = [UInt8](repeating: 0x5A, count: StorageLimits.maxValueBytes)
            for index in 0..<40 { try storage.put("big-\(index)", big) }
            try await storage.waitUntilDurable()
            // Past checkpointPages: checkpointed with full syncs (once the WAL's own fdatasync is done).
            // The WAL file keeps its length and its frames, already in the database, until the next
            // commit restarts it from the top.
            #expect(await eventually { storage.walPages == 0 })
            #expect(DurabilityTests.fileBytes(walPath) > SQLiteDatabase.walKeptBytes)
            // What the disk holds now: the checkpoint fdatasynced both files.
            try bench.snapshot("object", as: "disk")

            let journaledBefore = bench.groupCommit.journaledCount
            for round in 0..<20 {
                try storage.put("small-\(round)", [UInt8(round)])
                try storage.sql.exec("INSERT INTO players (name, score) VALUES (?, ?)", .text("p\(round)"), .integer(Int64(round)))
                try await storage.waitUntilDurable()
            }
            #expect(bench.groupCommit.journaledCount - journaledBefore == 20)
            let expected = try Dump(storage)
            #expect(expected.lsn == 22)
            storage.close()

            // Power cut: the restarted WAL's new frames never reached the disk; the old ones are back.
            try bench.restore("object", from: "disk")
            let report = try JournalRecovery.recover(root: bench.root, directory: bench.journalDirectory)
            #expect(report.applied == 20)
            storage = try bench.open("object")
            defer { storage.close() }
            #expect(try Dump(storage) == expected)
            #expect(try storage.get("big-39") == big)
        }
    }

    @Test("recovery skips records the database already has (the usual crash: the page cache survived)")
    func replaySkipsWhatIsThere() async throws {
        try await withJournal { bench in
            let storage = try bench.open("object")
            try storage.put("setup", [0])
            try await storage.waitUntilDurable()
            for round in 0..<5 {
                try storage.put("k", [UInt8(round)])
                try await storage.waitUntilDurable()
            }
            storage.close()
            let report = try JournalRecovery.recover(root: bench.root, directory: bench.journalDirectory)
            #expect(report.records == 5)
            #expect(report.applied == 0)
            let reopened = try bench.open("object")
            defer { reopened.close() }
            #expect(try reopened.get("k") == [4])
            #expect(reopened.lsn == 6)
        }
    }

    @Test("a missing transaction between the database and the journal stops recovery with an error and keeps the journal")
    func replayRefusesGap() async throws {
        try await withJournal { bench in
            var storage = try bench.open("object")
            try storage.put("setup", [0])
            try await storage.waitUntilDurable()
            storage.close()
            try bench.snapshot("object", as: "disk")
            storage = try bench.open("object")
            try storage.put("journaled", [1])                    // lsn 2, journaled
            try await storage.waitUntilDurable()
            try storage.sql.exec("CREATE TABLE t (id INTEGER PRIMARY KEY)")  // lsn 3, direct only
            try await storage.waitUntilDurable()
            try storage.put("after", [2])                        // lsn 4, journaled
            try await storage.waitUntilDurable()
            storage.close()

            // Restoring the old disk loses lsn 3, which only its own WAL ever held.
            try bench.restore("object", from: "disk")
            #expect(throws: JournalError.self) {
                try JournalRecovery.recover(root: bench.root, directory: bench.journalDirectory)
            }
            #expect(try JournalRecovery.journalFiles(in: bench.journalDirectory).count == 2)
        }
    }

    @Test("a full journal file is retired (every WAL it covers synced, a few at a time) and the other file takes over",
          arguments: [
              // At most two syncs at once; the byte budget does not bind.
              (concurrency: 2, inFlightBytes: 1024 * 1024, peak: 2),
              // Every WAL has at least one frame unflushed, more than this budget: one at a time.
              (concurrency: 16, inFlightBytes: 4096, peak: 1),
          ])
    func retirement(concurrency: Int, inFlightBytes: Int, peak: Int) async throws {
        var limits = CommitJournal.Limits()
        limits.retireBytes = 16 * 1024
        limits.retirementConcurrency = concurrency
        limits.retirementInFlightBytes = inFlightBytes
        limits.growthBytes = 8 * 1024
        // Room for everything the test writes even if no retirement finished in time (a loaded machine
        // syncs slowly): then the direct path is never needed, whatever the timing.
        limits.fileBytes = 1024 * 1024
        try await withJournal(limits: limits) { bench in
            let storages = try (0..<6).map { try bench.open("object-\($0)") }
            defer { storages.forEach { $0.close() } }
            for storage in storages { try storage.put("created", [1]) }
            for storage in storages { try await storage.waitUntilDurable() }
            let value = [UInt8](repeating: 0x42, count: 1500)
            for round in 0..<60 {
                for storage in storages { try storage.put("k-\(round)", value) }
                for storage in storages { try await storage.waitUntilDurable() }
            }
            #expect(await eventually { bench.journal.retirementCount >= 3 })
            #expect(bench.journal.peakRetirementSyncs == peak)
            #expect(bench.groupCommit.journaledCount == 360, "rotation never forced the direct path")
            for storage in storages { #expect(try storage.list().count == 61) }
        }
    }
}

/// Polls `condition` (on the calling task's executor) until it holds or `timeout` passes.
/// The default is long: it only matters when the condition never holds, and the whole suite runs in parallel on
/// two cores, where a loaded machine may take seconds for what is instant alone.
func eventually(_ timeout: Duration = .seconds(20), _ condition: () async throws -> Bool) async rethrows -> Bool {
    let deadline = ContinuousClock.now + timeout
    while ContinuousClock.now < deadline {
        if try await condition() { return true }
        try? await Task.sleep(for: .milliseconds(10))
    }
    return try await condition()
}
