import Foundation

/// Ending a sandbox's processes without ever signalling a stranger.
///
/// A leader this process spawned and has not reaped yet is safe to kill by group: until it is reaped,
/// its pid (and so its process group id) cannot be reused. Anything else, a leader spawned by an
/// earlier runtime process or by another loaded version of this app, is checked by start time first,
/// and stragglers whose leader is gone are found by the environment every process of the sandbox
/// inherits (`SANDBOX_ID` and `SESSION_ID`), started no earlier than the leader.
///
/// Under bubblewrap the leader is the outer bwrap and its only child the sandbox's pid-namespace init:
/// killing that init first tears the whole namespace down and lets bwrap reap it and exit by itself
/// (killing bwrap first would leave the init a zombie for the system's init to collect). The group
/// kill follows when bwrap lingers (`escalate`).
enum SandboxKiller {
    /// How long bwrap gets to exit after its namespace was killed, before the group kill.
    static let bubblewrapGraceMilliseconds: Int64 = 2000

    /// Starts ending a sandbox. Returns true when the group was killed outright; false when only the
    /// bubblewrap namespace was, and `escalate` should follow if the leader outlives the grace period.
    @discardableResult
    static func killProcesses(_ record: SandboxRecord, leaderIsUnreapedChild: Bool, bubblewrap: Bool) -> Bool {
        guard let leader = record.leader, leaderIsUnreapedChild || leader.isRunning else {
            if !bubblewrap { killStragglers(record) }
            return true
        }
        if bubblewrap {
            let inits = ProcessIdentity.children(of: leader.pid)
            for pid in inits { kill(pid, SIGKILL) }
            if !inits.isEmpty { return false }
        }
        escalate(record, leaderIsUnreapedChild: leaderIsUnreapedChild, bubblewrap: bubblewrap)
        return true
    }

    /// Kills the leader's whole process group (and, unconfined, every straggler found by `record`'s marker).
    static func escalate(_ record: SandboxRecord, leaderIsUnreapedChild: Bool, bubblewrap: Bool) {
        if let leader = record.leader, leaderIsUnreapedChild || leader.isRunning {
            kill(-leader.pid, SIGKILL)
            kill(leader.pid, SIGKILL)
        }
        if !bubblewrap { killStragglers(record) }
    }

    /// True when the leader has exited (a zombie waiting for `reap`, or gone).
    static func hasExited(_ leader: ProcessIdentity) -> Bool { !leader.isRunning }

    /// Collects an exited child's status without blocking; nil while it still runs or when it is not
    /// this process's child (any more).
    static func reap(_ pid: Int32) -> String? {
        var status: Int32 = 0
        let result = waitpid(pid, &status, WNOHANG)
        guard result == pid else { return nil }
        return ChildProcess.exited(status) ? "exit status \((status >> 8) & 0xff)" : "signal \(status & 0x7f)"
    }

    /// Every process whose environment carries the sandbox's marker and that started after its leader.
    static func stragglers(_ record: SandboxRecord) -> [Int32] {
        let marker = Array(("\0" + record.environmentMarker + "\0").utf8)
        let session = Array(("\0SESSION_ID=" + record.sessionID + "\0").utf8)
        let earliest = record.leader?.startTicks ?? 0
        let me = getpid()
        var found: [Int32] = []
        for name in (try? FileManager.default.contentsOfDirectory(atPath: "/proc")) ?? [] {
            guard let pid = Int32(name), pid != me, let stat = ProcessIdentity.stat(pid), stat.startTicks >= earliest,
                  let environ = ProcFile.read("/proc/\(pid)/environ") else { continue }
            // A leading NUL so the first variable matches like the others.
            let bytes = [0] + environ + [0]
            if contains(bytes, marker), contains(bytes, session) { found.append(pid) }
        }
        return found
    }

    static func killStragglers(_ record: SandboxRecord) {
        for pid in stragglers(record) { kill(pid, SIGKILL) }
    }

    private static func contains(_ haystack: [UInt8], _ needle: [UInt8]) -> Bool {
        guard needle.count <= haystack.count else { return false }
        var index = 0
        while index + needle.count <= haystack.count {
            if haystack[index] == needle[0], haystack[index..<(index + needle.count)].elementsEqual(needle) { return true }
            index += 1
        }
        return false
    }
}
