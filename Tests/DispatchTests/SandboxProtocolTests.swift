import Foundation
import RuntimeAPI
import Testing

/// The sandbox side of the session object (reference §1.8) driven by the test itself: the provider
/// starts a sandbox whose process only sleeps, the test reads the credentials the provider gave it and
/// speaks the bridge's protocol over a real socket.
@Suite("Sandbox protocol", .serialized, .timeLimit(.minutes(5)))
struct SandboxProtocolTests {
    /// The control plane and the provider, whose sandboxes are a process that only sleeps (the test
    /// plays the bridge); `vars` go to the control plane.
    static func world(_ vars: [String: String] = [:]) async throws -> ControlPlaneWorld {
        let scratch = NSTemporaryDirectory() + "dispatch-sandbox-protocol-" + UUID().uuidString
        try FileManager.default.createDirectory(atPath: scratch, withIntermediateDirectories: true)
        try Fixtures.bareRepository(root: scratch + "/repos", owner: "acme", name: "widgets")
        let script = scratch + "/sleeper.sh"
        try "#!/bin/sh\nexec sleep 600\n".write(toFile: script, atomically: true, encoding: .utf8)
        try FileManager.default.setAttributes([.posixPermissions: 0o755], ofItemAtPath: script)
        return try await offPool {
            try ControlPlaneWorld(controlPlaneVars: vars,
                                  withProvider: ["REPO_URL_TEMPLATE": scratch + "/repos/{owner}/{name}.git",
                                                 "BRIDGE_PATH": script, "SANDBOX_ROOT": scratch + "/sandboxes"])
        }
    }

    /// The environment the provider gave the session's sandbox process (its credentials), once it runs.
    static func sandboxEnvironment(_ session: String) async throws -> [String: String]? {
        let deadline = ContinuousClock.now + .seconds(20)
        while ContinuousClock.now < deadline {
            if let environment = try BridgeProcesses.environment(session: session, command: "sleep") { return environment }
            try await Task.sleep(for: .milliseconds(50))
        }
        return nil
    }

    @Test("upgrade auth (401/403/404/410), the prompt command, malformed frames, cumulative tokens stored once, heartbeats not stored, an unclean drop makes the sandbox stale")
    func scriptedSandbox() async throws {
        let world = try await Self.world()
        defer { world.stop() }

        let session = try await world.createSession()
        let alice = try await world.subscribedClient(session, userId: "alice")
        try alice.send(["type": "prompt", "content": "make it so"])
        let messageID = try #require(try await alice.next("prompt_queued")["messageId"] as? String)
        try await alice.next("sandbox_status") { $0["status"] as? String == "connecting" }

        let environment = try await Self.sandboxEnvironment(session)
        let env = try #require(environment, "the provider started the sandbox process")
        let token = try #require(env["SANDBOX_AUTH_TOKEN"]), sandboxID = try #require(env["SANDBOX_ID"])
        #expect(env["CONTROL_PLANE_URL"] == world.runtime.baseURL + "/api")
        let url = world.webSocketURL(session) + "?type=sandbox"
        let good: Headers = ["Authorization": "Bearer \(token)", "X-Sandbox-ID": sandboxID]
        #expect(try await world.sockets.refusal(url, headers: ["Authorization": "Bearer wrong", "X-Sandbox-ID": sandboxID]) == 401)
        #expect(try await world.sockets.refusal(url, headers: ["X-Sandbox-ID": sandboxID]) == 401)
        #expect(try await world.sockets.refusal(url, headers: ["Authorization": "Bearer \(token)", "X-Sandbox-ID": "sandbox-x"]) == 403)
        #expect(try await world.sockets.refusal(world.webSocketURL("nosuchsession") + "?type=sandbox", headers: good) == 404)

        // Its own loop, so the test can drop the connection without a close frame later.
        let sandboxSide = try TestSockets()
        let sandbox = try await sandboxSide.connect(url, headers: good)
        try sandbox.send(["type": "ready"])
        try await alice.next("sandbox_status") { $0["status"] as? String == "ready" }
        let prompt = try await sandbox.next("prompt")
        #expect(prompt["messageId"] as? String == messageID)
        #expect(prompt["content"] as? String == "make it so")
        #expect(prompt["model"] as? String == "anthropic/claude-haiku-4-5")
        #expect((prompt["author"] as? [String: Any])?["githubEmail"] as? String == "alice@example.com")
        try await alice.next("processing_status") { $0["isProcessing"] as? Bool == true }

        sandbox.sendText("{broken")
        #expect(try await sandbox.next("error")["code"] as? String == "INVALID_MESSAGE")
        for text in ["a", "ab", "abc"] {
            try sandbox.send(["type": "token", "messageId": messageID, "partId": "p1", "content": text])
        }
        try sandbox.send(["type": "heartbeat", "status": "ready"])
        try sandbox.send(["type": "tool_call", "messageId": messageID, "tool": "bash", "callId": "c1", "status": "completed",
                          "args": ["command": "true"], "output": ""])
        try sandbox.send(["type": "execution_complete", "messageId": messageID, "success": true])
        let complete = try await alice.event("execution_complete")
        #expect(complete["sandboxId"] as? String == sandboxID, "the control plane stamps the sandbox id")
        #expect(complete["timestamp"] is Double)
        let tokens = alice.messages.compactMap { ($0["event"] as? [String: Any]).flatMap { $0["type"] as? String == "token" ? $0["content"] as? String : nil } }
        #expect(tokens == ["a", "ab", "abc"], "every token is relayed live, in order")
        try await alice.next("processing_status") { $0["isProcessing"] as? Bool == false }

        let stored = try await world.call("GET", "/sessions/\(session)/events?limit=200").json as? [String: Any]
        let types = (stored?["events"] as? [[String: Any]])?.compactMap { $0["type"] as? String } ?? []
        #expect(!types.contains("heartbeat"), "\(types)")
        #expect(types.filter { $0 == "token" }.count == 1, "a part's tokens are stored once: \(types)")
        let messages = try await world.call("GET", "/sessions/\(session)/messages").json as? [String: Any]
        #expect((messages?["messages"] as? [[String: Any]])?.first?["status"] as? String == "completed")

        let late = try await world.subscribedClient(session, userId: "bob")
        let replayed = late.messages.compactMap { ($0["event"] as? [String: Any]).flatMap { $0["type"] as? String == "token" ? $0["content"] as? String : nil } }
        #expect(replayed == ["abc"], "the replay has the part's final text only")

        // A reconnecting bridge replaces the socket, then vanishes without a close frame: stale, and the
        // credentials stop working.
        let holder = try HeldSocket(url: url, headers: ["Authorization": "Bearer \(token)", "X-Sandbox-ID": sandboxID])
        #expect(try await sandbox.waitForClose().code == 1000, "the older sandbox socket is closed")
        holder.kill()
        sandboxSide.stop()
        try await alice.next("sandbox_status", timeout: .seconds(20)) { $0["status"] as? String == "stale" }
        #expect(try await world.sockets.refusal(url, headers: good) == 410)
    }

