import CSQLite
#if canImport(Glibc)
import Glibc
#endif

/// The SQLite VFS every runtime database opens through: SQLite's `unix-none` (no file locks) with
/// database and WAL files whose descriptors live in `DescriptorPool`.
///
/// Why: each open database holds two files, so with the descriptor limit at 20,000 a loop could keep
/// about 5,000 objects open and every request past that reopened a database (~200 µs of parsing).
/// Here a database stays open in SQLite with its descriptors closed, and a read or write reopens
/// just the file (a few µs). Databases mostly touch their WAL; the pool's LRU keeps those.
///
/// What the files do matches `unix-none`: no locks (one connection per database in one process;
/// `StateDirectoryLock` keeps other runtimes out), no shared memory (so WAL runs in exclusive
/// locking mode, as every connection sets), `fdatasync` for syncs, the directory synced after a
/// created file's first sync, 4 KiB sectors with power-safe overwrite. Other files SQLite opens
/// (temporary files, rollback journals) go to `unix-none` itself.
enum PooledVFS {
    static let name = "runtime-pooled"
    static let baseName = "unix-none"
    /// What SQLite's unix VFS reports (SQLITE_DEFAULT_SECTOR_SIZE).
    static let sectorSize: Int32 = 4096
    /// Permissions of a created file (SQLite's default, before the umask).
    static let createMode: mode_t = 0o644

    /// Registers the VFS (once per process, with the process-wide SQLite settings first) and returns
    /// its name for `sqlite3_open_v2`.
    static func registered() -> String {
        _ = registration
        return name
    }

    private static let registration: Void = {
        // Must precede everything that initializes SQLite, sqlite3_vfs_find among them.
        let configured = csqlite_configure_memory()
        precondition(configured == SQLITE_OK || configured == SQLITE_MISUSE,
                     "sqlite3_config failed: \(configured)")
        guard let base = sqlite3_vfs_find(baseName) else { fatalError("SQLite has no \(baseName) VFS") }
        let vfs = UnsafeMutablePointer<sqlite3_vfs>.allocate(capacity: 1)
        vfs.initialize(to: base.pointee)
        vfs.pointee.pNext = nil
        vfs.pointee.zName = UnsafePointer(strdup(name))
        vfs.pointee.pAppData = UnsafeMutableRawPointer(base)
        vfs.pointee.szOsFile = max(base.pointee.szOsFile, csqlite_pooled_file_size())
        vfs.pointee.xOpen = { vfs, name, file, flags, outFlags in
            PooledVFS.open(vfs: vfs, name: name, file: file, flags: flags, outFlags: outFlags)
        }
        let result = sqlite3_vfs_register(vfs, 0)
        precondition(result == SQLITE_OK, "cannot register the \(name) VFS: \(result)")
    }()

    private static func open(vfs: UnsafeMutablePointer<sqlite3_vfs>?, name: UnsafePointer<CChar>?,
                             file: UnsafeMutablePointer<sqlite3_file>?, flags: Int32,
                             outFlags: UnsafeMutablePointer<Int32>?) -> Int32 {
        guard let vfs, let file else { return SQLITE_MISUSE }
        let base = vfs.pointee.pAppData.assumingMemoryBound(to: sqlite3_vfs.self)
        let pooledKinds = SQLITE_OPEN_MAIN_DB | SQLITE_OPEN_WAL
        guard let name, flags & pooledKinds != 0, flags & SQLITE_OPEN_DELETEONCLOSE == 0 else {
            return base.pointee.xOpen(base, name, file, flags, outFlags)
        }
        file.pointee.pMethods = nil
        let path = String(cString: name)
        let readOnly = flags & SQLITE_OPEN_READONLY != 0
        let access = O_CLOEXEC | (readOnly ? O_RDONLY : O_RDWR)
        var firstFlags = access
        if flags & SQLITE_OPEN_CREATE != 0, !readOnly { firstFlags |= O_CREAT }
        if flags & SQLITE_OPEN_EXCLUSIVE != 0 { firstFlags |= O_EXCL }
        let existed = Glibc.access(name, F_OK) == 0
        var fd = Glibc.open(name, firstFlags, createMode)
        if fd < 0, errno == EMFILE || errno == ENFILE, DescriptorPool.shared.shed(DescriptorPool.shedOnExhaustion) > 0 {
            fd = Glibc.open(name, firstFlags, createMode)
        }
        guard fd >= 0 else { return SQLITE_CANTOPEN }
        var info = stat()
        guard fstat(fd, &info) == 0 else {
            close(fd)
            return SQLITE_CANTOPEN
        }
        let pooled = PooledFile(path: path, descriptor: fd, reopenFlags: access, device: UInt64(info.st_dev),
                                inode: UInt64(info.st_ino), created: !existed)
        DescriptorPool.shared.adopt(pooled)
        csqlite_pooled_attach(file, ioMethods, Unmanaged.passRetained(pooled).toOpaque())
        outFlags?.pointee = flags
        return SQLITE_OK
    }

