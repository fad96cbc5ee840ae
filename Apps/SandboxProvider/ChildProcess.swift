import Foundation

/// Starting and watching child processes with `posix_spawn`, so the provider controls exactly what a
/// child gets: the environment given and nothing else, a new session (its own process group, for a
/// group kill), default signal dispositions and an empty signal mask (the runtime blocks SIGTERM and
/// ignores SIGPIPE, which children would otherwise inherit), and no inherited file descriptor but
/// stdin (/dev/null), stdout and stderr (a log file).
///
/// Threading: `spawn` is safe from any thread, but the thread that spawns a `--die-with-parent` bwrap
/// must outlive the child (the kernel's parent-death signal follows the spawning *thread*), which is
/// why sandboxes are spawned on `SandboxSupervisor`'s permanent thread. `run` blocks: call it off the
/// runtime's loops (`OffLoop.run`).
enum ChildProcess {
    /// Most output `run` keeps (the tail).
    static let maxCapturedOutputBytes = 16 * 1024
    /// How often `run` looks whether its child exited.
    static let pollInterval: useconds_t = 10_000

    struct Failure: Error, CustomStringConvertible {
        let description: String
        init(_ description: String) { self.description = description }
    }

    /// What a finished `run` saw.
    struct Outcome: Sendable {
        /// The exit status, or nil when a signal ended the child.
        var exitStatus: Int32?
        var signal: Int32?
        var timedOut: Bool
        /// The tail of the combined stdout and stderr.
        var output: String
        var succeeded: Bool { exitStatus == 0 && !timedOut }
    }

    /// glibc's `POSIX_SPAWN_SETSID` (a GNU extension the Glibc module does not import).
    private static let spawnSetSID: Int32 = 0x80

    /// Starts `arguments[0]` (an absolute path) with exactly `environment`, in `directory`, in a new
    /// session, its stdout and stderr appended to `logPath`. Returns the pid (also its process group id).
    static func spawn(_ arguments: [String], environment: [String: String], directory: String?,
                      logPath: String) throws -> pid_t {
        precondition(!arguments.isEmpty && arguments[0].hasPrefix("/"), "spawn needs an absolute executable path")
        var actions = posix_spawn_file_actions_t()
        posix_spawn_file_actions_init(&actions)
        defer { posix_spawn_file_actions_destroy(&actions) }
        posix_spawn_file_actions_addopen(&actions, 0, "/dev/null", O_RDONLY, 0)
        posix_spawn_file_actions_addopen(&actions, 1, logPath, O_WRONLY | O_CREAT | O_APPEND, 0o600)
        posix_spawn_file_actions_adddup2(&actions, 1, 2)
        try closeInheritedDescriptors(&actions)
        if let directory {
            guard let addChdir = SpawnExtensions.addChdir else {
                throw Failure("this C library has no posix_spawn_file_actions_addchdir_np (glibc 2.29+ needed)")
            }
            let status = directory.withCString { addChdir(&actions, $0) }
            guard status == 0 else { throw Failure("cannot set the child's directory \(directory): \(String(cString: strerror(status)))") }
        }

        var attributes = posix_spawnattr_t()
        posix_spawnattr_init(&attributes)
        defer { posix_spawnattr_destroy(&attributes) }
        var noSignals = sigset_t()
        sigemptyset(&noSignals)
        posix_spawnattr_setsigmask(&attributes, &noSignals)
        var allSignals = sigset_t()
        sigfillset(&allSignals)
        posix_spawnattr_setsigdefault(&attributes, &allSignals)
        posix_spawnattr_setflags(&attributes, Int16(Self.spawnSetSID | POSIX_SPAWN_SETSIGMASK | POSIX_SPAWN_SETSIGDEF))

        let argv = arguments.map { strdup($0) } + [nil]
        let envp = environment.sorted { $0.key < $1.key }.map { strdup("\($0.key)=\($0.value)") } + [nil]
        defer {
            for pointer in argv { free(pointer) }
            for pointer in envp { free(pointer) }
        }
        var pid: pid_t = 0
        let status = posix_spawn(&pid, arguments[0], &actions, &attributes, argv, envp)
        guard status == 0 else { throw Failure("cannot start \(arguments[0]): \(String(cString: strerror(status)))") }
        return pid
    }

    /// Runs a command to completion (blocking the calling thread), killing its process group after
    /// `timeout`. Output goes through a temporary file (no pipe to fill up) and its tail is returned.
    static func run(_ arguments: [String], environment: [String: String], directory: String? = nil,
                    timeout: Duration) throws -> Outcome {
        let logPath = NSTemporaryDirectory() + "sandbox-provider-run-" + UUID().uuidString + ".log"
        defer { unlink(logPath) }
        let pid = try spawn(arguments, environment: environment, directory: directory, logPath: logPath)
        let deadline = ContinuousClock.now + timeout
        var timedOut = false
        // The child is reaped only after its group is killed: until then its zombie holds the pid, so
        // the group id cannot have been reused by anyone else.
        while ProcessIdentity.stat(pid).map({ $0.state != "Z" && $0.state != "X" }) ?? false {
            if !timedOut, ContinuousClock.now >= deadline {
                timedOut = true
                kill(-pid, SIGKILL)
            }
            usleep(pollInterval)
        }
        // Leftovers of the group (a command's own background children) go too.
        kill(-pid, SIGKILL)
        var status: Int32 = 0
        while waitpid(pid, &status, 0) < 0 {
            guard errno == EINTR else { throw Failure("waitpid \(pid): \(String(cString: strerror(errno)))") }
        }
        return Outcome(exitStatus: exited(status) ? (status >> 8) & 0xff : nil,
                       signal: exited(status) ? nil : status & 0x7f, timedOut: timedOut, output: tail(of: logPath))
    }

