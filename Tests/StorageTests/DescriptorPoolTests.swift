import Foundation
import Testing
@testable import RuntimeStorage
import RuntimeAPI
#if canImport(Glibc)
import Glibc
#endif

/// The pooled VFS: databases stay open in SQLite with fewer descriptors than files, and what they
/// read and write through reopened descriptors is the same as through kept ones.
///
/// The pool is process-wide, so these tests shrink the shared one for their duration; other suites
/// running meanwhile only see more reopens.
@Suite("Descriptor pool and pooled VFS", .serialized, .timeLimit(.minutes(1)))
struct DescriptorPoolTests {
    /// Descriptors of this process whose target is under `directory` (from /proc/self/fd).
    static func descriptors(under directory: String) -> Int {
        let entries = (try? FileManager.default.contentsOfDirectory(atPath: "/proc/self/fd")) ?? []
        return entries.filter { entry in
            (try? FileManager.default.destinationOfSymbolicLink(atPath: "/proc/self/fd/" + entry))?
                .hasPrefix(directory + "/") ?? false
        }.count
    }

    /// Runs `body` with the shared pool at `capacity`, restoring it afterwards.
    static func withCapacity<T>(_ capacity: Int, _ body: () throws -> T) rethrows -> T {
        let saved = DescriptorPool.shared.capacity
        DescriptorPool.shared.setCapacity(capacity)
        defer { DescriptorPool.shared.setCapacity(saved) }
        return try body()
    }

    @Test("100 open databases hold at most the pool's capacity of descriptors, and every write reads back")
    func manyDatabasesFewDescriptors() throws {
        let directory = try makeTemporaryDirectory()
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let capacity = DescriptorPool.minimumCapacity
        try Self.withCapacity(capacity) {
            let before = DescriptorPool.shared.counts
            var databases: [SQLiteDatabase] = []
            for index in 0..<100 {
                let database = try SQLiteDatabase(path: "\(directory)/db\(index).sqlite")
                try database.execute("CREATE TABLE t (n INTEGER, payload BLOB)")
                try database.executeCached("INSERT INTO t VALUES (?, randomblob(5000))", [.integer(Int64(index))])
                databases.append(database)
                #expect(Self.descriptors(under: directory) <= capacity)
            }
            // Second round: every database's files were evicted since, so each write reopens them.
            for (index, database) in databases.enumerated() {
                try database.executeCached("UPDATE t SET n = n + 1000")
                #expect(try database.scalar("SELECT n FROM t")?.int == index + 1000)
            }
            #expect(Self.descriptors(under: directory) <= capacity)
            let after = DescriptorPool.shared.counts
            #expect(after.evictions - before.evictions >= 100)
            #expect(after.reopens - before.reopens >= 100)
            // Checkpoints sync and truncate through pooled descriptors too.
            for database in databases.prefix(10) { try database.checkpoint(truncate: true) }
            for database in databases { database.close() }
            #expect(Self.descriptors(under: directory) == 0)
        }
        // Reopened without the pool's pressure, the files hold what was written.
        for index in [0, 42, 99] {
            let database = try SQLiteDatabase(path: "\(directory)/db\(index).sqlite")
            defer { database.close() }
            #expect(try database.scalar("SELECT n FROM t")?.int == index + 1000)
            #expect(try database.scalar("SELECT length(payload) FROM t")?.int == 5000)
            #expect(try database.scalar("PRAGMA integrity_check")?.string == "ok")
        }
    }

    @Test("a file replaced while its descriptor was closed is refused, not written")
    func replacedFileIsRefused() throws {
        let directory = try makeTemporaryDirectory()
        defer { try? FileManager.default.removeItem(atPath: directory) }
        try Self.withCapacity(DescriptorPool.minimumCapacity) {
            let path = "\(directory)/victim.sqlite"
            let victim = try SQLiteDatabase(path: path)
            defer { victim.close() }
            try victim.execute("CREATE TABLE t (n INTEGER)")
            try victim.execute("INSERT INTO t VALUES (1)")
            // An unrelated database file, later moved over the victim's WAL path.
            let other = try SQLiteDatabase(path: "\(directory)/other.sqlite")
            try other.execute("CREATE TABLE u (s TEXT)")
            try other.checkpoint(truncate: true)
            other.close()
            let otherBytes = try Data(contentsOf: URL(fileURLWithPath: "\(directory)/other.sqlite"))
            // Push the victim's descriptors out of the pool.
            var fillers: [SQLiteDatabase] = []
            for index in 0..<(DescriptorPool.minimumCapacity + 4) {
                let filler = try SQLiteDatabase(path: "\(directory)/filler\(index).sqlite")
                try filler.execute("CREATE TABLE f (x)")
                fillers.append(filler)
            }
            defer { for filler in fillers { filler.close() } }
            #expect(rename("\(directory)/other.sqlite", path + "-wal") == 0)
            #expect(throws: SQLiteError.self) { try victim.execute("INSERT INTO t VALUES (2)") }
            // The moved file is untouched: the same bytes, still a database with table u.
            #expect(try Data(contentsOf: URL(fileURLWithPath: path + "-wal")) == otherBytes)
            #expect(rename(path + "-wal", "\(directory)/check.sqlite") == 0)
            let check = try SQLiteDatabase(path: "\(directory)/check.sqlite")
            defer { check.close() }
            #expect(try check.scalar("SELECT count(*) FROM sqlite_master WHERE name = 'u'")?.int == 1)
        }
    }

    @Test("a capacity below the minimum is raised to it")
    func minimumCapacity() {
        let pool = DescriptorPool(capacity: 1)
        #expect(pool.capacity == DescriptorPool.minimumCapacity)
        pool.setCapacity(1000)
        #expect(pool.capacity == 1000)
    }
}
