import RuntimeIO
#if canImport(Glibc)
import Glibc
#endif

/// A loop's commit journal: where the group commit logs the row changes of many objects' transactions,
/// so that one fdatasync of one file makes a whole turn's commits durable, however many objects they
/// belong to. (Without it, each object's WAL needs its own fdatasync.)
///
/// Each object's COMMIT still goes to its own database (with `synchronous=OFF`, so into the page cache);
/// the journal holds the same changes in a form that survives a power cut: a record per transaction with
/// the object's path, its transaction number (lsn) and an SQLite session changeset. After a crash,
/// `JournalRecovery` applies the records a database is missing before anything opens it.
///
/// Two files take turns. Records are appended to the active one; once it passes `retireBytes`, the
/// other becomes active and the first is retired: the WAL of every object it has records for is
/// fdatasynced (in the background, through io_uring), after which its records are redundant and the
/// file is free for reuse under a new generation. If a record does not fit (both files full, or the
/// journal broken by an I/O error), `append` says so and the caller syncs that object's WAL itself.
///
/// Files grow by writing zeros ahead of the records (`growthBytes` at a time), so most fdatasyncs
/// change no file metadata and cost one device flush. At most one fdatasync per file is in flight:
/// flushes that come while it runs wait for the next one, which then covers them all, so under load
/// batches grow instead of syncs piling up.
///
/// Threading: loop-bound; one per loop.
public final class CommitJournal {
    /// Sizes of a journal file.
    public struct Limits: Sendable {
        /// Past this, the file is retired and the other one takes over.
        public var retireBytes = 8 * 1024 * 1024
        /// A file never grows beyond this; records that do not fit take the direct path.
        public var fileBytes = 32 * 1024 * 1024
        /// Zeros written ahead of the records at a time.
        public var growthBytes = 1024 * 1024
        /// WAL fdatasyncs a retirement keeps in flight. A file can cover thousands of objects; started
        /// all at once, their syncs queued ahead of the journal's own in io_uring's workers and held
        /// every acknowledgement for hundreds of milliseconds (and took a descriptor each).
        public var retirementConcurrency = 16
        /// WAL bytes a retirement's syncs may have to write at once, estimated from the records: a
        /// journaled commit left at least one page-sized frame unflushed in its WAL. A few objects with
        /// many commits each are synced one at a time: 16 WALs of 4 MiB flushed together made the
        /// journal's own fdatasync wait 20-40 ms behind them, and so every acknowledgement.
        public var retirementInFlightBytes = 1024 * 1024
        public init() {}
    }

    enum FileState { case active, retiring, free }

    final class JournalFile {
        let path: String
        let fd: Int32
        var generation: UInt64 = 0
        /// Bytes known to be in the file (zero-filled ahead of the records).
        var allocated = 0
        var writeOffset = JournalFormat.headerBytes
        /// Object databases (relative paths) with records in the current generation, and how many each.
        var touched: [String: Int] = [:]
        var state: FileState = .free
        /// True while an fdatasync of this file is in flight.
        var syncing = false
        /// Flushes whose records are written and wait for the next fdatasync.
        var waiting: [(Int32) -> Void] = []
        init(path: String, fd: Int32) {
            self.path = path
            self.fd = fd
        }
    }

    public let loop: Loop
    /// Object database paths in records are relative to this directory.
    public let root: String
    public let limits: Limits
    private let files: [JournalFile]
    private var active = 0
    private var nextGeneration: UInt64 = 1
    private var pending: [UInt8] = []
    private var pendingPaths: [String: Int] = [:]
    /// Set after an I/O error; the journal then takes no more records.
    public private(set) var broken: String?
    /// fdatasyncs of the journal and retirements so far, for tests and `bench`.
    public private(set) var flushCount = 0
    public private(set) var retirementCount = 0
    /// The most WAL syncs one retirement had in flight at once (for tests).
    public private(set) var peakRetirementSyncs = 0

