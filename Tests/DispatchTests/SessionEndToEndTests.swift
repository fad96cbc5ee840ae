import Foundation
import RuntimeAPI
import Testing

/// Sessions end to end (issue: "Show"): the control plane and the local sandbox provider deployed
/// into one runtime, real sandboxes running the real bridge with the shell agent, a local bare git
/// repository, and a fake GitHub API. Every step goes over real sockets and processes.
@Suite("Sessions end to end", .serialized, .timeLimit(.minutes(8)))
struct SessionEndToEndTests {
    final class Setup: @unchecked Sendable {
        let world: ControlPlaneWorld
        let github: FakeService
        let git: GitDaemon
        let bare: String

        init() throws {
            let scratch = NSTemporaryDirectory() + "dispatch-e2e-" + UUID().uuidString
            try FileManager.default.createDirectory(atPath: scratch, withIntermediateDirectories: true)
            bare = try Fixtures.bareRepository(root: scratch + "/repos", owner: "acme", name: "widgets")
            let key = try Fixtures.rsaKey(in: scratch)
            github = try FakeService(script: "fake_github.py", arguments: [key.publicPath, "4242", "77"])
            git = try GitDaemon(root: scratch + "/repos")
            world = try ControlPlaneWorld(
                controlPlaneVars: ["GITHUB_API_URL": github.baseURL, "HEARTBEAT_STALE_MS": "600000"],
                controlPlaneSecrets: ["GITHUB_APP_ID": "4242", "GITHUB_APP_PRIVATE_KEY": key.privatePEM,
                                      "GITHUB_APP_INSTALLATION_ID": "77"],
                withProvider: ["REPO_URL_TEMPLATE": scratch + "/repos/{owner}/{name}.git",
                               "GIT_PUSH_URL_TEMPLATE": git.urlTemplate,
                               "BRIDGE_PATH": try DispatchBinaries.bridge(), "SANDBOX_ROOT": scratch + "/sandboxes"])
        }

        func stop() {
            git.stop()
            world.stop()
            github.stop()
        }
    }

    /// The text of the last `token` event of `messageId` a client saw.
    static func output(_ client: SessionSocket, messageId: String) -> String {
        client.messages.compactMap { message -> String? in
            guard message["type"] as? String == "sandbox_event", let event = message["event"] as? [String: Any],
                  event["type"] as? String == "token", event["messageId"] as? String == messageId else { return nil }
            return event["content"] as? String
        }.last ?? ""
    }

