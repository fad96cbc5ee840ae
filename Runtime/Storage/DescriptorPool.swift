import Synchronization
#if canImport(Glibc)
import Glibc
#endif

/// A file the pooled VFS (`PooledVFS`) has open for SQLite: its path and, while it holds one, a
/// descriptor. The pool may close the descriptor while nothing uses it and reopen the path at the
/// next use, so SQLite can keep many more databases open than the process has descriptors for.
///
/// Threading: the descriptor and the list links are guarded by the pool's lock; the SQLite-facing
/// state below them is used only by the connection that owns the file (one thread at a time).
final class PooledFile: @unchecked Sendable {
    let path: String
    /// Flags for reopening the path: the first open's, without creating or truncating.
    let reopenFlags: Int32
    /// The file the path named at the first open. A reopen that finds another file there (replaced
    /// or deleted and re-created behind SQLite's back) fails instead of reading or writing it.
    let device: UInt64
    let inode: UInt64

    // Guarded by the pool's lock.
    fileprivate var descriptor: Int32
    fileprivate var pins = 0
    fileprivate var inPool = false
    fileprivate unowned(unsafe) var newer: PooledFile?
    fileprivate unowned(unsafe) var older: PooledFile?

    // SQLite-facing state, owned by the connection.
    var lockLevel: Int32 = 0
    var lastErrno: Int32 = 0
    var persistWAL = false
    var powersafeOverwrite = true
    /// Set for a file this open created: its first sync also syncs the directory, so the file's name
    /// is as durable as its contents (what SQLite's unix VFS does for a new WAL).
    var needsDirectorySync: Bool

    init(path: String, descriptor: Int32, reopenFlags: Int32, device: UInt64, inode: UInt64, created: Bool) {
        self.path = path
        self.descriptor = descriptor
        self.reopenFlags = reopenFlags
        self.device = device
        self.inode = inode
        self.needsDirectorySync = created
    }
}

/// The descriptors of every `PooledFile` in the process, at most `capacity` open at once: past it,
/// the least recently used file that is not in use has its descriptor closed. Opening a closed
/// file's path again costs a few microseconds; reopening the SQLite database it belongs to would
/// cost hundreds (parsing its schema, its pragmas, its statements), which is what this pool saves
/// when more objects are live than the descriptor limit allows two descriptors each.
final class DescriptorPool: Sendable {
    static let shared = DescriptorPool(capacity: defaultCapacity())

    /// Share of the process's descriptor limit (RLIMIT_NOFILE) the pool may hold, as a divisor: the
    /// rest is left for sockets, hibernated WebSockets among them, and the files storage opens
    /// briefly (journals, syncs).
    static let descriptorShareDivisor = 2
    /// The pool never shrinks below this many descriptors, whatever the limit says.
    static let minimumCapacity = 16
    /// Descriptors closed when an open fails for want of descriptors, before trying once more.
    static let shedOnExhaustion = 8

    static func defaultCapacity() -> Int {
        var limit = rlimit()
        let descriptors = getrlimit(Int32(RLIMIT_NOFILE.rawValue), &limit) == 0 ? Int(min(limit.rlim_cur, 1 << 20)) : 1024
        return max(descriptors / descriptorShareDivisor, minimumCapacity)
    }

    private struct State: ~Copyable {
        var capacity: Int
        /// Files holding a descriptor (or about to), newest first.
        var open = 0
        var newest: PooledFile?
        var oldest: PooledFile?
        /// Descriptors closed to make room, and paths reopened, since the start (for tests and stats).
        var evictions = 0
        var reopens = 0
    }

    private let state: Mutex<State>

    init(capacity: Int) {
        state = Mutex(State(capacity: max(capacity, Self.minimumCapacity)))
    }

    /// Descriptors the pool may hold at once.
    var capacity: Int {
        get { state.withLock { $0.capacity } }
    }

    /// Changes the capacity (tests use a small one); descriptors over it close at the next use.
    func setCapacity(_ capacity: Int) {
        let surplus = state.withLock { state -> [Int32] in
            state.capacity = max(capacity, Self.minimumCapacity)
            return Self.evictSurplus(&state)
        }
        for fd in surplus { close(fd) }
    }

    /// Descriptors held now, descriptors closed to make room and paths reopened so far.
    var counts: (open: Int, evictions: Int, reopens: Int) {
        state.withLock { ($0.open, $0.evictions, $0.reopens) }
    }

