import Foundation
import Testing

/// The bridge's connection to the control plane (§1.8): headers, `ready` on every connect, heartbeats,
/// exiting on refusals it cannot fix, reconnecting after the others, and refusing to start without its
/// environment. Each test runs the real `dispatch-bridge` against tests/Python/fake_control_plane.py.
@Suite("Bridge: control plane link", .timeLimit(.minutes(2)))
struct BridgeLinkTests {
    @Test("connects with the bearer token and sandbox id, says ready first, then heartbeats; shutdown exits 0")
    func readyAndHeartbeat() async throws {
        try await BridgeTestWorld.with { world in
            let bridge = try world.startBridge(["HEARTBEAT_INTERVAL_SECONDS": "0.2"])
            try await world.waitForReady()
            let upgrade = try #require(world.controlPlane.records("upgrade").first)
            #expect(upgrade["status"] as? Int == 101)
            #expect(upgrade["path"] as? String == "/sessions/\(world.sessionID)/ws?type=sandbox")
            #expect(upgrade["authorization"] as? String == "Bearer \(world.token)")
            #expect(upgrade["sandbox_id"] as? String == world.sandboxID)
            #expect(world.controlPlane.frames.first?["type"] as? String == "ready", "ready is the first frame")
            #expect(world.controlPlane.frames.first?["opencodeSessionId"] == nil, "the shell agent has no OpenCode session")

            try await bridgeTestWait("three heartbeats", context: { world.describe() }) {
                world.controlPlane.frames("heartbeat").count >= 3 ? true : nil
            }
            for heartbeat in world.controlPlane.frames("heartbeat") {
                #expect(heartbeat["status"] as? String == "ready")
            }
            #expect(try await world.shutDown(bridge) == 0)
            let disconnect = try #require(world.controlPlane.records("disconnected").first)
            #expect(disconnect["code"] as? Int == 1000, "the bridge closes cleanly")
            #expect(!bridge.log.text.contains(world.token), "the log never shows the token")
        }
    }

    @Test("HTTP 410 on the upgrade: the bridge exits non-zero saying so, without retrying",
          arguments: [410, 404])
    func goneExits(status: Int) async throws {
        try await BridgeTestWorld.with(refusals: [(status, -1)]) { world in
            let bridge = try world.startBridge()
            let exit = try await bridge.waitForExit()
            #expect(exit != 0)
            #expect(bridge.log.text.contains("HTTP \(status)"), "log: \(bridge.log.text)")
            #expect(world.controlPlane.records("upgrade").count == 1, "no retry after \(status)")
        }
    }

    @Test("a token the control plane does not accept (401) or another sandbox id (403): exits non-zero")
    func badCredentialsExit() async throws {
        try await BridgeTestWorld.with { world in
            let wrongToken = try world.startBridge(["SANDBOX_AUTH_TOKEN": "not-the-token"])
            #expect(try await wrongToken.waitForExit() != 0)
            #expect(wrongToken.log.text.contains("HTTP 401"), "log: \(wrongToken.log.text)")
            #expect(!wrongToken.log.text.contains("not-the-token"), "the log never shows the token")

            let wrongSandbox = try world.startBridge(["SANDBOX_ID": "sb-someone-else"])
            #expect(try await wrongSandbox.waitForExit() != 0)
            #expect(wrongSandbox.log.text.contains("HTTP 403"), "log: \(wrongSandbox.log.text)")
            #expect(world.controlPlane.records("upgrade").map { $0["status"] as? Int } == [401, 403])
        }
    }

    @Test("a 500 and a dropped connection are retried: ready again on each new connection")
    func reconnects() async throws {
        try await BridgeTestWorld.with(refusals: [(500, 1)]) { world in
            let bridge = try world.startBridge()
            try await world.waitForReady(connection: 1)
            #expect(world.controlPlane.records("upgrade").map { $0["status"] as? Int } == [500, 101])

            try world.controlPlane.closeConnection(code: 1011)
            try await world.waitForReady(connection: 2)
            #expect(bridge.process.isRunning)

            // And it still works on the new connection.
            try world.prompt("m-after", "echo still here")
            let done = try await world.controlPlane.waitForFrame("execution_complete", messageId: "m-after")
            #expect(done["success"] as? Bool == true)
            #expect(done["connection"] as? Int == 2)
            #expect(try await world.shutDown(bridge) == 0)
        }
    }

    @Test("what a prompt says while the control plane is away arrives after ready on the next connection")
    func keepsEventsWhileDisconnected() async throws {
        try await BridgeTestWorld.with { world in
            let bridge = try world.startBridge()
            try await world.waitForReady(connection: 1)
            let gate = world.root + "/tmp/go"
            try world.prompt("m-away", "echo before; while [ ! -f '\(gate)' ]; do sleep 0.05; done; echo after")
            try await world.controlPlane.waitForFrame("token", messageId: "m-away")
            // Away for a while: the connection drops and the next attempt is refused.
            try world.controlPlane.write(["op": "refuse", "status": 503, "count": 1])
            try world.controlPlane.closeConnection(code: 1001)
            try await bridgeTestWait("the refused reconnect", context: { world.describe() }) {
                world.controlPlane.records("upgrade").contains { $0["status"] as? Int == 503 } ? true : nil
            }
            try Data().write(to: URL(fileURLWithPath: gate))

            let done = try await world.controlPlane.waitForFrame("execution_complete", messageId: "m-away")
            #expect(done["connection"] as? Int == 2)
            #expect(done["success"] as? Bool == true)
            let second = world.controlPlane.frames.filter { $0["connection"] as? Int == 2 }
            #expect(second.first?["type"] as? String == "ready", "ready comes first on the new connection")
            #expect(world.controlPlane.frames("token", messageId: "m-away").last?["content"] as? String == "before\nafter\n")
            #expect(world.controlPlane.frames("execution_complete", messageId: "m-away").count == 1)
            #expect(try await world.shutDown(bridge) == 0)
        }
    }

    @Test("refuses to start, naming the variable, when the environment lacks one it needs",
          arguments: ["SESSION_ID", "SANDBOX_AUTH_TOKEN", "CONTROL_PLANE_URL", "WORKSPACE"])
    func missingVariable(name: String) async throws {
        try await BridgeTestWorld.with { world in
            let bridge = try world.startBridge([name: nil])
            #expect(try await bridge.waitForExit() != 0)
            #expect(bridge.log.text.contains(name), "log: \(bridge.log.text)")
            #expect(world.controlPlane.records("upgrade").isEmpty, "it never connected")
        }
    }
}