    @Test("create, two clients, a prompt spawns a sandbox, output reaches both in order, the queue advances, a late joiner gets the replay, PR, stop, archive, delete")
    func sessionLifecycle() async throws {
        let setup = try await offPool { try Setup() }
        defer { setup.stop() }
        let world = setup.world
        let session = try await world.createSession(githubToken: "gho_alice_user_token")
        let alice = try await world.subscribedClient(session, userId: "alice", githubToken: "gho_alice_user_token")
        let bob = try await world.subscribedClient(session, userId: "bob")

        // Two prompts: the second waits for the first's execution_complete.
        try alice.send(["type": "prompt", "content": "for i in 1 2 3 4 5; do echo line$i; sleep 0.1; done"])
        let first = try #require(try await alice.next("prompt_queued")["messageId"] as? String)
        try bob.send(["type": "prompt", "content": "echo second from $(git rev-parse --abbrev-ref HEAD)"])
        let second = try #require(try await bob.next("prompt_queued")["messageId"] as? String)
        try await alice.next("sandbox_spawning")
        try await alice.next("sandbox_status", timeout: .seconds(60)) { $0["status"] as? String == "ready" }

        let firstDone = try await alice.event("execution_complete", timeout: .seconds(60)) { $0["messageId"] as? String == first }
        #expect(firstDone["success"] as? Bool == true)
        let secondDone = try await alice.event("execution_complete", timeout: .seconds(60)) { $0["messageId"] as? String == second }
        #expect(secondDone["success"] as? Bool == true)
        try await bob.event("execution_complete") { $0["messageId"] as? String == second }
        #expect(Self.output(alice, messageId: first).contains("line1\nline2\nline3\nline4\nline5"), "\(Self.output(alice, messageId: first))")
        #expect(Self.output(alice, messageId: second).contains("second from dispatch/\(session)"))
        // Both clients saw the same sandbox events in the same order.
        func sandboxEvents(_ client: SessionSocket) -> [String] {
            client.messages.compactMap { ($0["event"] as? [String: Any]).map { "\($0["type"] ?? "")|\($0["messageId"] ?? "")|\($0["content"] ?? "")" } }
        }
        let aliceEvents = sandboxEvents(alice), bobEvents = sandboxEvents(bob)
        #expect(aliceEvents.suffix(bobEvents.count) == bobEvents[...], "clients disagree on the order")
        let messages = try await world.call("GET", "/sessions/\(session)/messages").json as? [String: Any]
        let statuses = (messages?["messages"] as? [[String: Any]])?.compactMap { $0["status"] as? String }
        #expect(statuses == ["completed", "completed"])

        // A late joiner gets the replay: both prompts and their output, ending in history_complete.
        let carol = try await world.subscribedClient(session, userId: "carol")
        let replayed = carol.messages.compactMap { ($0["event"] as? [String: Any])?["type"] as? String }
        #expect(replayed.filter { $0 == "user_message" }.count == 2, "\(replayed)")
        #expect(replayed.contains("execution_complete"))
        #expect(!replayed.contains("heartbeat"))
        #expect(carol.types.last == "history_complete" || carol.types.contains("history_complete"))
        #expect(Self.output(carol, messageId: first).contains("line5"))

        // PR: a prompt that commits and keeps running while the PR is created.
        try alice.send(["type": "prompt", "content": "echo change > change.txt && git add change.txt && git commit -qm change && sleep 4"])
        let third = try #require(try await alice.next("prompt_queued", after: 0) { $0["messageId"] as? String != first && $0["messageId"] as? String != second }["messageId"] as? String)
        try await alice.event("tool_call") { $0["messageId"] as? String == third }
        let pr = try await world.call("POST", "/sessions/\(session)/pr", json: ["title": "Add change", "body": "Adds change.txt"])
        #expect(pr.status == 200, "\(pr.text) \(world.runtime.serverLog().suffix(3000))")
        let prNumber = (pr.json as? [String: Any])?["prNumber"] as? Int
        #expect(prNumber != nil)
        let artifact = try await bob.next("artifact_created")
        #expect((artifact["artifact"] as? [String: Any])?["type"] as? String == "pr")
        let branches = try Fixtures.run(["git", "--git-dir", setup.bare, "branch", "--list"])
        #expect(branches.contains("dispatch/\(session)"), "the sandbox pushed its branch: \(branches)")
        let calls = try await setup.githubCalls()
        let pull = calls.last { $0["path"] as? String == "/repos/acme/widgets/pulls" }
        #expect(pull?["auth"] as? String == "Bearer gho_alice_user_token", "the PR is opened with the prompting user's token")
        #expect(((pull?["body"] as? [String: Any])?["body"] as? String)?.contains("Created with [Dispatch]") == true)
        let artifacts = try await world.call("GET", "/sessions/\(session)/artifacts").json as? [String: Any]
        #expect((artifacts?["artifacts"] as? [Any])?.count == 1)
        try await alice.event("execution_complete", timeout: .seconds(30)) { $0["messageId"] as? String == third }

        // Stop really stops a long prompt.
        try alice.send(["type": "prompt", "content": "sleep 60"])
        let fourth = try #require(try await alice.next("prompt_queued") { ![first, second, third].contains($0["messageId"] as? String ?? "") }["messageId"] as? String)
        try await alice.event("tool_call") { $0["messageId"] as? String == fourth }
        try alice.send(["type": "stop"])
        let stopped = try await alice.event("execution_complete", timeout: .seconds(15)) { $0["messageId"] as? String == fourth }
        #expect(stopped["success"] as? Bool == false)

        // A late joiner sees the PR artifact in the replay.
        let dave = try await world.subscribedClient(session, userId: "dave")
        #expect(dave.types.contains("artifact_created"))

        // Archive stops the sandbox; delete removes the session.
        #expect(try await world.call("POST", "/sessions/\(session)/archive", json: [:]).status == 200)
        try await alice.next("sandbox_status") { $0["status"] as? String == "stopped" }
        try await alice.next("session_status") { $0["status"] as? String == "archived" }
        #expect(try await world.call("DELETE", "/sessions/\(session)").status == 200)
        #expect(try await alice.waitForClose().code == 1000)
        #expect(try await world.call("GET", "/sessions/\(session)").status == 404)
    }

