import CSQLite
import RuntimeAPI
#if canImport(Glibc)
import Glibc
#endif

/// Brings object databases up to date from the commit journals after a crash, before anything opens
/// them, then removes the journals.
///
/// For each object with records, in lsn order: a record whose lsn the database already has is skipped
/// (its COMMIT reached the database's WAL before the crash); the next one is applied as a changeset in
/// one transaction. A gap in the lsns, or a changeset that does not fit the rows it expects, means the
/// database is not in the state the journal was written against: recovery stops with an error naming
/// the object and keeps the journals, rather than guess.
///
/// Threading: runs on the starting thread, before any loop serves.
public enum JournalRecovery {
    public struct Report: Sendable {
        /// Databases (relative paths) that had records, with their alarm afterwards.
        public var objects: [(path: String, alarm: Int64?)] = []
        /// Records applied (the rest were already in their databases).
        public var applied = 0
        public var records = 0
        public var journalFiles = 0
    }

    /// Replays every journal file in `directory` into the databases under `root`, then deletes the files.
    public static func recover(root: String, directory: String) throws -> Report {
        var report = Report()
        let names = try journalFiles(in: directory)
        report.journalFiles = names.count
        guard !names.isEmpty else { return report }
        var byPath: [String: [JournalFormat.Record]] = [:]
        for name in names {
            let bytes = try readFile(directory + "/" + name)
            guard let decoded = JournalFormat.decode(file: bytes) else { continue }
            for record in decoded.records { byPath[record.path, default: []].append(record) }
            report.records += decoded.records.count
        }
        for (path, records) in byPath.sorted(by: { $0.key < $1.key }) {
            let sorted = records.sorted { $0.lsn < $1.lsn }
            let (applied, alarm) = try replay(sorted, into: root + "/" + path, named: path)
            report.applied += applied
            report.objects.append((path, alarm))
        }
        for name in names { unlink(directory + "/" + name) }
        try CommitJournal.syncDirectory(directory)
        return report
    }

    static func journalFiles(in directory: String) throws -> [String] {
        guard let dir = opendir(directory) else {
            if errno == ENOENT { return [] }
            throw JournalError("cannot read \(directory): \(String(cString: strerror(errno)))")
        }
        defer { closedir(dir) }
        var names: [String] = []
        while let entry = readdir(dir) {
            let name = withUnsafeBytes(of: entry.pointee.d_name) { String(cString: $0.bindMemory(to: CChar.self).baseAddress!) }
            if name.hasSuffix(".journal") { names.append(name) }
        }
        return names.sorted()
    }

    /// Applies the records `database` lacks; returns how many, and its alarm afterwards.
    static func replay(_ records: [JournalFormat.Record], into path: String, named name: String) throws -> (Int, Int64?) {
        guard access(path, F_OK) == 0 else {
            throw JournalError("commit journal: \(name) has \(records.count) journaled transactions but its database is missing")
        }
        let database: SQLiteDatabase
        do {
            database = try SQLiteDatabase(path: path)
        } catch {
            throw JournalError("commit journal: cannot open \(name): \(error)")
        }
        defer { database.close() }
        var stored = try storedLSN(database)
        var applied = 0
        for record in records where record.lsn > stored {
            guard record.lsn == stored + 1 else {
                throw JournalError("commit journal: \(name) is at transaction \(stored) but the next journaled one is \(record.lsn); transactions in between are missing. The journals are kept; the database was not changed")
            }
            do {
                try database.execute("BEGIN")
                for operation in record.operations { try apply(operation, to: database) }
                try database.query(ObjectStorage.writeLSN, [.integer(Int64(record.lsn))])
                try database.execute("COMMIT")
            } catch {
                if database.inTransaction { try? database.execute("ROLLBACK") }
                throw JournalError("commit journal: transaction \(record.lsn) of \(name) does not apply: \(error). The journals are kept")
            }
            stored = try storedLSN(database)
            guard stored == record.lsn else {
                throw JournalError("commit journal: transaction \(record.lsn) of \(name) left it at \(stored)")
            }
            applied += 1
        }
        let alarm: Int64?
        do {
            alarm = try database.scalar("SELECT value FROM _rt_meta WHERE name = 'alarm'")?.int.map(Int64.init)
            // Durable on its own from here on, so the journal can go.
            try database.checkpoint(truncate: true)
        } catch {
            throw JournalError("commit journal: cannot finish \(name): \(error)")
        }
        return (applied, alarm)
    }

    static func storedLSN(_ database: SQLiteDatabase) throws -> UInt64 {
        do {
            guard try database.scalar("SELECT 1 FROM sqlite_master WHERE name = '_rt_kv'") != nil else { return 0 }
            return try ObjectStorage.storedLSN(database)
        } catch {
            throw JournalError("commit journal: cannot read \(database.path): \(error)")
        }
    }

    static func apply(_ operation: JournalOperation, to database: SQLiteDatabase) throws {
        switch operation {
        case .put(let key, let value):
            try database.query("INSERT OR REPLACE INTO _rt_kv (key, value) VALUES (?, ?)", [.text(key), .blob(value)])
        case .delete(let key):
            try database.query("DELETE FROM _rt_kv WHERE key = ?", [.text(key)])
        case .setAlarm(let time):
            try database.query("INSERT OR REPLACE INTO _rt_meta (name, value) VALUES ('alarm', ?)", [.integer(time)])
        case .deleteAlarm:
            try database.query("DELETE FROM _rt_meta WHERE name = 'alarm'")
        case .changeset(let bytes):
            try apply(bytes, to: database)
        }
    }

    /// Applies a changeset, refusing any conflict: the database must be exactly in the state the
    /// changeset was recorded against.
    static func apply(_ changeset: [UInt8], to database: SQLiteDatabase) throws {
        guard !changeset.isEmpty else { return }
        var conflicts = 0
        var bytes = changeset
        let result = withUnsafeMutablePointer(to: &conflicts) { counter in
            bytes.withUnsafeMutableBytes { raw in
                sqlite3changeset_apply(database.handle, Int32(raw.count), raw.baseAddress, nil, { context, _, _ in
                    context?.assumingMemoryBound(to: Int.self).pointee += 1
                    return SQLITE_CHANGESET_ABORT
                }, counter)
            }
        }
        guard result == SQLITE_OK, conflicts == 0 else {
            throw JournalError(conflicts > 0 ? "\(conflicts) conflicting rows" : "SQLite error \(result): \(String(cString: sqlite3_errmsg(database.handle)))")
        }
    }

    static func readFile(_ path: String) throws -> [UInt8] {
        let fd = open(path, O_RDONLY | O_CLOEXEC)
        guard fd >= 0 else { throw JournalError("cannot open \(path): \(String(cString: strerror(errno)))") }
        defer { close(fd) }
        var info = stat()
        guard fstat(fd, &info) == 0 else { throw JournalError("cannot stat \(path)") }
        var bytes = [UInt8](repeating: 0, count: Int(info.st_size))
        var done = 0
        while done < bytes.count {
            let count = bytes.withUnsafeMutableBytes { read(fd, $0.baseAddress! + done, $0.count - done) }
            if count < 0, errno == EINTR { continue }
            guard count > 0 else { break }
            done += count
        }
        return Array(bytes[0..<done])
    }
}
