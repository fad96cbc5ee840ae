#if canImport(Glibc)
import Glibc
#endif

/// An exclusive lock on a runtime's state directory (flock on `runtime.lock`), held for the runtime's
/// life. Two runtimes on one state directory would replay and delete each other's commit journals and
/// write the same databases, which take no file locks of their own (`SQLiteDatabase.vfs`): this lock
/// is what keeps them apart, so the second one is refused at start. The kernel drops the lock when the
/// process dies, so a crash never leaves it stale.
final class StateDirectoryLock: @unchecked Sendable {
    private var fd: Int32

    init(directory: String) throws {
        let path = directory + "/runtime.lock"
        fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0o600)
        guard fd >= 0 else {
            throw ObjectRuntime.SetupError(message: "cannot open \(path): \(String(cString: strerror(errno)))")
        }
        guard flock(fd, LOCK_EX | LOCK_NB) == 0 else {
            var holder = [UInt8](repeating: 0, count: 32)
            let count = holder.withUnsafeMutableBytes { pread(fd, $0.baseAddress, 31, 0) }
            let pid = count > 0 ? String(decoding: holder[0..<count], as: UTF8.self) : "?"
            close(fd)
            throw ObjectRuntime.SetupError(
                message: "state directory \(directory) is in use by another runtime (pid \(pid)); give each runtime its own --state-dir")
        }
        let pid = Array(String(getpid()).utf8)
        _ = ftruncate(fd, 0)
        _ = pid.withUnsafeBytes { pwrite(fd, $0.baseAddress, $0.count, 0) }
    }

    /// Lets another runtime use the directory. Safe to call twice.
    func release() {
        guard fd >= 0 else { return }
        flock(fd, LOCK_UN)
        close(fd)
        fd = -1
    }

    deinit { release() }
}