    @Test("a prompt past EXECUTION_TIMEOUT_MS fails and the bridge is told to stop; inactivity waits for it, then stops the sandbox for good")
    func executionTimeoutThenInactivity() async throws {
        let world = try await Self.world(["EXECUTION_TIMEOUT_MS": "4000", "SANDBOX_INACTIVITY_TIMEOUT_MS": "1500"])
        defer { world.stop() }
        let session = try await world.createSession()
        // No client watches: only the prompt holds the sandbox.
        let queued = try await world.call("POST", "/sessions/\(session)/prompt", json: ["content": "never ends", "authorId": "alice"])
        let messageID = try #require((queued.json as? [String: Any])?["messageId"] as? String)

        let environment = try await Self.sandboxEnvironment(session)
        let env = try #require(environment)
        let sandbox = try await world.sockets.connect(world.webSocketURL(session) + "?type=sandbox", headers: [
            "Authorization": "Bearer \(env["SANDBOX_AUTH_TOKEN"] ?? "")", "X-Sandbox-ID": env["SANDBOX_ID"] ?? ""])
        try sandbox.send(["type": "ready"])
        #expect(try await sandbox.next("prompt")["messageId"] as? String == messageID)
        let started = ContinuousClock.now

        // The sandbox is told to stop when the prompt overruns, not shut down for inactivity before.
        try await sandbox.next("stop", timeout: .seconds(20))
        #expect(ContinuousClock.now - started >= .seconds(3), "the stop came only once the execution timeout passed")
        #expect(!sandbox.types.contains("shutdown"), "inactivity stopped a sandbox while its prompt ran: \(sandbox.types)")
        let messages = try await world.call("GET", "/sessions/\(session)/messages").json as? [String: Any]
        let message = (messages?["messages"] as? [[String: Any]])?.first
        #expect(message?["status"] as? String == "failed")
        #expect(message?["error"] as? String == "execution timed out")

        // Idle now, with nobody watching: snapshot, shutdown, the socket closed, the sandbox stopped.
        try await sandbox.next("shutdown", timeout: .seconds(20))
        #expect(try await sandbox.waitForClose().code == 1000)
        let state = try await world.call("GET", "/sessions/\(session)").json as? [String: Any]
        #expect((state?["sandbox"] as? [String: Any])?["status"] as? String == "stopped")
        #expect(try await world.sockets.refusal(world.webSocketURL(session) + "?type=sandbox", headers: [
            "Authorization": "Bearer \(env["SANDBOX_AUTH_TOKEN"] ?? "")", "X-Sandbox-ID": env["SANDBOX_ID"] ?? ""]) == 410)
    }
}