    // MARK: File methods

    /// SQLite's extended I/O error codes (C macros Swift does not import).
    enum IOError {
        static let read = SQLITE_IOERR | (1 << 8)
        static let shortRead = SQLITE_IOERR | (2 << 8)
        static let write = SQLITE_IOERR | (3 << 8)
        static let fsync = SQLITE_IOERR | (4 << 8)
        static let directoryFsync = SQLITE_IOERR | (5 << 8)
        static let truncate = SQLITE_IOERR | (6 << 8)
        static let fstat = SQLITE_IOERR | (7 << 8)
    }

    private static func owner(_ file: UnsafeMutablePointer<sqlite3_file>?) -> PooledFile {
        Unmanaged<PooledFile>.fromOpaque(csqlite_pooled_owner(file)).takeUnretainedValue()
    }

    /// Runs `body` with the file's descriptor; a reopen that fails or a body that fails (returning
    /// an errno) answers `failure` and leaves the errno for SQLITE_FCNTL_LAST_ERRNO.
    private static func run(_ file: PooledFile, failure: Int32, _ body: (Int32) -> Int32) -> Int32 {
        guard let error = DescriptorPool.shared.withDescriptor(file, body) else {
            file.lastErrno = errno
            return failure
        }
        guard error == 0 else {
            file.lastErrno = error
            return error == ENOSPC ? SQLITE_FULL : failure
        }
        return SQLITE_OK
    }