    /// Takes in a file just opened with its descriptor.
    func adopt(_ file: PooledFile) {
        let surplus = state.withLock { state -> [Int32] in
            file.inPool = true
            state.open += 1
            Self.pushNewest(file, &state)
            return Self.evictSurplus(&state)
        }
        for fd in surplus { close(fd) }
    }

    /// Forgets a file SQLite closed, closing its descriptor.
    func release(_ file: PooledFile) {
        let fd = state.withLock { state -> Int32 in
            let fd = file.descriptor
            if file.inPool {
                Self.unlink(file, &state)
                file.inPool = false
                state.open -= 1
            }
            file.descriptor = -1
            return fd
        }
        if fd >= 0 { close(fd) }
    }

    /// Closes up to `count` descriptors of files not in use, for an open that ran out of
    /// descriptors. Returns how many it closed.
    func shed(_ count: Int) -> Int {
        let closed = state.withLock { state -> [Int32] in
            var closed: [Int32] = []
            var candidate = state.oldest
            while let file = candidate, closed.count < count {
                candidate = file.newer
                guard file.pins == 0 else { continue }
                closed.append(Self.evict(file, &state))
            }
            return closed
        }
        for fd in closed { close(fd) }
        return closed.count
    }

    /// Runs `body` with the file's descriptor, reopening its path first if the pool had closed it.
    /// The descriptor stays open until `body` returns. Returns nil with `errno` set when the path
    /// cannot be reopened (ESTALE: another file is there now).
    func withDescriptor<Result>(_ file: PooledFile, _ body: (Int32) -> Result) -> Result? {
        let (held, surplus) = state.withLock { state -> (Int32, [Int32]) in
            file.pins += 1
            if file.inPool {
                Self.unlink(file, &state)
                Self.pushNewest(file, &state)
                return (file.descriptor, [])
            }
            // Reserve the slot now; the open runs outside the lock.
            file.inPool = true
            state.open += 1
            state.reopens += 1
            Self.pushNewest(file, &state)
            return (-1, Self.evictSurplus(&state))
        }
        for fd in surplus { close(fd) }
        var fd = held
        if fd < 0 {
            fd = reopen(file)
            if fd < 0 {
                let error = errno
                state.withLock { state in
                    file.pins -= 1
                    Self.unlink(file, &state)
                    file.inPool = false
                    state.open -= 1
                }
                errno = error
                return nil
            }
            state.withLock { _ in file.descriptor = fd }
        }
        let result = body(fd)
        state.withLock { _ in file.pins -= 1 }
        return result
    }

    /// Opens the file's path again and checks it is still the same file.
    private func reopen(_ file: PooledFile) -> Int32 {
        var fd = open(file.path, file.reopenFlags)
        if fd < 0, errno == EMFILE || errno == ENFILE, shed(Self.shedOnExhaustion) > 0 {
            fd = open(file.path, file.reopenFlags)
        }
        guard fd >= 0 else { return -1 }
        var info = stat()
        guard fstat(fd, &info) == 0 else {
            let error = errno
            close(fd)
            errno = error
            return -1
        }
        guard UInt64(info.st_dev) == file.device, UInt64(info.st_ino) == file.inode else {
            close(fd)
            errno = ESTALE
            return -1
        }
        return fd
    }

    // MARK: The list (callers hold the lock)

    private static func pushNewest(_ file: PooledFile, _ state: inout State) {
        file.older = nil
        file.newer = nil
        if let newest = state.newest {
            file.older = newest
            newest.newer = file
        } else {
            state.oldest = file
        }
        state.newest = file
    }

    private static func unlink(_ file: PooledFile, _ state: inout State) {
        if let newer = file.newer { newer.older = file.older } else { state.newest = file.older }
        if let older = file.older { older.newer = file.newer } else { state.oldest = file.newer }
        file.newer = nil
        file.older = nil
    }

    /// Takes one unused file's descriptor out of the pool; the caller closes it after unlocking.
    private static func evict(_ file: PooledFile, _ state: inout State) -> Int32 {
        unlink(file, &state)
        file.inPool = false
        state.open -= 1
        state.evictions += 1
        let fd = file.descriptor
        file.descriptor = -1
        return fd
    }

    /// Evicts the oldest unused files while the pool holds more than its capacity.
    private static func evictSurplus(_ state: inout State) -> [Int32] {
        var closed: [Int32] = []
        var candidate = state.oldest
        while state.open > state.capacity, let file = candidate {
            candidate = file.newer
            guard file.pins == 0, file.descriptor >= 0 else { continue }
            closed.append(evict(file, &state))
        }
        return closed
    }
}
