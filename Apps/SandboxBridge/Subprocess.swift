import Foundation
import Synchronization
#if canImport(Glibc)
import Glibc
#endif

/// A child process in a process group of its own, its output read through a pipe: what the shell agent
/// runs prompts with, and how git is run.
///
/// The child starts in the bridge's working directory (the workspace: `main` enters it), with stdin from
/// /dev/null, its output pipe, default signal handling, an empty signal mask and exactly `environment`.
/// It inherits no other descriptor of the bridge's: the runtime's sockets, rings and eventfds are all
/// close-on-exec (the control plane socket must not outlive the bridge in a background process), and so
/// are the pipes made here, which `spawnLock` keeps from leaking into a concurrent spawn.
///
/// One watcher thread reads the pipe and reaps the child; `events` yields the output as it arrives, then
/// one `.exited`. Once the child has exited, processes it left behind may keep the pipe open for
/// `drainGrace`; then reading stops (they keep running unless the group is killed).
///
/// Threading: any thread.
final class Subprocess: Sendable {
    enum Event: Sendable {
        case output([UInt8])
        case exited(ExitStatus)
    }

    enum ExitStatus: Sendable, Equatable, CustomStringConvertible {
        case exited(Int32)
        case signaled(Int32)

        var isSuccess: Bool { self == .exited(0) }

        var description: String {
            switch self {
            case .exited(let code): "exit status \(code)"
            case .signaled(let signal): "killed by signal \(signal)"
            }
        }

        /// Decodes a `waitpid` status (the W* macros do not import into Swift).
        init(waitStatus status: Int32) {
            let signal = status & 0x7f
            self = signal == 0 ? .exited((status >> 8) & 0xff) : .signaled(signal)
        }
    }

    enum StandardError: Sendable {
        /// Into the same pipe as standard output, interleaved as written.
        case merged
        case discarded
    }

    struct SpawnError: Error, CustomStringConvertible {
        let description: String
    }

    /// Also the process group id.
    let pid: pid_t
    let events: AsyncStream<Event>

    private init(pid: pid_t, events: AsyncStream<Event>) {
        self.pid = pid
        self.events = events
    }

    /// Held from making a pipe to closing the parent's copy of its write end, so no other child is spawned
    /// while a write end lacks close-on-exec (Glibc's `pipe2` needs _GNU_SOURCE, which Swift's Glibc
    /// module does not define).
    private static let spawnLock = Mutex(())

    /// Starts `arguments[0]` (looked up in PATH when it has no slash).
    static func spawn(_ arguments: [String], environment: [String: String],
                      standardError: StandardError = .merged,
                      drainGrace: Duration = BridgeLimits.outputDrainGrace) throws -> Subprocess {
        precondition(!arguments.isEmpty, "a subprocess needs a program")
        let argv = arguments.map { strdup($0) } + [nil]
        let envp = environment.map { strdup("\($0.key)=\($0.value)") } + [nil]
        defer {
            for pointer in argv { free(pointer) }
            for pointer in envp { free(pointer) }
        }
        let (pid, readEnd) = try spawnLock.withLock { _ throws -> (pid_t, Int32) in
            var pipeFDs: [Int32] = [-1, -1]
            guard pipe(&pipeFDs) == 0 else {
                throw SpawnError(description: "pipe: \(String(cString: strerror(errno)))")
            }
            let (readEnd, writeEnd) = (pipeFDs[0], pipeFDs[1])
            _ = fcntl(readEnd, F_SETFD, FD_CLOEXEC)
            _ = fcntl(writeEnd, F_SETFD, FD_CLOEXEC)

            var actions = posix_spawn_file_actions_t()
            posix_spawn_file_actions_init(&actions)
            defer { posix_spawn_file_actions_destroy(&actions) }
            posix_spawn_file_actions_addopen(&actions, 0, "/dev/null", O_RDONLY, 0)
            posix_spawn_file_actions_adddup2(&actions, writeEnd, 1)
            switch standardError {
            case .merged: posix_spawn_file_actions_adddup2(&actions, writeEnd, 2)
            case .discarded: posix_spawn_file_actions_addopen(&actions, 2, "/dev/null", O_WRONLY, 0)
            }

            var attributes = posix_spawnattr_t()
            posix_spawnattr_init(&attributes)
            defer { posix_spawnattr_destroy(&attributes) }
            posix_spawnattr_setflags(&attributes, Int16(POSIX_SPAWN_SETPGROUP | POSIX_SPAWN_SETSIGMASK | POSIX_SPAWN_SETSIGDEF))
            posix_spawnattr_setpgroup(&attributes, 0)
            var mask = sigset_t()
            sigemptyset(&mask)
            posix_spawnattr_setsigmask(&attributes, &mask)
            var defaults = sigset_t()
            sigemptyset(&defaults)
            for signal in [SIGTERM, SIGINT, SIGHUP, SIGQUIT, SIGPIPE, SIGCHLD, SIGUSR1, SIGUSR2, SIGALRM] {
                sigaddset(&defaults, signal)
            }
            posix_spawnattr_setsigdefault(&attributes, &defaults)

            var pid: pid_t = 0
            let result = arguments[0].contains("/")
                ? posix_spawn(&pid, arguments[0], &actions, &attributes, argv, envp)
                : posix_spawnp(&pid, arguments[0], &actions, &attributes, argv, envp)
            close(writeEnd)
            guard result == 0 else {
                close(readEnd)
                throw SpawnError(description: "cannot start \(arguments[0]): \(String(cString: strerror(result)))")
            }
            return (pid, readEnd)
        }
        let (events, continuation) = AsyncStream<Event>.makeStream()
        let child = pid
        Thread.detachNewThread {
            Self.watch(pid: child, fd: readEnd, drainGrace: drainGrace, continuation: continuation)
        }
        return Subprocess(pid: pid, events: events)
    }

