import RuntimeDeploy
#if canImport(Glibc)
import Glibc
#endif

/// What the runtime under load did, read from its admin API and /proc before and after the measured
/// run: the storage commits and the fdatasyncs they waited for, and its CPU time. Only for a runtime
/// on this machine, found through its state directory (`<state>/admin.json` and `admin.token`).
struct RuntimeProbe {
    struct Sample {
        var commits: Int
        var fdatasyncs: Int
        /// Objects instantiated (each opens its database) and files reopened from the descriptor pool.
        var objectsCreated: Int
        var fileReopens: Int
        /// WAL checkpoints run, and the microseconds they took on the loop threads.
        var checkpoints: Int
        var checkpointMicroseconds: Int
        var cpuSeconds: Double
    }

    struct Failure: Error, CustomStringConvertible {
        let description: String
    }

    let client: AdminClient
    let pid: Int32
    /// The app whose objects take the load (`bench object` drives the built-in counter).
    let app: String

    /// Nil (with the reason) when no runtime serves on `stateDirectory`.
    static func attach(stateDirectory: String, app: String) -> (probe: RuntimeProbe?, problem: String?) {
        guard let (info, token) = AdminCredentials.running(stateDirectory: stateDirectory) else {
            return (nil, "no runtime is serving on \(stateDirectory) (no admin.json, or its process is gone)")
        }
        do {
            return (RuntimeProbe(client: try AdminClient(info: info, token: token), pid: info.pid, app: app), nil)
        } catch {
            return (nil, "\(error)")
        }
    }

    func sample() throws -> Sample {
        let reply = try client.call("GET", "/v1/apps/\(app)/stats")
        guard reply.status == 200, let storage = reply.json?["storage"] as? [String: Any],
              let commits = storage["commits"] as? Int, let fdatasyncs = storage["fdatasyncs"] as? Int else {
            throw Failure(description: "\(client.url)/v1/apps/\(app)/stats answered \(reply.status) without storage counters: \(reply.errorText)")
        }
        return Sample(commits: commits, fdatasyncs: fdatasyncs,
                      objectsCreated: reply.json?["objectsCreated"] as? Int ?? 0,
                      fileReopens: storage["fileReopens"] as? Int ?? 0,
                      checkpoints: storage["checkpoints"] as? Int ?? 0,
                      checkpointMicroseconds: storage["checkpointMicroseconds"] as? Int ?? 0,
                      cpuSeconds: try ProcessStatus.cpuSeconds(pid: pid))
    }
}