    /// Creates the loop's two journal files in `directory` (named after `name`), empty. Run recovery
    /// first: whatever the files held before is discarded.
    public init(loop: Loop, root: String, directory: String, name: String, limits: Limits = Limits()) throws {
        self.loop = loop
        self.root = root
        self.limits = limits
        var opened: [JournalFile] = []
        for suffix in ["a", "b"] {
            let path = directory + "/" + name + "-" + suffix + ".journal"
            let fd = open(path, O_RDWR | O_CREAT | O_TRUNC | O_CLOEXEC, 0o600)
            guard fd >= 0 else {
                for file in opened { close(file.fd) }
                throw JournalError("cannot create commit journal \(path): \(String(cString: strerror(errno)))")
            }
            opened.append(JournalFile(path: path, fd: fd))
        }
        files = opened
        do {
            for file in files {
                try grow(file, to: JournalFormat.headerBytes + limits.growthBytes)
                guard fdatasync(file.fd) == 0 else { throw JournalError("cannot sync \(file.path): errno \(errno)") }
            }
            try Self.syncDirectory(directory)
            try activate(files[0])
        } catch {
            for file in files { close(file.fd) }
            throw error
        }
    }

    deinit {
        for file in files { close(file.fd) }
    }

    /// Adds `record` to this turn's flush. False when it does not fit (the caller then makes the commit
    /// durable through its own WAL).
    public func append(path: String, lsn: UInt64, operations: [JournalOperation]) -> Bool {
        guard broken == nil else { return false }
        let record = JournalFormat.Record(path: path, lsn: lsn, operations: operations)
        let file = files[active]
        guard file.writeOffset + pending.count + JournalFormat.encodedSize(of: record) <= limits.fileBytes else {
            return false
        }
        JournalFormat.encode(record, generation: file.generation, into: &pending)
        pendingPaths[path, default: 0] += 1
        return true
    }

    /// True when records were appended since the last flush.
    public var hasPending: Bool { !pending.isEmpty }

    /// Writes the turn's records and makes them durable through io_uring; `completion` gets 0 once they
    /// are, or a negative errno.
    public func flush(completion: @escaping (Int32) -> Void) {
        guard !pending.isEmpty else { return completion(0) }
        let file = files[active]
        let records = pending
        pending = []
        file.touched.merge(pendingPaths, uniquingKeysWith: +)
        pendingPaths = [:]
        do {
            try grow(file, to: file.writeOffset + records.count)
            try Self.writeFully(file.fd, records, at: file.writeOffset)
        } catch {
            fail("write to \(file.path) failed: \(error)")
            return completion(-EIO)
        }
        file.writeOffset += records.count
        file.waiting.append(completion)
        if !file.syncing { startSync(file) }
        if file.writeOffset >= limits.retireBytes { rotate() }
    }

    /// One fdatasync covering every flush written to `file` so far.
    private func startSync(_ file: JournalFile) {
        let covered = file.waiting
        file.waiting = []
        file.syncing = true
        flushCount += 1
        FileSync.start(loop: loop, fd: file.fd) { [weak self] result in
            file.syncing = false
            if result < 0 { self?.fail("fdatasync of \(file.path) failed: errno \(-result)") }
            for completion in covered { completion(result) }
            if !file.waiting.isEmpty { self?.startSync(file) }
        }
    }

    // MARK: Rotation and retirement

    private func rotate() {
        let current = files[active]
        guard let next = files.firstIndex(where: { $0 !== current && $0.state == .free }) else { return }
        do {
            try activate(files[next])
        } catch {
            fail("cannot start \(files[next].path): \(error)")
            return
        }
        active = next
        current.state = .retiring
        retire(current)
    }