    @Test("a session on a base branch: the sandbox starts from that branch, and its pull request targets it")
    func baseBranch() async throws {
        let setup = try await offPool { try Setup() }
        defer { setup.stop() }
        let world = setup.world
        // A second branch in the repository, with a file main does not have.
        let work = setup.bare + "-develop"
        try Fixtures.run(["git", "clone", "--quiet", setup.bare, work])
        try Fixtures.run(["git", "checkout", "--quiet", "-b", "develop"], in: work)
        try "on develop\n".write(toFile: work + "/DEVELOP.md", atomically: true, encoding: .utf8)
        try Fixtures.run(["git", "add", "DEVELOP.md"], in: work)
        try Fixtures.run(["git", "-c", "user.name=t", "-c", "user.email=t@example.com", "commit", "--quiet", "-m", "develop"], in: work)
        try Fixtures.run(["git", "push", "--quiet", "origin", "develop"], in: work)

        let created = try await world.call("POST", "/sessions", json: [
            "repoOwner": "acme", "repoName": "widgets", "userId": "alice", "githubToken": "gho_alice_user_token", "baseBranch": "develop"])
        let session = try #require((created.json as? [String: Any])?["sessionId"] as? String, "\(created.text)")
        let alice = try await world.subscribedClient(session, userId: "alice", githubToken: "gho_alice_user_token")
        try alice.send(["type": "prompt", "content": "cat DEVELOP.md && git rev-parse --abbrev-ref HEAD && echo x > x.txt && git add x.txt && git commit -qm x && sleep 3"])
        let messageID = try #require(try await alice.next("prompt_queued")["messageId"] as? String)
        try await alice.event("tool_call") { $0["messageId"] as? String == messageID }
        let pr = try await world.call("POST", "/sessions/\(session)/pr", json: ["title": "On develop", "body": "x"])
        #expect(pr.status == 200, "\(pr.text)")
        try await alice.event("execution_complete", timeout: .seconds(60)) { $0["messageId"] as? String == messageID }
        let output = Self.output(alice, messageId: messageID)
        #expect(output.contains("on develop") && output.contains("dispatch/\(session)"), "started from develop: \(output)")
        let pull = try await setup.githubCalls().last { $0["path"] as? String == "/repos/acme/widgets/pulls" }
        #expect((pull?["body"] as? [String: Any])?["base"] as? String == "develop", "the PR targets the base branch: \(String(describing: pull))")
    }

