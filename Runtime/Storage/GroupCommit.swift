import RuntimeIO
#if canImport(Glibc)
import Glibc
#endif

/// Commits every dirty object database of a loop at the end of the loop turn, then makes the commits
/// durable through io_uring. All commits of a turn form one batch: the batch is durable when its last
/// sync completes, and batches become durable in order. Meanwhile the loop keeps running events (their
/// writes go into the next batch).
///
/// A commit becomes durable one of two ways:
/// - journaled (the usual way, with a `CommitJournal`): what it did (key-value and alarm operations, and
///   a changeset of app tables) is appended to the loop's journal, and one fdatasync of the journal
///   covers every journaled commit of the turn, however many objects;
/// - direct: an fdatasync of the object's own WAL (a new database, a schema change, a table a changeset
///   cannot describe, a full or broken journal, or no journal at all).
///
/// So many events share one COMMIT per object per turn, and many objects share one fsync.
///
/// A failed COMMIT or sync breaks the storage concerned: its transaction is rolled back (or its state
/// is unknown), everyone waiting on it gets `StorageError.objectReset`, and its owner resets the object.
///
/// Threading: loop-bound; one per loop.
public final class GroupCommit: EndOfTurnHandler {
    public let loop: Loop
    private var dirty: [ObjectStorage] = []
    private var scheduled = false
    private var batches: [Batch] = []
    private var nextBatchNumber: UInt64 = 0
    /// Commits made and batches synced, for tests and `bench`.
    public private(set) var commitCount = 0
    public private(set) var syncCount = 0
    /// fdatasyncs of objects' own WALs, database files and directories (the direct path).
    public private(set) var directSyncCount = 0
    /// Checkpoints run, and the time they took in all (they run on the loop thread).
    public private(set) var checkpointCount = 0
    public private(set) var checkpointNanoseconds: UInt64 = 0

    final class Batch {
        let number: UInt64
        /// Every commit of the batch; `journaled` says which of them the journal flush covers.
        var members: [(storage: ObjectStorage, sequence: UInt64, journaled: Bool)] = []
        var pendingSyncs = 0
        var failures: [ObjectIdentifier: String] = [:]
        init(number: UInt64) { self.number = number }
    }

    /// Where journaled commits go; nil makes every commit direct.
    public let journal: CommitJournal?
    /// Commits made durable by the journal, for tests and `bench`.
    public private(set) var journaledCount = 0

    public init(loop: Loop, journal: CommitJournal? = nil) {
        self.loop = loop
        self.journal = journal
    }

    /// Called by storage when it opens an implicit transaction.
    func markDirty(_ storage: ObjectStorage) {
        dirty.append(storage)
        if !scheduled {
            scheduled = true
            loop.atEndOfTurn(self)
        }
    }

    public func endOfTurn() {
        scheduled = false
        let candidates = dirty
        dirty = []
        let batch = Batch(number: nextBatchNumber)
        nextBatchNumber += 1
        for storage in candidates where storage.broken == nil {
            guard storage.canCommit else {
                // A transaction {} is still open (it cannot be: they are synchronous); try next turn.
                if storage.database.inTransaction { markDirty(storage) }
                continue
            }
            do {
                let operations = try storage.commit()
                commitCount += 1
                var journaled = false
                if let operations, let journal, let path = storage.journalPath {
                    journaled = journal.append(path: path, lsn: storage.lsn, operations: operations)
                }
                batch.members.append((storage, storage.committedSequence, journaled))
            } catch {
                storage.fail("commit failed: \(error)")
            }
        }
        guard !batch.members.isEmpty else { return }
        batches.append(batch)
        for member in batch.members where !member.journaled {
            startSyncs(for: member.storage, in: batch)
        }
        if let journal, journal.hasPending {
            batch.pendingSyncs += 1
            journal.flush { [weak self] result in
                self?.syncCount += 1
                if result < 0 {
                    // The commits are in their WALs; sync those instead before giving up on them.
                    for member in batch.members where member.journaled { self?.startSyncs(for: member.storage, in: batch) }
                } else {
                    self?.journaledCount += batch.members.count(where: \.journaled)
                }
                batch.pendingSyncs -= 1
                if batch.pendingSyncs == 0 { self?.completeBatches() }
            }
        }
        if batch.pendingSyncs == 0 { completeBatches() }
    }