    /// Sends `signal` to every process of the child's group.
    func signalGroup(_ signal: Int32) {
        _ = kill(-pid, signal)
    }

    /// SIGTERM to the group now, SIGKILL to whatever of it is left after `grace`.
    func terminateGroup(grace: Duration = BridgeLimits.killGrace) {
        signalGroup(SIGTERM)
        let pid = self.pid
        Task.detached {
            try? await Task.sleep(for: grace)
            if kill(-pid, 0) == 0 { _ = kill(-pid, SIGKILL) }
        }
    }

    private static func watch(pid: pid_t, fd: Int32, drainGrace: Duration,
                              continuation: AsyncStream<Event>.Continuation) {
        let pollInterval: Int32 = 50
        let drainMilliseconds = Int64(drainGrace.components.seconds * 1000 + drainGrace.components.attoseconds / 1_000_000_000_000_000)
        var buffer = [UInt8](repeating: 0, count: BridgeLimits.readChunkBytes)
        var exit: ExitStatus?
        var drainDeadline: Int64 = 0
        var endOfOutput = false
        while !endOfOutput {
            if exit == nil {
                var status: Int32 = 0
                if waitpid(pid, &status, WNOHANG) == pid {
                    exit = ExitStatus(waitStatus: status)
                    drainDeadline = milliseconds() + drainMilliseconds
                }
            }
            var timeout = pollInterval
            if exit != nil {
                let left = drainDeadline - milliseconds()
                if left <= 0 { break }
                timeout = Int32(min(Int64(pollInterval), left))
            }
            var entry = pollfd(fd: fd, events: Int16(POLLIN), revents: 0)
            let ready = poll(&entry, 1, timeout)
            guard ready > 0 else { continue }
            let count = buffer.withUnsafeMutableBytes { read(fd, $0.baseAddress, $0.count) }
            if count > 0 {
                continuation.yield(.output(Array(buffer[0..<count])))
            } else if count == 0 || (errno != EINTR && errno != EAGAIN) {
                endOfOutput = true
            }
        }
        close(fd)
        while exit == nil {
            var status: Int32 = 0
            let result = waitpid(pid, &status, 0)
            if result == pid {
                exit = ExitStatus(waitStatus: status)
            } else if result < 0, errno != EINTR {
                exit = .signaled(SIGKILL)
            }
        }
        continuation.yield(.exited(exit!))
        continuation.finish()
    }

    private static func milliseconds() -> Int64 {
        var now = timespec()
        clock_gettime(CLOCK_MONOTONIC, &now)
        return Int64(now.tv_sec) * 1000 + Int64(now.tv_nsec) / 1_000_000
    }

    /// A command's combined result, for short commands (git).
    struct Completed: Sendable {
        /// Nil when it was killed for running past its timeout.
        var status: ExitStatus?
        var output: String
        var succeeded: Bool { status?.isSuccess == true }
    }

    /// Runs a command to its end (at most `timeout`, then its group is killed), keeping up to `maxOutput`
    /// bytes of its output.
    static func run(_ arguments: [String], environment: [String: String],
                    standardError: StandardError = .merged, timeout: Duration,
                    maxOutput: Int = BridgeLimits.maxGitOutputBytes) async throws -> Completed {
        let process = try spawn(arguments, environment: environment,
                                standardError: standardError, drainGrace: .milliseconds(100))
        let timer = Task { () throws -> Bool in
            try await Task.sleep(for: timeout)
            process.terminateGroup(grace: .milliseconds(200))
            return true
        }
        var output = CappedText(limit: maxOutput)
        var status: ExitStatus?
        for await event in process.events {
            switch event {
            case .output(let bytes): output.append(bytes)
            case .exited(let exit): status = exit
            }
        }
        timer.cancel()
        let timedOut = (try? await timer.value) ?? false
        return Completed(status: timedOut ? nil : status, output: output.text)
    }
}
