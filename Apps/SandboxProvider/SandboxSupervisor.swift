import Foundation
import RuntimeAPI

/// The provider's sandboxes: a table in memory, a record of each on disk (`SandboxRecord`), and one
/// permanent thread that starts bridges, notices when they end, kills them at their deadline and, when
/// it first starts, kills what an earlier runtime process left behind.
///
/// Threading: the table is guarded by `lock` and may be touched from request tasks (on the runtime's
/// loops, briefly), preparation threads (clone, unpack) and the supervisor thread. Bridges are spawned
/// only on the supervisor thread, which lives as long as the process: bwrap's `--die-with-parent` ties
/// the sandbox to the thread that spawned it, so a sandbox dies with the runtime and not before.
/// Blocking work never runs on a loop.
final class SandboxSupervisor: @unchecked Sendable {
    /// How often the supervisor thread looks for ended sandboxes and passed deadlines.
    static let tickSeconds = 0.2
    /// How long create and restore wait for the sandbox to start before answering "warming" anyway
    /// (a slow clone then goes on in the background).
    static let startWaitSeconds = 60.0
    /// How long terminate waits for the processes to be gone before it answers.
    static let terminateWait: Duration = .seconds(5)
    /// Most ended sandboxes remembered (so terminate is idempotent and a 404 can say what happened).
    static let maxTombstones = 1024
    /// How long after its start a bridge that exits counts as failing to start (create and restore
    /// then answer 500 with its output).
    static let earlyExitWindow: Duration = .milliseconds(300)
    /// Most of a bridge's output quoted in such an error.
    static let maxReportedLogBytes = 2048

    let config: ProviderConfig
    let log: ProviderLog
    // The state below is guarded by `lock`; only this file and SandboxSupervisor+Recovery.swift touch it.
    let owner = ProcessIdentity.ofThisProcess
    let lock = NSLock()
    var sandboxes: [String: Entry] = [:]
    private var tombstones: [String: String] = [:]
    private var tombstoneOrder: [String] = []
    private var jobs: [SpawnJob] = []
    /// Spawned leaders whose sandbox went away before they could be handed over; reaped by the thread.
    private var unclaimed: [Int32] = []
    private let wake = DispatchSemaphore(value: 0)

    struct Entry {
        var record: SandboxRecord
        var paths: SandboxPaths
        var state: State
        /// The leader is a child this instance spawned and has not reaped yet.
        var spawnedHere: Bool
    }

    enum State {
        /// Cloning or unpacking.
        case preparing
        case running(ProcessIdentity)
        /// The bridge ended by itself; the workspace stays (for a last snapshot) until terminate or the deadline.
        case exited(String)
        /// Killed; waiting for the leader to be gone. The text is why (terminated, timed out); past
        /// `escalateAt` (wall-clock ms) a leader still there gets the group kill.
        case stopping(ProcessIdentity?, String, escalateAt: Int64)
    }

    private struct SpawnJob {
        let handle: String
        let launch: SandboxLaunch
        let complete: (Result<ProcessIdentity, ProviderError>) -> Void
    }

    // MARK: - The one instance

    static let instanceLock = NSLock()
    nonisolated(unsafe) static var instance: SandboxSupervisor?

    /// The supervisor, started on first use (call from a request: its log lines carry the app's name).
    static func shared(_ config: ProviderConfig) -> SandboxSupervisor {
        instanceLock.lock()
        defer { instanceLock.unlock() }
        if let instance { return instance }
        let made = SandboxSupervisor(config: config)
        instance = made
        // A graceful runtime stop ends with exit(): take the sandboxes along (bwrap's --die-with-parent
        // covers a crash; unconfined sandboxes have only this).
        atexit { SandboxSupervisor.killAllAtExit() }
        made.sweepOrphans()
        let thread = Thread { made.threadMain() }
        thread.name = "sandbox-provider supervisor"
        thread.start()
        return made
    }

    private init(config: ProviderConfig) {
        self.config = config
        self.log = ProviderLog()
        for folder in [config.root, config.sandboxesDirectory, config.snapshotsDirectory] {
            try? FileManager.default.createDirectory(atPath: folder, withIntermediateDirectories: true,
                                                     attributes: [.posixPermissions: 0o700])
        }
    }

    // MARK: - API

    /// Sandboxes not yet ended, and how many of them have a bridge running.
    func counts() -> (live: Int, running: Int) {
        locked {
            let running = sandboxes.values.filter { if case .running = $0.state { true } else { false } }.count
            return (sandboxes.count, running)
        }
    }

