import Foundation
import RuntimeAPI

/// What outlives a runtime process: the sweep of records left by one that no longer runs, and the exit
/// handler that takes this process's sandboxes along when it stops.
extension SandboxSupervisor {
    /// Kills what runtime processes that no longer run left behind, and adopts what another loaded
    /// version of this app (in this same process) started. Runs once, from the first request (a few
    /// /proc reads per record; folders are removed off the loop).
    func sweepOrphans() {
        let names = (try? FileManager.default.contentsOfDirectory(atPath: config.sandboxesDirectory)) ?? []
        for name in names where SandboxRecord.isHandle(name) {
            let paths = SandboxPaths(config: config, handle: name)
            guard let record = SandboxPaths.read(paths.record) else { continue }
            if record.owner == owner {
                guard let leader = record.leader else { continue }
                let state: State = leader.isRunning ? .running(leader) : .exited("ended")
                locked {
                    if sandboxes[name] == nil { sandboxes[name] = Entry(record: record, paths: paths, state: state, spawnedHere: false) }
                }
            } else if !record.owner.isRunning {
                // Whatever the isolation was, every process of the sandbox carries its marker.
                SandboxKiller.killProcesses(record, leaderIsUnreapedChild: false, bubblewrap: false)
                OffLoop.detach("remove " + name) { try? FileManager.default.removeItem(atPath: paths.directory) }
                log.warn("removed sandbox \(name) (session \(record.sessionID)) left by runtime process \(record.owner.pid), which no longer runs")
            }
        }
    }

    static func killAllAtExit() {
        guard instanceLock.try() else { return }
        let current = instance
        instanceLock.unlock()
        current?.killAll()
    }

    /// Longest the exit handler waits for bubblewrap leaders to exit by themselves.
    static let exitGrace: Duration = .seconds(1)

    func killAll() {
        guard lock.lock(before: Date(timeIntervalSinceNow: 1)) else { return }
        defer { lock.unlock() }
        var stopping: [Entry] = []
        for entry in sandboxes.values {
            switch entry.state {
            case .running, .stopping:
                SandboxKiller.killProcesses(entry.record, leaderIsUnreapedChild: entry.spawnedHere, bubblewrap: bubblewrap)
                stopping.append(entry)
            case .preparing, .exited:
                break
            }
        }
        let deadline = ContinuousClock.now + Self.exitGrace
        while ContinuousClock.now < deadline,
              stopping.contains(where: { entry in entry.record.leader.map { !SandboxKiller.hasExited($0) } ?? false }) {
            usleep(10_000)
        }
        for entry in stopping {
            SandboxKiller.escalate(entry.record, leaderIsUnreapedChild: entry.spawnedHere, bubblewrap: bubblewrap)
        }
    }
}
