import Foundation
import Testing

/// Apps/SandboxProvider deployed into a real runtime: the provider HTTP API of Apps/DISPATCH.md (auth,
/// validation, envelopes) and real sandboxes cloned from a local repository, each running a stand-in
/// bridge (under bubblewrap when it is installed, as the provider's default).
@Suite("Sandbox provider", .serialized, .timeLimit(.minutes(5)), .providerWorld())
struct SandboxProviderTests {
    var world: ProviderWorld { get throws { try #require(ProviderWorld.current) } }

    @Test("GET /health answers without auth, with the isolation in use; unknown routes and methods get envelopes")
    func health() async throws {
        let world = try world
        let response = try await world.runtime.request("GET", "/sandbox-provider/health")
        #expect(response.status == 200)
        #expect(response.header("content-type") == "application/json")
        let data = try #require(ProviderWorld.data(response), "\(response.text)")
        #expect(data["status"] as? String == "healthy")
        #expect(data["service"] as? String == "dispatch-sandbox-provider")
        let bwrapInstalled = ["/usr/bin/bwrap", "/usr/local/bin/bwrap", "/bin/bwrap"].contains { FileManager.default.isExecutableFile(atPath: $0) }
        #expect(data["isolation"] as? String == (bwrapInstalled ? "bubblewrap" : "none"))

        let unknown = try await world.runtime.request("GET", "/sandbox-provider/sandbox/list")
        #expect(unknown.status == 404)
        #expect(ProviderWorld.error(unknown)?.contains("no route") == true, "\(unknown.text)")
        let wrongMethod = try await world.runtime.request("GET", "/sandbox-provider/sandbox/create")
        #expect(wrongMethod.status == 405)
        #expect(ProviderWorld.error(wrongMethod)?.contains("POST") == true, "\(wrongMethod.text)")
    }

    @Test("the HMAC bearer: missing, malformed, wrong secret, expired and future tokens are 401; no secret configured is 503")
    func authentication() async throws {
        let world = try world
        let now = Int64(Date().timeIntervalSince1970 * 1000)
        let refused: [(String?, String)] = [
            (nil, "missing"),
            ("Basic dXNlcjpwdw==", "missing"),
            ("Bearer nonsense", "malformed"),
            ("Bearer 123.nothex", "malformed"),
            (world.token(secret: "not-the-secret"), "signature"),
            (world.token(at: now - 6 * 60 * 1000), "expired"),
            (world.token(at: now + 6 * 60 * 1000), "expired"),
        ]
        for (authorization, reason) in refused {
            var headers = ["Content-Type": "application/json"]
            if let authorization { headers["Authorization"] = authorization }
            let response = try await world.runtime.request("POST", "/sandbox-provider/sandbox/terminate", headers: headers,
                                                           body: Array(#"{"sandbox_id":"local-0000000000000000"}"#.utf8))
            #expect(response.status == 401, "\(authorization ?? "no header"): \(response.text)")
            #expect(ProviderWorld.error(response)?.contains(reason) == true, "\(authorization ?? "no header"): \(response.text)")
        }
        // A token 4 minutes old is still inside the window: the call gets past auth (to a 404).
        let recent = try await world.post("/sandbox/terminate", ["sandbox_id": "local-0000000000000000"],
                                          authorization: world.token(at: now - 4 * 60 * 1000))
        #expect(recent.status == 404, "\(recent.text)")

        let deleted = try world.runtime.runCLI(["secret", "delete", "sandbox-provider", "SANDBOX_API_SECRET"])
        #expect(deleted.status == 0, "\(deleted.output)")
        let unconfigured = try await world.post("/sandbox/terminate", ["sandbox_id": "local-0000000000000000"])
        try world.runtime.putSecret("sandbox-provider", "SANDBOX_API_SECRET", world.secret)
        #expect(unconfigured.status == 503, "\(unconfigured.text)")
        #expect(ProviderWorld.error(unconfigured)?.contains("SANDBOX_API_SECRET") == true, "\(unconfigured.text)")
        let configured = try await world.post("/sandbox/terminate", ["sandbox_id": "local-0000000000000000"])
        #expect(configured.status == 404, "\(configured.text)")
    }

    @Test("bad bodies are 400s that name the field and the rule; unknown sandboxes and snapshots are 404s")
    func badBodies() async throws {
        let world = try world
        let good = world.createBody(session: "session-bad", sandboxID: "sandbox-acme-widgets-1")
        func with(_ changes: [String: Any?]) -> [UInt8] {
            var body = good
            for (key, value) in changes { body[key] = value }
            return Array(try! JSONSerialization.data(withJSONObject: body))
        }
        let restore: [String: Any] = [
            "snapshot_image_id": "snap-" + String(repeating: "0", count: 32),
            "session_config": ["session_id": "session-bad", "repo_owner": "acme", "repo_name": "widgets"],
            "sandbox_id": "sandbox-acme-widgets-2", "control_plane_url": world.controlPlaneURL, "sandbox_auth_token": "t",
        ]
        func restoreWith(_ changes: [String: Any?]) -> [UInt8] {
            var body = restore
            for (key, value) in changes { body[key] = value }
            return Array(try! JSONSerialization.data(withJSONObject: body))
        }
        let json = { (object: [String: Any]) in Array(try! JSONSerialization.data(withJSONObject: object)) }
        let cases: [(route: String, body: [UInt8], status: Int, says: String)] = [
            ("/sandbox/create", [], 400, "body: empty"),
            ("/sandbox/create", Array("{not json".utf8), 400, "body: not JSON"),
            ("/sandbox/create", Array("[1, 2]".utf8), 400, "body: expected a JSON object"),
            ("/sandbox/create", with(["provider": String(repeating: "x", count: 600_000)]), 400, "over the limit of 524288"),
            ("/sandbox/create", with(["base_branch": "../main"]), 400, "base_branch: \"../main\" is not a valid branch name"),
            ("/sandbox/create", with(["base_branch": "a b"]), 400, "base_branch: \"a b\": letters, digits"),
            ("/sandbox/create", with(["user_env_vars": ["A", "B"]]), 400, "user_env_vars: expected an object of strings"),
            ("/sandbox/create", with(["user_env_vars": ["npm_token": "x"]]), 400, "user_env_vars: \"npm_token\" is not a variable name"),
            ("/sandbox/create", with(["user_env_vars": ["SANDBOX_AUTH_TOKEN": "x"]]), 400, "user_env_vars: SANDBOX_AUTH_TOKEN is reserved"),
            ("/sandbox/create", with(["user_env_vars": ["COUNT": 3]]), 400, "user_env_vars.COUNT: expected a string"),
            ("/sandbox/create", with(["user_env_vars": ["BIG": String(repeating: "x", count: 9000)]]), 400, "user_env_vars.BIG: at most 8192 bytes"),
            ("/sandbox/create", with(["user_env_vars": Dictionary(uniqueKeysWithValues: (0..<101).map { ("V\($0)", "x") })]), 400,
             "user_env_vars: 101 variables; at most 100"),
            ("/sandbox/create", with(["user_env_vars": Dictionary(uniqueKeysWithValues: (0..<50).map { ("V\($0)", String(repeating: "x", count: 8000)) })]),
             400, "bytes in all; at most 327680"),
            ("/sandbox/restore", restoreWith(["user_env_vars": ["HOME": "/tmp"]]), 400, "user_env_vars: HOME is reserved"),
            ("/sandbox/create", with(["session_id": nil]), 400, "session_id: required"),
            ("/sandbox/create", with(["session_id": ""]), 400, "session_id: must not be empty"),
            ("/sandbox/create", with(["session_id": "a/b"]), 400, "session_id: only letters, digits"),
            ("/sandbox/create", with(["session_id": String(repeating: "s", count: 200)]), 400, "session_id: 200 bytes is over the limit of 128"),
            ("/sandbox/create", with(["sandbox_id": 42]), 400, "sandbox_id: expected a string"),
            ("/sandbox/create", with(["repo_owner": "../etc"]), 400, "repo_owner: only letters"),
            ("/sandbox/create", with(["repo_name": "-rf"]), 400, "repo_name: only letters"),
            ("/sandbox/create", with(["sandbox_auth_token": "has space"]), 400, "sandbox_auth_token: printable ASCII"),
            ("/sandbox/create", with(["control_plane_url": nil]), 400, "control_plane_url: required"),
            ("/sandbox/create", with(["control_plane_url": "ftp://127.0.0.1:\(world.runtime.port)"]), 400, "scheme must be http or https"),
            ("/sandbox/create", with(["control_plane_url": world.controlPlaneURL + "/api?x=1"]), 400, "no query"),
            ("/sandbox/create", with(["control_plane_url": world.controlPlaneURL + "/a/../b"]), 400, "path \"/a/../b\""),
            ("/sandbox/create", with(["control_plane_url": "http://me:pw@127.0.0.1:\(world.runtime.port)"]), 400, "credentials"),
            ("/sandbox/create", with(["control_plane_url": "not a url"]), 400, "control_plane_url"),
            ("/sandbox/create", with(["agent": "bogus"]), 400, "agent: shell or opencode"),
            ("/sandbox/create", with(["git_user_name": "Alice\nEvil"]), 400, "git_user_name: must not contain control characters"),
            ("/sandbox/create", with(["model": String(repeating: "m", count: 300)]), 400, "model: 300 bytes is over the limit of 256"),
            ("/sandbox/snapshot", json(["sandbox_id": "sandbox-1", "session_id": "s", "reason": "x"]), 400, "is not a handle of this provider"),
            ("/sandbox/snapshot", json(["sandbox_id": "local-0000000000000000", "reason": "x"]), 400, "session_id: required"),
            ("/sandbox/snapshot", json(["sandbox_id": "local-0000000000000000", "session_id": "s"]), 404, "no sandbox local-0000000000000000"),
            ("/sandbox/restore", restoreWith(["snapshot_image_id": "snap-zz"]), 400, "snapshot_image_id: \"snap-zz\" is not a snapshot id"),
            ("/sandbox/restore", restoreWith(["session_config": nil]), 400, "session_config: required"),
            ("/sandbox/restore", restoreWith(["session_config": "x"]), 400, "session_config: expected an object"),
            ("/sandbox/restore", restoreWith(["session_config": ["session_id": "s", "repo_name": "w"]]), 400, "session_config.repo_owner: required"),
            ("/sandbox/restore", restoreWith([:]), 404, "no snapshot snap-"),
            ("/sandbox/terminate", json([:]), 400, "sandbox_id: required"),
            ("/sandbox/terminate", json(["sandbox_id": "local-0000000000000000"]), 404, "no sandbox local-0000000000000000"),
        ]
        for item in cases {
            let response = try await world.post(item.route, bytes: item.body)
            #expect(response.status == item.status, "\(item.route) \(item.says): \(response.status) \(response.text)")
            let error = ProviderWorld.error(response) ?? ""
            #expect(error.contains(item.says), "\(item.route): expected \"\(item.says)\" in \(response.text)")
        }
        #expect(FileManager.default.fileExists(atPath: world.sandboxRoot + "/sandboxes"))
        #expect(try FileManager.default.contentsOfDirectory(atPath: world.sandboxRoot + "/sandboxes").isEmpty, "a refused create left a folder")
    }

    @Test("control_plane_url must be on ALLOWED_CONTROL_PLANE_HOSTS (host and port)")
    func allowList() async throws {
        let world = try world
        let port = world.runtime.port
        let allowID = "sandbox-acme-widgets-allow-" + ProviderWorld.uniqueSuffix()
        for url in ["http://example.invalid:\(port)", "http://127.0.0.1:\(port == 1 ? 2 : 1)", "http://localhost:\(port)",
                    "https://127.0.0.1"] {
            var body = world.createBody(session: "session-allow", sandboxID: allowID)
            body["control_plane_url"] = url
            let response = try await world.post("/sandbox/create", body)
            #expect(response.status == 400, "\(url): \(response.text)")
            #expect(ProviderWorld.error(response)?.contains("is not in ALLOWED_CONTROL_PLANE_HOSTS") == true, "\(url): \(response.text)")
        }
        #expect(ProviderWorld.processes(of: allowID).isEmpty)
    }

    @Test("a repository that does not clone is a 500 with git's reason, and leaves nothing behind")
    func cloneFailure() async throws {
        let world = try world
        let missingID = "sandbox-acme-missing-" + ProviderWorld.uniqueSuffix()
        let response = try await world.post("/sandbox/create", world.createBody(session: "session-missing", sandboxID: missingID,
                                                                                repo: "missing"))
        #expect(response.status == 500, "\(response.text)")
        #expect(ProviderWorld.error(response)?.contains("git clone failed") == true, "\(response.text)")
        #expect(ProviderWorld.processes(of: missingID).isEmpty)
        #expect(try FileManager.default.contentsOfDirectory(atPath: world.sandboxRoot + "/sandboxes").isEmpty)
    }

    @Test("a bridge that exits at once fails the create with what it said, and leaves nothing behind")
    func bridgeFailsAtStart() async throws {
        let world = try world
        let sandboxID = "sandbox-acme-crashing-" + ProviderWorld.uniqueSuffix()
        let response = try await world.post("/sandbox/create", world.createBody(session: "session-crash", sandboxID: sandboxID,
                                                                                repo: ProviderWorld.crashingRepository))
        #expect(response.status == 500, "\(response.text)")
        let error = ProviderWorld.error(response) ?? ""
        #expect(error.contains("the bridge exited as it started"), "\(response.text)")
        #expect(error.contains(ProviderWorld.crashingBridgeSays), "\(response.text)")
        #expect(ProviderWorld.processes(of: sandboxID).isEmpty)
        #expect(try FileManager.default.contentsOfDirectory(atPath: world.sandboxRoot + "/sandboxes").isEmpty)
    }

    @Test("create clones and starts the bridge with exactly the contract's environment; snapshot, restore, terminate")
    func lifecycle() async throws {
        let world = try world
        let session = "session-" + UUID().uuidString.prefix(8).lowercased()
        let sandboxID = "sandbox-acme-widgets-" + ProviderWorld.uniqueSuffix()
        let created = try await world.post("/sandbox/create", world.createBody(session: session, sandboxID: sandboxID))
        let data = try #require(ProviderWorld.data(created), "\(created.status) \(created.text)")
        #expect(created.status == 200)
        #expect(data["sandbox_id"] as? String == sandboxID)
        #expect(data["status"] as? String == "warming")
        #expect((data["created_at"] as? NSNumber).map { $0.int64Value > 1_700_000_000_000 } == true, "\(data)")
        #expect((data["tunnel_urls"] as? [String: Any])?.isEmpty == true)
        let handle = try #require(data["modal_object_id"] as? String)
        #expect(ProviderWorld.matches(handle, prefix: "local-", hexCount: 16), "\(handle)")

        // The bridge got the contract's names and nothing else, and no secret.
        let environment = try await world.bridgeEnvironment(handle, sandboxID: sandboxID)
        #expect(Set(environment.keys) == ProviderWorld.contractNames, "\(environment.keys.sorted())")
        let bubblewrap = environment["WORKSPACE"] == "/workspace"
        #expect(environment["WORKSPACE"] == (bubblewrap ? "/workspace" : world.workspace(handle)))
        #expect(environment["SANDBOX_ID"] == sandboxID)
        #expect(environment["SESSION_ID"] == session)
        #expect(environment["CONTROL_PLANE_URL"] == world.controlPlaneURL)
        #expect(environment["SANDBOX_AUTH_TOKEN"] == "token-" + sandboxID)
        #expect(environment["REPO_OWNER"] == "acme")
        #expect(environment["REPO_NAME"] == "widgets")
        #expect(environment["AGENT"] == "shell")
        #expect(environment["HEARTBEAT_INTERVAL_SECONDS"] == "30")
        #expect(environment["GIT_PUSH_URL_TEMPLATE"] == "https://x-access-token:{token}@github.com/{owner}/{name}.git")
        for (name, value) in environment { #expect(!value.contains(world.secret), "\(name) carries the API secret") }
        let config = try #require(try JSONSerialization.jsonObject(with: Data((environment["SESSION_CONFIG"] ?? "").utf8)) as? [String: Any])
        #expect(config["session_id"] as? String == session)
        #expect(config["repo_owner"] as? String == "acme")
        #expect(config["repo_name"] as? String == "widgets")
        #expect(config["provider"] as? String == "anthropic")
        #expect(config["model"] as? String == "claude-haiku-4-5")
        #expect((config["git_user"] as? [String: Any])?["name"] as? String == "Alice Example")
        #expect((config["git_user"] as? [String: Any])?["email"] as? String == "alice@example.com")
        #expect(world.workspaceFile(handle, ProviderWorld.directoryFile + "-" + sandboxID)?.trimmingCharacters(in: .newlines) == environment["WORKSPACE"])

        // The checkout: the repository's file, the session's branch, the git identity.
        #expect(world.workspaceFile(handle, "README.md") == world.readme)
        #expect(try ProviderWorld.git(["-C", world.workspace(handle), "rev-parse", "--abbrev-ref", "HEAD"]) == "dispatch/" + session)
        #expect(try ProviderWorld.git(["-C", world.workspace(handle), "config", "user.email"]) == "alice@example.com")

        // Its processes, and what they can see.
        let processes = ProviderWorld.processes(of: sandboxID)
        #expect(!processes.isEmpty)
        let identities = processes.compactMap(ProviderWorld.identity)
        let probe = world.workspaceFile(handle, ProviderWorld.probeFile + "-" + sandboxID) ?? ""
        if bubblewrap {
            let ours = ProviderWorld.pidNamespace(getpid())
            #expect(processes.contains { ProviderWorld.pidNamespace($0) != ours }, "no sandbox process in a pid namespace of its own")
            let libraries = try #require(ProviderWorld.swiftLibraryDirectory())
            #expect(probe.contains("visible \(libraries)"), "the Swift runtime libraries are missing in the sandbox: \(probe)")
            for path in world.probedPaths where path != libraries {
                #expect(probe.contains("hidden \(path)"), "\(path) is visible in the sandbox: \(probe)")
            }
        }

        // The agent's work, then a snapshot of it.
        let note = "note " + UUID().uuidString
        try note.write(toFile: world.workspace(handle) + "/agent-note.txt", atomically: true, encoding: .utf8)
        let otherSession = try await world.post("/sandbox/snapshot", ["sandbox_id": handle, "session_id": "someone-else", "reason": "x"])
        #expect(otherSession.status == 400, "\(otherSession.text)")
        let snapshot = try await world.post("/sandbox/snapshot", ["sandbox_id": handle, "session_id": session, "reason": "execution_complete"])
        let snapshotData = try #require(ProviderWorld.data(snapshot), "\(snapshot.status) \(snapshot.text)")
        let imageID = try #require(snapshotData["image_id"] as? String)
        #expect(ProviderWorld.matches(imageID, prefix: "snap-", hexCount: 32), "\(imageID)")
        #expect(snapshotData["sandbox_id"] as? String == handle)
        #expect(snapshotData["session_id"] as? String == session)
        #expect(snapshotData["reason"] as? String == "execution_complete")

        // Restore: a new sandbox from the archive, told it was restored.
        let restoredID = sandboxID + "-restored"
        let restore = try await world.post("/sandbox/restore", [
            "snapshot_image_id": imageID,
            "session_config": ["session_id": session, "repo_owner": "acme", "repo_name": "widgets", "provider": "anthropic",
                               "model": "claude-haiku-4-5", "agent": "opencode"],
            "sandbox_id": restoredID, "control_plane_url": world.controlPlaneURL + "/api/", "sandbox_auth_token": "token-restored",
        ])
        let restoreData = try #require(ProviderWorld.data(restore), "\(restore.status) \(restore.text)")
        #expect(restoreData["sandbox_id"] as? String == restoredID)
        #expect(restoreData["status"] as? String == "warming")
        #expect((restoreData["tunnel_urls"] as? [String: Any])?.isEmpty == true)
        let restored = try #require(restoreData["modal_object_id"] as? String)
        #expect(restored != handle)
        let restoredEnvironment = try await world.bridgeEnvironment(restored, sandboxID: restoredID)
        #expect(Set(restoredEnvironment.keys) == ProviderWorld.contractNames.union(["RESTORED_FROM_SNAPSHOT", "OPENCODE_URL"]),
                "\(restoredEnvironment.keys.sorted())")
        #expect(restoredEnvironment["RESTORED_FROM_SNAPSHOT"] == "true")
        #expect(restoredEnvironment["AGENT"] == "opencode")
        #expect(restoredEnvironment["OPENCODE_URL"] == "http://127.0.0.1:4096")
        #expect(restoredEnvironment["SANDBOX_ID"] == restoredID)
        #expect(restoredEnvironment["SANDBOX_AUTH_TOKEN"] == "token-restored")
        #expect(restoredEnvironment["CONTROL_PLANE_URL"] == world.controlPlaneURL + "/api", "a path prefix is kept, without its trailing slash")
        #expect(world.workspaceFile(restored, "agent-note.txt") == note)
        #expect(world.workspaceFile(restored, "README.md") == world.readme)
        #expect(try ProviderWorld.git(["-C", world.workspace(restored), "rev-parse", "--abbrev-ref", "HEAD"]) == "dispatch/" + session)

        // Terminate kills the first sandbox's processes and removes its folder; the restored one lives on.
        let terminated = try await world.post("/sandbox/terminate", ["sandbox_id": handle])
        #expect(ProviderWorld.data(terminated)?["status"] as? String == "terminated", "\(terminated.text)")
        #expect(ProviderWorld.data(terminated)?["sandbox_id"] as? String == handle)
        try await ProviderWorld.waitUntil("the processes of \(handle) are gone") {
            ProviderWorld.processes(of: sandboxID).isEmpty && identities.allSatisfy { !ProviderWorld.exists($0) }
        }
        try await ProviderWorld.waitUntil("the folder of \(handle) is removed") {
            !FileManager.default.fileExists(atPath: world.sandboxDirectory(handle))
        }
        #expect(!ProviderWorld.processes(of: restoredID).isEmpty)
        let again = try await world.post("/sandbox/terminate", ["sandbox_id": handle])
        #expect(again.status == 200, "terminate is idempotent: \(again.text)")
        let late = try await world.post("/sandbox/snapshot", ["sandbox_id": handle, "session_id": session, "reason": "late"])
        #expect(late.status == 404)
        #expect(ProviderWorld.error(late)?.contains("has ended (terminated)") == true, "\(late.text)")

        let second = try await world.post("/sandbox/terminate", ["sandbox_id": restored])
        #expect(second.status == 200, "\(second.text)")
        try await ProviderWorld.waitUntil("the processes of \(restored) are gone") { ProviderWorld.processes(of: restoredID).isEmpty }
        try await ProviderWorld.waitUntil("the folder of \(restored) is removed") {
            FileManager.default.fileExists(atPath: world.sandboxDirectory(restored)) == false
        }
        let health = try await world.runtime.request("GET", "/sandbox-provider/health")
        #expect((ProviderWorld.data(health)?["sandboxes"] as? NSNumber)?.intValue == 0, "\(health.text)")
    }
}