    nonisolated(unsafe) static let ioMethods: UnsafeMutablePointer<sqlite3_io_methods> = {
        let methods = UnsafeMutablePointer<sqlite3_io_methods>.allocate(capacity: 1)
        methods.initialize(to: sqlite3_io_methods())
        // Version 1: no shared memory and no memory mapping.
        methods.pointee.iVersion = 1
        methods.pointee.xClose = { file in
            let pooled = Unmanaged<PooledFile>.fromOpaque(csqlite_pooled_owner(file))
            DescriptorPool.shared.release(pooled.takeUnretainedValue())
            pooled.release()
            file?.pointee.pMethods = nil
            return SQLITE_OK
        }
        methods.pointee.xRead = { file, buffer, amount, offset in
            guard let buffer else { return IOError.read }
            let pooled = owner(file)
            var got = 0
            let result = run(pooled, failure: IOError.read) { fd in
                while got < Int(amount) {
                    let n = pread(fd, buffer + got, Int(amount) - got, off_t(offset) + off_t(got))
                    if n < 0 {
                        if errno == EINTR { continue }
                        return errno
                    }
                    if n == 0 { break }
                    got += n
                }
                return 0
            }
            guard result == SQLITE_OK else { return result }
            guard got == Int(amount) else {
                // SQLite's contract for reads past the end: zero the rest and say so.
                memset(buffer + got, 0, Int(amount) - got)
                return IOError.shortRead
            }
            return SQLITE_OK
        }
        methods.pointee.xWrite = { file, buffer, amount, offset in
            guard let buffer else { return IOError.write }
            return run(owner(file), failure: IOError.write) { fd in
                var written = 0
                while written < Int(amount) {
                    let n = pwrite(fd, buffer + written, Int(amount) - written, off_t(offset) + off_t(written))
                    if n < 0 {
                        if errno == EINTR { continue }
                        return errno
                    }
                    if n == 0 { return ENOSPC }
                    written += n
                }
                return 0
            }
        }
        methods.pointee.xTruncate = { file, size in
            run(owner(file), failure: IOError.truncate) { fd in
                ftruncate(fd, off_t(size)) == 0 ? 0 : errno
            }
        }
        methods.pointee.xSync = { file, _ in
            let pooled = owner(file)
            let result = run(pooled, failure: IOError.fsync) { fd in
                fdatasync(fd) == 0 ? 0 : errno
            }
            guard result == SQLITE_OK, pooled.needsDirectorySync else { return result }
            let directory = pooled.path.lastIndex(of: "/").map { String(pooled.path[..<$0]) } ?? "."
            let fd = Glibc.open(directory.isEmpty ? "/" : directory, O_RDONLY | O_DIRECTORY | O_CLOEXEC)
            guard fd >= 0 else {
                pooled.lastErrno = errno
                return IOError.directoryFsync
            }
            defer { close(fd) }
            guard fsync(fd) == 0 else {
                pooled.lastErrno = errno
                return IOError.directoryFsync
            }
            pooled.needsDirectorySync = false
            return SQLITE_OK
        }
        methods.pointee.xFileSize = { file, size in
            var bytes: Int64 = 0
            let result = run(owner(file), failure: IOError.fstat) { fd in
                var info = stat()
                guard fstat(fd, &info) == 0 else { return errno }
                bytes = Int64(info.st_size)
                return 0
            }
            size?.pointee = bytes
            return result
        }
        methods.pointee.xLock = { file, level in
            owner(file).lockLevel = level
            return SQLITE_OK
        }
        methods.pointee.xUnlock = { file, level in
            owner(file).lockLevel = level
            return SQLITE_OK
        }
        methods.pointee.xCheckReservedLock = { _, reserved in
            reserved?.pointee = 0
            return SQLITE_OK
        }
        methods.pointee.xFileControl = { file, operation, argument in
            fileControl(owner(file), operation, argument)
        }
        methods.pointee.xSectorSize = { _ in sectorSize }
        methods.pointee.xDeviceCharacteristics = { file in
            owner(file).powersafeOverwrite ? SQLITE_IOCAP_POWERSAFE_OVERWRITE : 0
        }
        return methods
    }()

    /// The file controls SQLite's unix VFS answers that matter without locks or memory maps; the rest
    /// are not found, which SQLite treats as "not supported".
    private static func fileControl(_ file: PooledFile, _ operation: Int32, _ argument: UnsafeMutableRawPointer?) -> Int32 {
        let value = argument?.assumingMemoryBound(to: Int32.self)
        switch operation {
        case SQLITE_FCNTL_LOCKSTATE:
            value?.pointee = file.lockLevel
        case SQLITE_FCNTL_LAST_ERRNO:
            value?.pointee = file.lastErrno
        case SQLITE_FCNTL_PERSIST_WAL:
            // Negative: a question; otherwise the new setting.
            if let value {
                if value.pointee < 0 { value.pointee = file.persistWAL ? 1 : 0 } else { file.persistWAL = value.pointee != 0 }
            }
        case SQLITE_FCNTL_POWERSAFE_OVERWRITE:
            if let value {
                if value.pointee < 0 {
                    value.pointee = file.powersafeOverwrite ? 1 : 0
                } else {
                    file.powersafeOverwrite = value.pointee != 0
                }
            }
        case SQLITE_FCNTL_HAS_MOVED:
            var info = stat()
            let moved = stat(file.path, &info) != 0 || UInt64(info.st_dev) != file.device
                || UInt64(info.st_ino) != file.inode
            value?.pointee = moved ? 1 : 0
        case SQLITE_FCNTL_CHUNK_SIZE, SQLITE_FCNTL_SIZE_HINT:
            // Hints; a file grows as it is written.
            break
        default:
            return SQLITE_NOTFOUND
        }
        return SQLITE_OK
    }
}