    /// Starts a sandbox: reserves its handle, then (off the loops) runs `prepare` (clone or unpack) and
    /// spawns the bridge. Answers once the bridge started, or after `startWaitSeconds` with the start
    /// still under way; a failure before then is thrown.
    func start(record: SandboxRecord, session: SandboxLaunch.Session, prepare: @escaping @Sendable (SandboxPaths) throws -> Void)
        async throws(ProviderError) -> JSON {
        guard FileManager.default.isExecutableFile(atPath: config.bridgePath) else {
            throw .failed("the bridge executable is missing at \(config.bridgePath) (build dispatch-bridge, or set BRIDGE_PATH)")
        }
        let paths = SandboxPaths(config: config, handle: record.handle)
        try locked { () throws(ProviderError) in
            let active = sandboxes.values.filter { if case .exited = $0.state { false } else { true } }.count
            guard active < config.maxSandboxes else {
                throw .unavailable("at capacity: \(config.maxSandboxes) sandboxes (MAX_SANDBOXES) are running")
            }
            sandboxes[record.handle] = Entry(record: record, paths: paths, state: .preparing, spawnedHere: false)
        }
        let outcome = await OffLoop.runBounded(seconds: Self.startWaitSeconds, name: "start " + record.handle) { [self] in
            prepareAndSpawn(record: record, paths: paths, session: session, prepare: prepare)
        }
        if case .failure(let error)? = outcome { throw error }
        if outcome == nil { log.info("sandbox \(record.handle) is still starting after \(Int(Self.startWaitSeconds)) s; answering warming") }
        return [
            "sandbox_id": .string(record.sandboxID), "modal_object_id": .string(record.handle), "status": "warming",
            "created_at": .int(record.createdAt), "tunnel_urls": [:],
        ]
    }

    /// Archives a sandbox's workspace (and /tmp) as a new snapshot.
    func snapshot(_ request: SnapshotRequest) async throws(ProviderError) -> JSON {
        let entry = try find(request.handle)
        guard entry.record.sessionID == request.sessionID else {
            throw .badRequest("session_id: sandbox \(request.handle) belongs to another session")
        }
        switch entry.state {
        case .preparing: throw .conflict("sandbox \(request.handle) is still starting")
        case .stopping(_, let why, _): throw .notFound("sandbox \(request.handle) is being stopped (\(why))")
        case .running, .exited: break
        }
        let imageID = SnapshotStore.newImageID()
        let about: JSON = [
            "image_id": .string(imageID), "session_id": .string(entry.record.sessionID), "repo_owner": .string(entry.record.repoOwner),
            "repo_name": .string(entry.record.repoName), "source": .string(entry.record.handle), "reason": .string(request.reason),
            "created_at": .int(WallClock.milliseconds()),
        ]
        let config = self.config
        let paths = entry.paths
        do {
            try await OffLoop.run("snapshot " + request.handle) {
                try SnapshotStore.save(config, paths: paths, imageID: imageID, about: about)
            }
        } catch {
            throw .failed("snapshot of \(request.handle) failed: \(error)")
        }
        log.info("sandbox \(request.handle) snapshotted as \(imageID) (\(request.reason))")
        return ["image_id": .string(imageID), "sandbox_id": .string(request.handle), "session_id": .string(request.sessionID),
                "reason": .string(request.reason)]
    }

    /// Kills a sandbox's processes and removes its folder. Terminating an ended sandbox succeeds again.
    func terminate(_ request: TerminateRequest) async throws(ProviderError) -> JSON {
        let handle = request.handle
        let answer: JSON = ["sandbox_id": .string(handle), "status": "terminated"]
        let finishedNow = try locked { () throws(ProviderError) -> Bool in
            guard var entry = sandboxes[handle] else {
                guard tombstones[handle] != nil else { throw .notFound("no sandbox \(handle)") }
                return false
            }
            switch entry.state {
            case .preparing:
                // The preparing thread finds the entry gone, spawns nothing and removes the folder.
                sandboxes[handle] = nil
                remember(handle, "terminated")
                return false
            case .running(let leader):
                entry.state = stop(entry, leader: leader, why: "terminated")
                sandboxes[handle] = entry
                return false
            case .exited:
                return true
            case .stopping:
                return false
            }
        }
        if finishedNow { finish(handle, "terminated") }
        wake.signal()
        let deadline = ContinuousClock.now + Self.terminateWait
        while ContinuousClock.now < deadline, locked({ sandboxes[handle] != nil }) {
            try? await Task.sleep(for: .milliseconds(50))
        }
        log.info("sandbox \(handle) terminated")
        return answer
    }

    // MARK: - Preparing and spawning (preparation threads)

