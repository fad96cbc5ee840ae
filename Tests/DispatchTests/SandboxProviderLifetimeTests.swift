import Foundation
import Testing

/// How sandboxes end without a terminate call: at their timeout, when the runtime stops, and (for those
/// a crashed runtime left) at the next start. Each test has a runtime of its own, since the runtime's
/// life is what it is about; they run unconfined (`SANDBOX_ISOLATION=none`), the path that depends on
/// the provider alone (under bubblewrap, `--die-with-parent` adds the kernel's guarantee).
@Suite("Sandbox provider lifetime", .serialized, .timeLimit(.minutes(5)))
struct SandboxProviderLifetimeTests {
    @Test("a sandbox is killed at SANDBOX_TIMEOUT_SECONDS and its folder removed; unconfined spawns warn loudly")
    func timeout() async throws {
        let world = try await offPool { try ProviderWorld(vars: ["SANDBOX_ISOLATION": "none", "SANDBOX_TIMEOUT_SECONDS": "5"]) }
        defer { world.stop() }
        let health = try await world.runtime.request("GET", "/sandbox-provider/health")
        #expect(ProviderWorld.data(health)?["isolation"] as? String == "none", "\(health.text)")

        let sandboxID = "sandbox-acme-widgets-timeout-" + ProviderWorld.uniqueSuffix()
        let handle = try await world.create(session: "session-timeout", sandboxID: sandboxID)
        let environment = try await world.bridgeEnvironment(handle, sandboxID: sandboxID)
        #expect(Set(environment.keys) == ProviderWorld.contractNames, "\(environment.keys.sorted())")
        #expect(environment["WORKSPACE"] == world.workspace(handle))
        let processes = ProviderWorld.processes(of: sandboxID)
        #expect(!processes.isEmpty)
        #expect(processes.allSatisfy { ProviderWorld.pidNamespace($0) == ProviderWorld.pidNamespace(getpid()) })
        try await ProviderWorld.waitUntil("the runtime's log warns about the unconfined sandbox") {
            world.runtime.serverLog().contains("SANDBOX UNCONFINED: sandbox \(handle)")
        }

        try await ProviderWorld.waitUntil("the timeout kills \(handle)") { ProviderWorld.processes(of: sandboxID).isEmpty }
        try await ProviderWorld.waitUntil("the folder of \(handle) is removed") {
            !FileManager.default.fileExists(atPath: world.sandboxDirectory(handle))
        }
        #expect(world.runtime.serverLog().contains("sandbox \(handle) reached its timeout of 5 s"))
        let late = try await world.post("/sandbox/snapshot", ["sandbox_id": handle, "session_id": "session-timeout", "reason": "late"])
        #expect(late.status == 404)
        #expect(ProviderWorld.error(late)?.contains("timed out") == true, "\(late.text)")
    }

    @Test("stopping the runtime kills its sandboxes")
    func runtimeStop() async throws {
        let world = try await offPool { try ProviderWorld(vars: ["SANDBOX_ISOLATION": "none"]) }
        defer { world.stop() }
        let sandboxID = "sandbox-acme-widgets-stop-" + ProviderWorld.uniqueSuffix()
        let handle = try await world.create(session: "session-stop", sandboxID: sandboxID)
        _ = try await world.bridgeEnvironment(handle, sandboxID: sandboxID)
        #expect(!ProviderWorld.processes(of: sandboxID).isEmpty)
        world.runtime.stop()
        try await ProviderWorld.waitUntil("the sandbox dies with the runtime") { ProviderWorld.processes(of: sandboxID).isEmpty }
    }

    @Test("sandboxes a crashed runtime left behind are killed and removed when the next one first serves the provider")
    func orphansAfterCrash() async throws {
        let root = NSTemporaryDirectory() + "dispatch-orphans-" + UUID().uuidString
        defer { try? FileManager.default.removeItem(atPath: root) }
        let sandboxID = "sandbox-acme-widgets-orphan-" + ProviderWorld.uniqueSuffix()
        let handle: String
        do {
            let first = try await offPool { try ProviderWorld(vars: ["SANDBOX_ISOLATION": "none"], sandboxRoot: root) }
            defer { first.stop() }
            handle = try await first.create(session: "session-orphan", sandboxID: sandboxID)
            _ = try await first.bridgeEnvironment(handle, sandboxID: sandboxID)
            first.runtime.crash()
        }
        // Unconfined and with no exit handler run, the sandbox outlives the crash: only the sweep ends it.
        try #require(!ProviderWorld.processes(of: sandboxID).isEmpty, "the sandbox died with the crash; nothing left to sweep")
        #expect(FileManager.default.fileExists(atPath: root + "/sandboxes/" + handle))

        // The next runtime, with an empty allowlist: it refuses every create, and still sweeps.
        let second = try await offPool { try ProviderWorld(vars: ["SANDBOX_ISOLATION": "none", "ALLOWED_CONTROL_PLANE_HOSTS": ""], sandboxRoot: root) }
        defer { second.stop() }
        let refused = try await second.post("/sandbox/create", second.createBody(session: "session-next", sandboxID: "sandbox-acme-next"))
        #expect(refused.status == 400)
        #expect(ProviderWorld.error(refused)?.contains("every host is refused") == true, "\(refused.text)")
        try await ProviderWorld.waitUntil("the orphan is killed") { ProviderWorld.processes(of: sandboxID).isEmpty }
        try await ProviderWorld.waitUntil("the orphan's folder is removed") {
            !FileManager.default.fileExists(atPath: root + "/sandboxes/" + handle)
        }
        try await ProviderWorld.waitUntil("the runtime's log says so") {
            second.runtime.serverLog().contains("removed sandbox \(handle)")
        }
    }
}