    private func startSyncs(for storage: ObjectStorage, in batch: Batch) {
        // Opened per sync, not kept: with the journal, direct syncs are rare, and an open object should
        // hold as few descriptors as it can.
        let walFD = open(storage.database.walPath, O_RDWR | O_CLOEXEC)
        guard walFD >= 0 else {
            batch.failures[ObjectIdentifier(storage)] = "cannot open WAL \(storage.database.walPath): errno \(errno)"
            return
        }
        var descriptors: [(fd: Int32, close: Bool)] = [(walFD, true)]
        if storage.needsDirectorySync {
            storage.needsDirectorySync = false
            let directory = Self.directory(of: storage.database.path)
            let fd = open(directory, O_RDONLY | O_DIRECTORY | O_CLOEXEC)
            if fd >= 0 {
                descriptors.append((fd, true))
                // The database file itself was written by SQLite without sync when it was created.
                let dbFD = open(storage.database.path, O_RDWR | O_CLOEXEC)
                if dbFD >= 0 { descriptors.append((dbFD, true)) }
            }
        }
        for descriptor in descriptors {
            batch.pendingSyncs += 1
            directSyncCount += 1
            FileSync.start(loop: loop, fd: descriptor.fd) { [weak self] result in
                if descriptor.close { close(descriptor.fd) }
                if result < 0 {
                    batch.failures[ObjectIdentifier(storage)] = "fdatasync failed: errno \(-result)"
                }
                batch.pendingSyncs -= 1
                self?.syncCount += 1
                if batch.pendingSyncs == 0 { self?.completeBatches() }
            }
        }
    }

    /// Resolves finished batches in order: a later batch never reports durable before an earlier one.
    private func completeBatches() {
        while let first = batches.first, first.pendingSyncs == 0 {
            batches.removeFirst()
            for member in first.members {
                if let failure = first.failures[ObjectIdentifier(member.storage)] {
                    member.storage.fail(failure)
                } else {
                    member.storage.markDurable(upTo: member.sequence)
                    checkpointIfLarge(member.storage)
                }
            }
        }
    }

    /// Checkpoints a WAL past `ObjectStorage.checkpointPages`, in two steps so the loop waits for as
    /// little as it can. First an fdatasync of the WAL through io_uring, while the loop serves on: the
    /// WAL holds up to 4 MiB the journal made durable but nobody flushed, and SQLite's checkpoint must
    /// sync it before copying pages into the database file. Then, on the loop, the checkpoint itself:
    /// its own WAL sync finds only the frames committed since, and what remains is copying the pages
    /// and syncing the database file. Both syncs must stay in SQLite's order (WAL, then database file,
    /// then the WAL may restart), which is why the second step cannot leave the loop.
    private func checkpointIfLarge(_ storage: ObjectStorage) {
        guard storage.walPages >= ObjectStorage.checkpointPages else { return }
        switch storage.checkpointStep {
        case .walSyncing:
            return
        case .walSynced:
            checkpointNow(storage)
        case .none:
            let walFD = open(storage.database.walPath, O_RDWR | O_CLOEXEC)
            guard walFD >= 0 else { return checkpointNow(storage) }
            storage.checkpointStep = .walSyncing
            FileSync.start(loop: loop, fd: walFD) { [weak self] _ in
                close(walFD)
                // A failed sync is left to the checkpoint's own, which reports it. A busy object may not
                // be ready now (a commit not durable yet); then its next durable commit checkpoints it.
                storage.checkpointStep = .walSynced
                self?.checkpointNow(storage)
            }
        }
    }

    private func checkpointNow(_ storage: ObjectStorage) {
        guard !storage.database.closed, storage.broken == nil, !storage.database.inTransaction,
              storage.durableSequence == storage.committedSequence else { return }
        let started = MonotonicClock.now()
        defer {
            checkpointCount += 1
            checkpointNanoseconds += MonotonicClock.now() - started
        }
        storage.checkpointStep = .none
        do {
            try storage.database.checkpoint(truncate: false)
            storage.walPages = 0
        } catch {
            // A failed checkpoint loses nothing (the WAL still holds every commit); try again later.
        }
    }

    /// True when nothing is waiting to commit or to become durable.
    public var isIdle: Bool { dirty.isEmpty && batches.isEmpty }

    static func directory(of path: String) -> String {
        guard let slash = path.lastIndex(of: "/") else { return "." }
        return slash == path.startIndex ? "/" : String(path[..<slash])
    }
}