    private func prepareAndSpawn(record: SandboxRecord, paths: SandboxPaths, session: SandboxLaunch.Session,
                                 prepare: (SandboxPaths) throws -> Void) -> Result<ProcessIdentity, ProviderError> {
        do {
            try FileManager.default.createDirectory(atPath: paths.directory, withIntermediateDirectories: true,
                                                    attributes: [.posixPermissions: 0o700])
            try paths.write(record)
            try prepare(paths)
        } catch {
            return abandon(record.handle, paths: paths, reason: "\(error)")
        }
        let launch = SandboxLaunch(config: config, paths: paths, session: session)
        let done = DispatchSemaphore(value: 0)
        nonisolated(unsafe) var result: Result<ProcessIdentity, ProviderError> = .failure(.failed("not started"))
        locked {
            jobs.append(SpawnJob(handle: record.handle, launch: launch) { outcome in
                result = outcome
                done.signal()
            })
        }
        wake.signal()
        done.wait()
        let leader: ProcessIdentity
        switch result {
        case .failure(let error): return abandon(record.handle, paths: paths, reason: error.description)
        case .success(let started): leader = started
        }
        // A bridge that cannot start at all (bwrap refused, a library missing) exits at once: that is
        // this call's failure, with what it said, rather than a sandbox that never connects.
        let deadline = ContinuousClock.now + Self.earlyExitWindow
        while ContinuousClock.now < deadline {
            if SandboxKiller.hasExited(leader) {
                let said = ChildProcess.tail(of: paths.bridgeLog, limit: Self.maxReportedLogBytes)
                discard(record.handle)
                let reason = "the bridge exited as it started" + (said.isEmpty ? "" : ": " + said)
                log.error("sandbox \(record.handle) failed to start: \(reason)")
                return .failure(.failed(reason))
            }
            usleep(10_000)
        }
        return result
    }

    /// Forgets a sandbox whose bridge already exited, reaping it, and removes its folder.
    private func discard(_ handle: String) {
        let entry = locked { () -> Entry? in
            guard let entry = sandboxes.removeValue(forKey: handle) else { return nil }
            remember(handle, "failed to start")
            if case .running(let leader) = entry.state, entry.spawnedHere {
                SandboxKiller.escalate(entry.record, leaderIsUnreapedChild: true, bubblewrap: bubblewrap)
                _ = SandboxKiller.reap(leader.pid)
            }
            return entry
        }
        if let entry { try? FileManager.default.removeItem(atPath: entry.paths.directory) }
    }

    /// Forgets a sandbox that failed to start and removes its folder.
    private func abandon(_ handle: String, paths: SandboxPaths, reason: String) -> Result<ProcessIdentity, ProviderError> {
        let wasTerminated = locked { () -> Bool in
            let present = sandboxes.removeValue(forKey: handle) != nil
            if present { remember(handle, "failed: " + reason) }
            return !present
        }
        try? FileManager.default.removeItem(atPath: paths.directory)
        if wasTerminated { return .failure(.notFound("sandbox \(handle) was terminated while it started")) }
        log.error("sandbox \(handle) failed to start: \(reason)")
        return .failure(.failed(reason))
    }

    // MARK: - The supervisor thread

    private func threadMain() {
        while true {
            _ = wake.wait(timeout: .now() + Self.tickSeconds)
            for job in locked({ () -> [SpawnJob] in defer { jobs = [] }; return jobs }) { job.complete(spawn(job)) }
            watch()
        }
    }

    var bubblewrap: Bool { config.isolation != .none }

    /// Starts killing a running sandbox; returns its stopping state.
    private func stop(_ entry: Entry, leader: ProcessIdentity, why: String) -> State {
        let killed = SandboxKiller.killProcesses(entry.record, leaderIsUnreapedChild: entry.spawnedHere, bubblewrap: bubblewrap)
        let escalateAt = killed ? 0 : WallClock.milliseconds() + SandboxKiller.bubblewrapGraceMilliseconds
        return .stopping(leader, why, escalateAt: escalateAt)
    }