    /// One retirement in progress: the WALs still to sync (with their estimated unflushed bytes) and
    /// those syncing.
    private final class Retirement {
        let file: JournalFile
        let paths: [(path: String, bytes: Int)]
        var next = 0
        var inFlight = 0
        var inFlightBytes = 0
        var failed = false
        init(file: JournalFile) {
            self.file = file
            paths = file.touched.map { ($0.key, $0.value * Self.walFrameBytes) }
        }
        /// A WAL frame of a 4 KiB page: what a one-page commit appends.
        static let walFrameBytes = 4096 + 24
    }

    /// Makes every object WAL with records in `file` durable, then frees the file.
    private func retire(_ file: JournalFile) {
        advance(Retirement(file: file))
    }

    /// Starts WAL syncs up to `retirementConcurrency` and `retirementInFlightBytes` (always at least
    /// one); once none is left, frees the file (or, after a failure, tries the whole retirement again a
    /// little later).
    private func advance(_ run: Retirement) {
        while run.inFlight < limits.retirementConcurrency, run.next < run.paths.count,
              run.inFlight == 0 || run.inFlightBytes + run.paths[run.next].bytes <= limits.retirementInFlightBytes {
            let (path, bytes) = run.paths[run.next]
            let walPath = root + "/" + path + "-wal"
            run.next += 1
            let fd = open(walPath, O_RDONLY | O_CLOEXEC)
            if fd < 0 {
                // No WAL: the database was checkpointed and its WAL removed, so it is durable.
                if errno != ENOENT { run.failed = true }
                continue
            }
            run.inFlight += 1
            run.inFlightBytes += bytes
            peakRetirementSyncs = max(peakRetirementSyncs, run.inFlight)
            FileSync.start(loop: loop, fd: fd) { [weak self] result in
                close(fd)
                if result < 0 { run.failed = true }
                run.inFlight -= 1
                run.inFlightBytes -= bytes
                self?.advance(run)
            }
        }
        guard run.inFlight == 0, run.next == run.paths.count else { return }
        let file = run.file
        if run.failed {
            // The records are still needed; try again a little later.
            let timer = LoopTimer { [weak self] in self?.retire(file) }
            loop.arm(timer, after: .milliseconds(500))
            return
        }
        file.touched = [:]
        file.state = .free
        retirementCount += 1
        // The header stays as it is until the file is reused: records it vouches for are redundant
        // now, and recovery skips them by their lsn.
    }

    /// Starts a new generation in `file`: its header vouches only for records written from now on.
    private func activate(_ file: JournalFile) throws {
        file.generation = nextGeneration
        nextGeneration += 1
        try Self.writeFully(file.fd, JournalFormat.header(generation: file.generation), at: 0)
        file.writeOffset = JournalFormat.headerBytes
        file.touched = [:]
        file.state = .active
    }

    private func grow(_ file: JournalFile, to size: Int) throws {
        guard size > file.allocated else { return }
        let zeros = [UInt8](repeating: 0, count: limits.growthBytes)
        while file.allocated < size {
            try Self.writeFully(file.fd, zeros, at: file.allocated)
            file.allocated += zeros.count
        }
    }

    private func fail(_ reason: String) {
        if broken == nil { broken = reason }
    }

    static func writeFully(_ fd: Int32, _ bytes: [UInt8], at offset: Int) throws {
        var done = 0
        while done < bytes.count {
            let written = bytes.withUnsafeBytes { pwrite(fd, $0.baseAddress! + done, $0.count - done, off_t(offset + done)) }
            if written < 0 {
                if errno == EINTR { continue }
                throw JournalError("pwrite: \(String(cString: strerror(errno)))")
            }
            done += written
        }
    }

    static func syncDirectory(_ path: String) throws {
        let fd = open(path, O_RDONLY | O_DIRECTORY | O_CLOEXEC)
        guard fd >= 0 else { throw JournalError("cannot open \(path): \(String(cString: strerror(errno)))") }
        defer { close(fd) }
        guard fsync(fd) == 0 else { throw JournalError("cannot sync \(path): errno \(errno)") }
    }
}