    @Test("a killed bridge makes the sandbox stale; the next prompt restores it from the snapshot and runs; the agent's secrets reach both sandboxes, the repository's over the global ones, read fresh at each start")
    func staleAndRestore() async throws {
        let setup = try await offPool { try Setup() }
        defer { setup.stop() }
        let world = setup.world
        for (path, value) in [("/secrets/GREETING", "hello"), ("/secrets/SHARED", "global"),
                              ("/repos/acme/widgets/secrets/SHARED", "repo wins"), ("/repos/acme/gadgets/secrets/OTHER", "not here")] {
            #expect(try await world.call("PUT", path, json: ["value": value]).status == 201, "\(path)")
        }
        let session = try await world.createSession()
        let alice = try await world.subscribedClient(session, userId: "alice")
        try alice.send(["type": "prompt", "content": "echo kept > kept.txt && echo \"[$GREETING|$SHARED|${OTHER:-unset}|${SANDBOX_AUTH_TOKEN:-hidden}]\""])
        let firstDone = try await alice.event("execution_complete", timeout: .seconds(60))
        let firstOutput = Self.output(alice, messageId: firstDone["messageId"] as? String ?? "")
        #expect(firstOutput.contains("[hello|repo wins|unset|hidden]"), "the agent's environment: \(firstOutput)")
        #expect(try await world.call("PUT", "/secrets/GREETING", json: ["value": "hello again"]).status == 200)
        try await alice.next("snapshot_saved", timeout: .seconds(30))

        // The sandbox socket's auth, with the credentials the provider gave the bridge.
        let environment = try #require(try BridgeProcesses.environment(session: session))
        let token = try #require(environment["SANDBOX_AUTH_TOKEN"]), sandboxID = try #require(environment["SANDBOX_ID"])
        let sandboxURL = world.webSocketURL(session) + "?type=sandbox"
        #expect(try await world.sockets.refusal(sandboxURL, headers: ["Authorization": "Bearer wrong", "X-Sandbox-ID": sandboxID]) == 401)
        #expect(try await world.sockets.refusal(sandboxURL, headers: ["X-Sandbox-ID": sandboxID]) == 401)
        #expect(try await world.sockets.refusal(sandboxURL, headers: ["Authorization": "Bearer \(token)", "X-Sandbox-ID": "sandbox-other"]) == 403)
        #expect(try await world.sockets.refusal(world.webSocketURL("no-such-session") + "?type=sandbox",
                                                headers: ["Authorization": "Bearer \(token)", "X-Sandbox-ID": sandboxID]) == 404)

        let killed = try BridgeProcesses.kill(session: session)
        #expect(killed > 0, "found the session's bridge process")
        try await alice.next("sandbox_status", timeout: .seconds(20)) { $0["status"] as? String == "stale" }
        #expect(try await world.sockets.refusal(sandboxURL, headers: ["Authorization": "Bearer \(token)", "X-Sandbox-ID": sandboxID]) == 410)

        let mark = alice.messages.count
        try alice.send(["type": "prompt", "content": "cat kept.txt && echo \"[$GREETING]\""])
        try await alice.next("sandbox_restored", after: mark, timeout: .seconds(60))
        let done = try await alice.event("execution_complete", after: mark, timeout: .seconds(60))
        #expect(done["success"] as? Bool == true)
        let messageId = done["messageId"] as? String ?? ""
        #expect(Self.output(alice, messageId: messageId).contains("kept"), "the restored workspace has the file")
        #expect(Self.output(alice, messageId: messageId).contains("[hello again]"), "the restored sandbox got the secret as it is now")
    }
}

extension SessionEndToEndTests.Setup {
    func githubCalls() async throws -> [[String: Any]] {
        let text = try Fixtures.run(["curl", "-sf", github.baseURL + "/_calls"])
        return (try JSONSerialization.jsonObject(with: Data(text.utf8))) as? [[String: Any]] ?? []
    }
}

/// Finds sandbox bridges by the `SESSION_ID` in their environment.
enum BridgeProcesses {
    /// The environment of the session's sandbox process (`command` prefix: its process name).
    static func environment(session: String, command prefix: String = "dispatch-bridge") throws -> [String: String]? {
        for entry in try FileManager.default.contentsOfDirectory(atPath: "/proc") {
            guard Int32(entry) != nil, let data = FileManager.default.contents(atPath: "/proc/\(entry)/environ"),
                  let command = try? String(contentsOfFile: "/proc/\(entry)/comm", encoding: .utf8),
                  command.hasPrefix(prefix) else { continue }
            var variables: [String: String] = [:]
            for item in data.split(separator: 0) {
                let text = String(decoding: item, as: UTF8.self)
                if let equals = text.firstIndex(of: "=") { variables[String(text[..<equals])] = String(text[text.index(after: equals)...]) }
            }
            if variables["SESSION_ID"] == session { return variables }
        }
        return nil
    }

    static func kill(session: String) throws -> Int {
        var count = 0
        for entry in try FileManager.default.contentsOfDirectory(atPath: "/proc") {
            guard let pid = Int32(entry),
                  let environment = FileManager.default.contents(atPath: "/proc/\(entry)/environ"),
                  let command = try? String(contentsOfFile: "/proc/\(entry)/comm", encoding: .utf8),
                  command.hasPrefix("dispatch-bridge") else { continue }
            let variables = environment.split(separator: 0).map { String(decoding: $0, as: UTF8.self) }
            if variables.contains("SESSION_ID=\(session)") {
                Foundation.kill(pid, SIGKILL)
                count += 1
            }
        }
        return count
    }
}