    private func spawn(_ job: SpawnJob) -> Result<ProcessIdentity, ProviderError> {
        guard let entry = locked({ sandboxes[job.handle] }), case .preparing = entry.state else {
            return .failure(.notFound("sandbox \(job.handle) was terminated while it started"))
        }
        guard WallClock.milliseconds() < entry.record.deadline else {
            return .failure(.failed("sandbox \(job.handle) reached its deadline while it started"))
        }
        let pid: Int32
        do {
            pid = try ChildProcess.spawn(job.launch.arguments, environment: job.launch.environment,
                                         directory: job.launch.directory, logPath: entry.paths.bridgeLog)
        } catch {
            return .failure(.failed("cannot start the bridge: \(error)"))
        }
        // Not reaped yet, so /proc still describes it even if it already exited.
        guard let leader = ProcessIdentity.current(pid) else {
            kill(-pid, SIGKILL)
            locked { unclaimed.append(pid) }
            return .failure(.failed("the bridge vanished as it started"))
        }
        var record = entry.record
        record.leader = leader
        try? entry.paths.write(record)
        let claimed = locked { () -> Bool in
            guard sandboxes[job.handle] != nil else {
                unclaimed.append(pid)
                return false
            }
            sandboxes[job.handle] = Entry(record: record, paths: entry.paths, state: .running(leader), spawnedHere: true)
            return true
        }
        guard claimed else {
            kill(-pid, SIGKILL)
            return .failure(.notFound("sandbox \(job.handle) was terminated while it started"))
        }
        if config.isolation == .none {
            log.warn("""
                SANDBOX UNCONFINED: sandbox \(job.handle) (session \(record.sessionID)) runs as an ordinary process \
                with this runtime's user and its whole filesystem, because bubblewrap (bwrap) is not installed or \
                SANDBOX_ISOLATION=none. Install bubblewrap (apt-get install bubblewrap) before running untrusted agents.
                """)
        }
        log.info("sandbox \(job.handle) started: session \(record.sessionID), pid \(pid), isolation \(config.isolation.name)"
                 + (record.restoredFrom.map { ", restored from \($0)" } ?? ""))
        return .success(leader)
    }

    /// Notices ended bridges, enforces deadlines, finishes stopped sandboxes.
    private func watch() {
        let now = WallClock.milliseconds()
        var finished: [(String, String)] = []
        var lines: [String] = []
        locked {
            for (handle, entry) in sandboxes {
                var entry = entry
                switch entry.state {
                case .preparing:
                    continue
                case .running(let leader):
                    if SandboxKiller.hasExited(leader) {
                        SandboxKiller.escalate(entry.record, leaderIsUnreapedChild: entry.spawnedHere, bubblewrap: bubblewrap)
                        let how = entry.spawnedHere ? (SandboxKiller.reap(leader.pid) ?? "ended") : "ended"
                        entry.spawnedHere = false
                        entry.state = .exited(how)
                        lines.append("sandbox \(handle) ended by itself (\(how)); its workspace stays until terminate or its deadline")
                    } else if now >= entry.record.deadline {
                        entry.state = stop(entry, leader: leader, why: "timed out")
                        lines.append("sandbox \(handle) reached its timeout of \(config.sandboxTimeoutSeconds) s (SANDBOX_TIMEOUT_SECONDS): killed")
                    }
                case .exited:
                    if now >= entry.record.deadline { finished.append((handle, "timed out")) }
                case .stopping(let leader, let why, let escalateAt):
                    if let leader, !SandboxKiller.hasExited(leader) {
                        if escalateAt > 0, now >= escalateAt {
                            SandboxKiller.escalate(entry.record, leaderIsUnreapedChild: entry.spawnedHere, bubblewrap: bubblewrap)
                            entry.state = .stopping(leader, why, escalateAt: 0)
                            sandboxes[handle] = entry
                        }
                        continue
                    }
                    // Reaped only now: until here the zombie kept the group id from being reused.
                    SandboxKiller.escalate(entry.record, leaderIsUnreapedChild: entry.spawnedHere, bubblewrap: bubblewrap)
                    if let leader, entry.spawnedHere { _ = SandboxKiller.reap(leader.pid) }
                    finished.append((handle, why))
                }
                sandboxes[handle] = entry
            }
            unclaimed.removeAll { SandboxKiller.reap($0) != nil }
        }
        for line in lines { log.warn(line) }
        for (handle, why) in finished { finish(handle, why) }
    }

    /// Removes an ended sandbox from the table and its folder from disk.
    private func finish(_ handle: String, _ why: String) {
        guard let entry = locked({ () -> Entry? in
            let entry = sandboxes.removeValue(forKey: handle)
            if entry != nil { remember(handle, why) }
            return entry
        }) else { return }
        let directory = entry.paths.directory
        OffLoop.detach("remove " + handle) { try? FileManager.default.removeItem(atPath: directory) }
    }

    // MARK: - Helpers

    private func find(_ handle: String) throws(ProviderError) -> Entry {
        try locked { () throws(ProviderError) -> Entry in
            if let entry = sandboxes[handle] { return entry }
            if let why = tombstones[handle] { throw .notFound("sandbox \(handle) has ended (\(why))") }
            throw .notFound("no sandbox \(handle)")
        }
    }

    /// Call with `lock` held.
    private func remember(_ handle: String, _ why: String) {
        if tombstones[handle] == nil { tombstoneOrder.append(handle) }
        tombstones[handle] = why
        while tombstoneOrder.count > Self.maxTombstones { tombstones[tombstoneOrder.removeFirst()] = nil }
    }

    func locked<T, E: Error>(_ body: () throws(E) -> T) throws(E) -> T {
        lock.lock()
        defer { lock.unlock() }
        return try body()
    }
}