    static func exited(_ status: Int32) -> Bool { status & 0x7f == 0 }

    /// Closes every descriptor above stderr in the child: the runtime's listening sockets, io_uring
    /// rings and databases must never reach a sandbox.
    private static func closeInheritedDescriptors(_ actions: inout posix_spawn_file_actions_t) throws {
        if let closeFrom = SpawnExtensions.addCloseFrom {
            guard closeFrom(&actions, 3) == 0 else { throw Failure("posix_spawn_file_actions_addclosefrom_np failed") }
            return
        }
        // Older C libraries: close what is open now (a descriptor opened concurrently without
        // O_CLOEXEC could slip through; glibc 2.34+ takes the branch above).
        let open = (try? FileManager.default.contentsOfDirectory(atPath: "/proc/self/fd")) ?? []
        for name in open {
            if let fd = Int32(name), fd > 2 { posix_spawn_file_actions_addclose(&actions, fd) }
        }
    }

    /// The last `limit` bytes of a file (a log), trimmed.
    static func tail(of path: String, limit: Int = maxCapturedOutputBytes) -> String {
        guard let data = FileManager.default.contents(atPath: path) else { return "" }
        return String(decoding: data.suffix(limit), as: UTF8.self).trimmingCharacters(in: .whitespacesAndNewlines)
    }
}

/// glibc's `_np` spawn file actions, looked up at run time (the Glibc module does not import GNU
/// extensions).
private enum SpawnExtensions {
    typealias AddChdir = @convention(c) (UnsafeMutablePointer<posix_spawn_file_actions_t>, UnsafePointer<CChar>) -> Int32
    typealias AddCloseFrom = @convention(c) (UnsafeMutablePointer<posix_spawn_file_actions_t>, Int32) -> Int32

    static let addChdir: AddChdir? = symbol("posix_spawn_file_actions_addchdir_np")
    static let addCloseFrom: AddCloseFrom? = symbol("posix_spawn_file_actions_addclosefrom_np")

    private static func symbol<T>(_ name: String) -> T? {
        guard let handle = dlopen(nil, RTLD_NOW), let address = dlsym(handle, name) else { return nil }
        return unsafeBitCast(address, to: T.self)
    }
}

/// Who a pid is: its start time (clock ticks after boot, `/proc/<pid>/stat` field 22) tells a process
/// from a later one that reused its pid.
struct ProcessIdentity: Codable, Sendable, Equatable {
    var pid: Int32
    var startTicks: UInt64

    /// Parsed `/proc/<pid>/stat`: state, parent, process group and start time.
    struct Stat {
        var state: Character
        var parent: Int32
        var processGroup: Int32
        var startTicks: UInt64
    }

    static func stat(_ pid: Int32) -> Stat? {
        guard let data = ProcFile.read("/proc/\(pid)/stat") else { return nil }
        let text = String(decoding: data, as: UTF8.self)
        // The command name (field 2) is in parentheses and may hold spaces: fields resume after the last ')'.
        guard let close = text.lastIndex(of: ")") else { return nil }
        let fields = text[text.index(after: close)...].split(separator: " ")
        // fields[0] is field 3 (state); field N is fields[N - 3].
        guard fields.count > 19, let state = fields[0].first, let parent = Int32(fields[1]), let group = Int32(fields[2]),
              let start = UInt64(fields[19]) else { return nil }
        return Stat(state: state, parent: parent, processGroup: group, startTicks: start)
    }

    static func current(_ pid: Int32) -> ProcessIdentity? {
        stat(pid).map { ProcessIdentity(pid: pid, startTicks: $0.startTicks) }
    }

    /// The pids whose parent is `pid`.
    static func children(of pid: Int32) -> [Int32] {
        ((try? FileManager.default.contentsOfDirectory(atPath: "/proc")) ?? []).compactMap { name in
            guard let child = Int32(name), stat(child)?.parent == pid else { return nil }
            return child
        }
    }

    static var ofThisProcess: ProcessIdentity {
        guard let me = current(getpid()) else { preconditionFailure("cannot read /proc/self/stat") }
        return me
    }

    /// True while this very process runs (not a zombie, not a pid reused since).
    var isRunning: Bool {
        guard let now = Self.stat(pid) else { return false }
        return now.startTicks == startTicks && now.state != "Z" && now.state != "X"
    }
}

/// Reading /proc files whole: they report a size of 0, and Foundation's whole-file readers stop after
/// the first page of them.
enum ProcFile {
    /// Longest file read (an environment or a memory map is far smaller).
    static let maxBytes = 4 * 1024 * 1024

    static func read(_ path: String) -> [UInt8]? {
        let fd = open(path, O_RDONLY | O_CLOEXEC)
        guard fd >= 0 else { return nil }
        defer { close(fd) }
        var bytes: [UInt8] = []
        var chunk = [UInt8](repeating: 0, count: 16 * 1024)
        while bytes.count < maxBytes {
            let count = chunk.withUnsafeMutableBytes { Glibc.read(fd, $0.baseAddress, $0.count) }
            if count < 0, errno == EINTR { continue }
            guard count > 0 else { return count == 0 ? bytes : nil }
            bytes += chunk[0..<count]
        }
        return bytes
    }
}
