import Foundation
import RuntimeAPI
import Testing

/// The control plane on a real runtime, without sandboxes: the service auth gate, the REST routes
/// and the session index, and the client WebSocket protocol (reference §1.1, §1.2, §1.7, §1.9).
@Suite("Control plane", .serialized, .timeLimit(.minutes(5)))
struct ControlPlaneTests {
    /// The provider URL points at a port nobody listens on: spawns fail fast and visibly.
    static func world() async throws -> ControlPlaneWorld {
        try await offPool { try ControlPlaneWorld(controlPlaneVars: ["SANDBOX_PROVIDER_URL": "http://127.0.0.1:9/none",
                                                 "SUBSCRIBE_TIMEOUT_MS": "1500"]) }
    }

    @Test("service auth: /health is public; missing, malformed, wrong and expired tokens get 401; CORS on every answer")
    func serviceAuth() async throws {
        let world = try await Self.world()
        defer { world.stop() }
        let health = try await world.runtime.request("GET", "/api/health")
        #expect(health.status == 200)
        #expect((health.json as? [String: Any])?["service"] as? String == "dispatch-control-plane")
        #expect(health.headers["access-control-allow-origin"] == "*")

        let now = Int64(Date().timeIntervalSince1970 * 1000)
        let refused: [(String?, String)] = [
            (nil, "missing"),
            ("Bearer nonsense", "malformed"),
            ("Bearer \(now).00ff", "signature"),
            (ServiceToken.header(secret: "not the secret"), "signature"),
            (ServiceToken.header(secret: world.internalSecret, at: now - 6 * 60 * 1000), "expired"),
            (ServiceToken.header(secret: world.internalSecret, at: now + 6 * 60 * 1000), "expired"),
        ]
        for (header, reason) in refused {
            var headers: [String: String] = [:]
            if let header { headers["Authorization"] = header }
            let response = try await world.runtime.request("GET", "/api/sessions", headers: headers)
            #expect(response.status == 401, "\(header ?? "none")")
            #expect(response.text.contains(reason), "\(header ?? "none"): \(response.text)")
            #expect(response.headers["access-control-allow-origin"] == "*")
        }
        let preflight = try await world.runtime.request("OPTIONS", "/api/sessions")
        #expect(preflight.status == 204)
        #expect(preflight.headers["access-control-allow-methods"]?.contains("DELETE") == true)
        #expect(try await world.call("GET", "/sessions").status == 200)
    }

    @Test("sessions: create, get, list newest-activity first with paging and a status filter, archive, delete")
    func sessionsREST() async throws {
        let world = try await Self.world()
        defer { world.stop() }
        let bad = try await world.call("POST", "/sessions", json: ["repoOwner": "acme"])
        #expect(bad.status == 400 && bad.text.contains("repoName"), "\(bad.text)")
        let malformed = try await world.runtime.request(
            "POST", "/api/sessions", headers: ["Authorization": ServiceToken.header(secret: world.internalSecret)],
            body: Array("{not json".utf8))
        #expect(malformed.status == 400 && malformed.text.contains("invalid JSON"), "\(malformed.text)")
        for branch in ["../etc", "-x", "a..b", "feature/", "has space", "x.lock"] {
            let refused = try await world.call("POST", "/sessions", json: ["repoOwner": "acme", "repoName": "widgets", "baseBranch": branch])
            #expect(refused.status == 400 && refused.text.contains("baseBranch"), "\(branch): \(refused.text)")
        }
        let onBranch = try await world.call("POST", "/sessions", json: ["repoOwner": "acme", "repoName": "widgets",
                                                                       "baseBranch": "release/2.x"])
        let onBranchID = try #require((onBranch.json as? [String: Any])?["sessionId"] as? String, "\(onBranch.text)")
        #expect((try await world.call("GET", "/sessions/\(onBranchID)").json as? [String: Any])?["baseBranch"] as? String == "release/2.x")
        #expect(try await world.call("DELETE", "/sessions/\(onBranchID)").status == 200)

        let first = try await world.createSession(title: "First")
        let second = try await world.createSession(owner: "Acme", name: "Gadgets", title: "Second")
        let third = try await world.createSession(title: "Third")

        let state = try await world.call("GET", "/sessions/\(second)")
        let session = state.json as? [String: Any]
        #expect(session?["repoOwner"] as? String == "acme", "owner is lowercased")
        #expect(session?["repoName"] as? String == "gadgets")
        #expect(session?["status"] as? String == "created")
        #expect(session?["model"] as? String == "claude-haiku-4-5")
        #expect((session?["sandbox"] as? [String: Any])?["status"] as? String == "pending")
        #expect(try await world.call("GET", "/sessions/nope").status == 404)

        // A prompt makes the first session the most recently active.
        try await Task.sleep(for: .milliseconds(5))
        let prompt = try await world.call("POST", "/sessions/\(first)/prompt", json: ["content": "echo hi", "authorId": "bob"])
        #expect(prompt.status == 200, "\(prompt.text)")
        #expect((prompt.json as? [String: Any])?["status"] as? String == "queued")
        let listed = try await world.call("GET", "/sessions").json as? [String: Any]
        let ids = (listed?["sessions"] as? [[String: Any]])?.compactMap { $0["id"] as? String }
        #expect(ids == [first, third, second], "\(String(describing: ids))")
        #expect((listed?["sessions"] as? [[String: Any]])?.first?["status"] as? String == "active")

        let page = try await world.call("GET", "/sessions?limit=2").json as? [String: Any]
        #expect((page?["sessions"] as? [Any])?.count == 2)
        #expect(page?["hasMore"] as? Bool == true)
        let cursor = try #require(page?["cursor"] as? String)
        let rest = try await world.call("GET", "/sessions?limit=2&cursor=\(cursor)").json as? [String: Any]
        #expect((rest?["sessions"] as? [[String: Any]])?.compactMap { $0["id"] as? String } == [second])
        #expect(rest?["hasMore"] as? Bool == false)

        #expect(try await world.call("POST", "/sessions/\(third)/archive", json: [:]).status == 200)
        let archived = try await world.call("GET", "/sessions?status=archived").json as? [String: Any]
        #expect((archived?["sessions"] as? [[String: Any]])?.compactMap { $0["id"] as? String } == [third])
        #expect(try await world.call("POST", "/sessions/\(third)/prompt", json: ["content": "x"]).status == 409)
        #expect(try await world.call("POST", "/sessions/\(third)/unarchive", json: [:]).status == 200)

        let messages = try await world.call("GET", "/sessions/\(first)/messages").json as? [String: Any]
        let message = (messages?["messages"] as? [[String: Any]])?.first
        #expect(message?["content"] as? String == "echo hi")
        #expect(message?["source"] as? String == "web")
        let participants = try await world.call("GET", "/sessions/\(first)/participants").json as? [String: Any]
        let users = (participants?["participants"] as? [[String: Any]])?.compactMap { $0["userId"] as? String }
        #expect(users == ["alice", "bob"], "the owner, then the REST prompt's author")

        #expect(try await world.call("DELETE", "/sessions/\(second)").status == 200)
        #expect(try await world.call("GET", "/sessions/\(second)").status == 404)
        let afterDelete = try await world.call("GET", "/sessions").json as? [String: Any]
        #expect((afterDelete?["sessions"] as? [[String: Any]])?.count == 2)
    }

    @Test("agent secrets: names and times are listed, values never; stored sealed; bad names, reserved names, empty or oversized values and a full scope are refused")
    func agentSecrets() async throws {
        let world = try await Self.world()
        defer { world.stop() }
        let value = "s3cret-" + UUID().uuidString
        let created = try await world.call("PUT", "/secrets/NPM_TOKEN", json: ["value": value])
        #expect(created.status == 201, "\(created.text)")
        #expect(try await world.call("PUT", "/secrets/NPM_TOKEN", json: ["value": value + "2"]).status == 200, "replaced")
        #expect(try await world.call("PUT", "/repos/Acme/Widgets/secrets/DEPLOY_KEY", json: ["value": value]).status == 201)
        let global = try await world.call("GET", "/secrets")
        #expect(!global.text.contains(value), "values are never listed")
        #expect(((global.json as? [String: Any])?["secrets"] as? [[String: Any]])?.compactMap { $0["name"] as? String } == ["NPM_TOKEN"])
        let repo = try await world.call("GET", "/repos/acme/widgets/secrets").json as? [String: Any]
        #expect((repo?["secrets"] as? [[String: Any]])?.compactMap { $0["name"] as? String } == ["DEPLOY_KEY"], "owner/name lowercased")
        #expect(!(try WebAppTests.stateBytes(world.runtime.stateDirectory)).contains(value), "stored sealed")

        let refusals: [(String, [String: Any], Int, String)] = [
            ("/secrets/npm_token", ["value": "x"], 400, "capital letters"),
            ("/secrets/9LIVES", ["value": "x"], 400, "not starting with a digit"),
            ("/secrets/SANDBOX_AUTH_TOKEN", ["value": "x"], 400, "reserved"),
            ("/secrets/PATH", ["value": "x"], 400, "reserved"),
            ("/secrets/EMPTY", ["value": ""], 400, "value: 1 to"),
            ("/secrets/HUGE", ["value": String(repeating: "x", count: 4097)], 400, "value: 1 to 4096"),
            ("/secrets/NOVALUE", [:], 400, "value is required"),
            ("/repos/acme/..%2F/secrets/X", ["value": "x"], 400, "owner/name"),
        ]
        for (path, body, status, reason) in refusals {
            let response = try await world.call("PUT", path, json: body)
            #expect(response.status == status && response.text.contains(reason), "\(path): \(response.status) \(response.text)")
        }
        #expect(try await world.call("DELETE", "/secrets/NOPE").status == 404)
        #expect(try await world.call("DELETE", "/secrets/NPM_TOKEN").status == 200)
        #expect(((try await world.call("GET", "/secrets").json as? [String: Any])?["secrets"] as? [Any])?.isEmpty == true)

        // A scope holds at most 32; replacing one in a full scope still works.
        for index in 0..<32 {
            #expect(try await world.call("PUT", "/secrets/FILL_\(index)", json: ["value": "v"]).status == 201)
        }
        let full = try await world.call("PUT", "/secrets/ONE_MORE", json: ["value": "v"])
        #expect(full.status == 409 && full.text.contains("at most 32"), "\(full.text)")
        #expect(try await world.call("PUT", "/secrets/FILL_0", json: ["value": "w"]).status == 200)
        #expect(try await world.call("PUT", "/repos/acme/gadgets/secrets/ONE_MORE", json: ["value": "v"]).status == 201, "scopes are apart")
    }

    @Test("a sealed agent secret is bound to its scope and name: one copied into another row does not open there and the sandbox start names it; one sealed before the binding still opens")
    func agentSecretBinding() async throws {
        let world = try await Self.world()
        defer { world.stop() }
        #expect(try await world.call("PUT", "/secrets/NPM_TOKEN", json: ["value": "global value"]).status == 201)
        #expect(try await world.call("PUT", "/repos/acme/widgets/secrets/DEPLOY_KEY", json: ["value": "repo value"]).status == 201)
        try await offPool { world.runtime.shutDown() }

        // With the runtime stopped: the repository's ciphertext copied over the global one, and a row
        // the way the control plane sealed values before they were bound (no prefix, no associated data).
        let script = """
            import base64, glob, os, sqlite3, sys
            from cryptography.hazmat.primitives.ciphers.aead import AESGCM
            key = base64.b64decode(sys.argv[2])
            iv = os.urandom(12)
            legacy = base64.b64encode(iv + AESGCM(key).encrypt(iv, b"sealed before binding", None)).decode()
            edited = 0
            for path in glob.glob(sys.argv[1] + "/**/*.sqlite", recursive=True):
                db = sqlite3.connect(path)
                if db.execute("SELECT count(*) FROM sqlite_master WHERE name = 'agent_secrets'").fetchone()[0]:
                    db.execute("UPDATE agent_secrets SET value_sealed = (SELECT value_sealed FROM agent_secrets "
                               "WHERE name = 'DEPLOY_KEY') WHERE name = 'NPM_TOKEN'")
                    db.execute("INSERT INTO agent_secrets VALUES ('global', 'LEGACY', ?, 0, 0)", (legacy,))
                    db.commit()
                    edited += 1
                db.close()
            print(edited)
            """
        let edited = try Fixtures.run(["python3", "-c", script, world.runtime.stateDirectory, world.encryptionKey])
        #expect(edited.trimmingCharacters(in: .whitespacesAndNewlines) == "1", "one database holds the secrets: \(edited)")

        let restarted = try await offPool { try ControlPlaneWorld(restarting: world) }
        defer { restarted.stop() }
        let session = try await restarted.createSession()
        let alice = try await restarted.subscribedClient(session, userId: "alice")
        try alice.send(["type": "prompt", "content": "echo hi"])
        // Global secrets are read in name order: LEGACY opens, then NPM_TOKEN does not.
        let failure = try await alice.next("sandbox_error", timeout: .seconds(30))
        let error = failure["error"] as? String ?? ""
        #expect(error.contains("agent secret NPM_TOKEN (global) does not open") && !error.contains("LEGACY"), "\(error)")
        #expect(!error.contains("repo value") && !error.contains("global value"), "no value in the error")
    }

    @Test("automations: a schedule's next run (interval, daily, weekdays); a due run starts a session with the prompt from the alarm; edit (PUT); run now, pause, resume, delete; bad schedules are refused")
    func automations() async throws {
        let world = try await Self.world()
        defer { world.stop() }
        let base: [String: Any] = ["title": "Nightly deps", "repoOwner": "Acme", "repoName": "widgets", "prompt": "echo bump deps"]
        let refusals: [([String: Any], String)] = [
            (["schedule": ["kind": "hourly"]], "schedule.kind"),
            (["schedule": ["kind": "interval", "everyMinutes": 2]], "schedule.everyMinutes: 5 to"),
            (["schedule": ["kind": "daily", "time": "9:30"]], "schedule.time: HH:MM"),
            (["schedule": ["kind": "daily", "time": "24:00"]], "schedule.time"),
            (["schedule": ["kind": "daily", "time": "09:30"], "prompt": ""], "prompt is required"),
            (["schedule": ["kind": "daily", "time": "09:30"], "baseBranch": "../x"], "baseBranch"),
            (["schedule": ["kind": "daily", "time": "09:30"], "startAt": 5], "startAt"),
        ]
        for (change, reason) in refusals {
            let response = try await world.call("POST", "/automations", json: base.merging(change) { $1 })
            #expect(response.status == 400 && response.text.contains(reason), "\(change): \(response.text)")
        }

        // Daily at 09:30 UTC: the next 09:30 after now. Weekdays skip Saturday and Sunday.
        let now = Int64(Date().timeIntervalSince1970 * 1000)
        let daily = try await world.call("POST", "/automations", json: base.merging(["schedule": ["kind": "daily", "time": "09:30"]]) { $1 })
        #expect(daily.status == 201, "\(daily.text)")
        let dailyNext = try #require((daily.json as? [String: Any])?["nextRunAt"] as? Int64)
        let day: Int64 = 86_400_000
        let todayAt = now / day * day + (9 * 60 + 30) * 60_000
        #expect(dailyNext == (todayAt > now ? todayAt : todayAt + day), "\(dailyNext)")
        #expect((daily.json as? [String: Any])?["scheduleSummary"] as? String == "daily at 09:30 UTC")
        // Editing replaces what it does; the next run moves only with the schedule.
        let dailyID = try #require((daily.json as? [String: Any])?["id"] as? String)
        let reworded = try await world.call("PUT", "/automations/\(dailyID)", json: base.merging([
            "prompt": "echo bump all deps", "schedule": ["kind": "daily", "time": "09:30"], "baseBranch": "develop"]) { $1 })
        let rewordedJSON = reworded.json as? [String: Any]
        #expect(reworded.status == 200 && rewordedJSON?["id"] as? String == dailyID, "\(reworded.text)")
        #expect(rewordedJSON?["prompt"] as? String == "echo bump all deps" && rewordedJSON?["baseBranch"] as? String == "develop")
        #expect(rewordedJSON?["nextRunAt"] as? Int64 == dailyNext, "the same schedule keeps its next run")
        let moved = try await world.call("PUT", "/automations/\(dailyID)", json: base.merging([
            "schedule": ["kind": "interval", "everyMinutes": 90]]) { $1 }).json as? [String: Any]
        let movedNext = try #require(moved?["nextRunAt"] as? Int64)
        #expect(moved?["scheduleSummary"] as? String == "every 90 minutes", "\(moved ?? [:])")
        #expect(movedNext >= now + 90 * 60_000 && movedNext <= now + 91 * 60_000, "a new schedule runs next at its first time after now: \(movedNext)")
        #expect(moved?["baseBranch"] is NSNull, "a field left out is cleared, as PUT replaces")
        let badEdit = try await world.call("PUT", "/automations/\(dailyID)", json: base.merging(["schedule": ["kind": "hourly"]]) { $1 })
        #expect(badEdit.status == 400 && badEdit.text.contains("schedule.kind"), "\(badEdit.text)")
        let unchanged = try await world.call("GET", "/automations/\(dailyID)").json as? [String: Any]
        #expect(unchanged?["nextRunAt"] as? Int64 == movedNext && unchanged?["createdBy"] as? String == "api", "a refused edit changes nothing")
        let missing = try await world.call("PUT", "/automations/nope", json: base.merging(["schedule": ["kind": "daily", "time": "09:30"]]) { $1 })
        #expect(missing.status == 404, "\(missing.text)")

        let weekdays = try await world.call("POST", "/automations", json: base.merging(["schedule": ["kind": "weekdays", "time": "00:00"]]) { $1 })
        let weekdayNext = try #require((weekdays.json as? [String: Any])?["nextRunAt"] as? Int64)
        let weekday = (weekdayNext / day + 4) % 7
        #expect(weekdayNext > now && weekdayNext % day == 0 && weekday != 0 && weekday != 6, "a weekday midnight: \(weekdayNext)")

        // Due in a second: the alarm starts a session on the repository with the prompt, then schedules the next run.
        let soonAt = Int64(Date().timeIntervalSince1970 * 1000) + 1000
        let soon = try await world.call("POST", "/automations", json: base.merging([
            "title": "Soon", "schedule": ["kind": "interval", "everyMinutes": 60], "startAt": soonAt, "baseBranch": "develop"]) { $1 })
        let soonID = try #require((soon.json as? [String: Any])?["id"] as? String, "\(soon.text)")
        var ran: [String: Any] = [:]
        for _ in 0..<100 where ran["lastSessionId"] as? String == nil {
            try await Task.sleep(for: .milliseconds(100))
            ran = try await world.call("GET", "/automations/\(soonID)").json as? [String: Any] ?? [:]
        }
        let session = try #require(ran["lastSessionId"] as? String, "the alarm ran the automation: \(ran)")
        #expect(ran["lastRunAt"] as? Int64 == soonAt)
        #expect(ran["nextRunAt"] as? Int64 == soonAt + 60 * 60_000, "the next run is an interval later: \(ran)")
        let state = try await world.call("GET", "/sessions/\(session)").json as? [String: Any]
        #expect(state?["title"] as? String == "Soon" && state?["repoName"] as? String == "widgets" && state?["baseBranch"] as? String == "develop")
        let messages = try await world.call("GET", "/sessions/\(session)/messages").json as? [String: Any]
        #expect((messages?["messages"] as? [[String: Any]])?.compactMap { $0["content"] as? String } == ["echo bump deps"])
        let listed = try await world.call("GET", "/sessions").json as? [String: Any]
        #expect((listed?["sessions"] as? [[String: Any]])?.contains { $0["id"] as? String == session } == true, "the run's session is listed")

        // Run now, pause, resume, delete.
        let manual = try await world.call("POST", "/automations/\(soonID)/run", json: [:])
        let manualSession = try #require((manual.json as? [String: Any])?["sessionId"] as? String, "\(manual.text)")
        #expect(manualSession != session)
        let paused = try await world.call("POST", "/automations/\(soonID)/pause", json: [:]).json as? [String: Any]
        #expect(paused?["enabled"] as? Bool == false)
        let resumed = try await world.call("POST", "/automations/\(soonID)/resume", json: [:]).json as? [String: Any]
        #expect(resumed?["enabled"] as? Bool == true && (resumed?["nextRunAt"] as? Int64 ?? 0) > now + 59 * 60_000)
        #expect(try await world.call("DELETE", "/automations/\(soonID)").status == 200)
        #expect(try await world.call("GET", "/automations/\(soonID)").status == 404)
        let remaining = try await world.call("GET", "/automations").json as? [String: Any]
        #expect((remaining?["automations"] as? [[String: Any]])?.count == 2)
    }

    @Test("a session database from before artifacts had a message_id column gets it when the session opens after a restart")
    func addedColumnMigration() async throws {
        let world = try await Self.world()
        defer { world.stop() }
        let id = try await world.createSession(title: "Old")
        #expect(try await world.call("GET", "/sessions/\(id)/artifacts").status == 200)
        try await offPool { world.runtime.shutDown() }

        // Make the session's database look like one an older control plane wrote.
        let script = """
            import glob, sqlite3, sys
            found = []
            for path in glob.glob(sys.argv[1] + "/**/*.sqlite", recursive=True):
                db = sqlite3.connect(path)
                columns = [row[1] for row in db.execute("SELECT * FROM pragma_table_info('artifacts')")]
                if sys.argv[2] == "drop" and "message_id" in columns:
                    db.execute("ALTER TABLE artifacts DROP COLUMN message_id")
                    db.commit()
                if columns:
                    found.append(",".join(sorted(columns)))
                db.close()
            print(";".join(found))
            """
        let state = world.runtime.stateDirectory
        let before = try Fixtures.run(["python3", "-c", script, state, "drop"]).trimmingCharacters(in: .whitespacesAndNewlines)
        #expect(before == "created_at,id,message_id,metadata,type,url", "one session database, with the column: \(before)")
        #expect(try Fixtures.run(["python3", "-c", script, state, "look"]).contains("message_id") == false, "the column was dropped")

        let restarted = try await offPool { try RuntimeWorld(stateDirectory: state) }
        defer { restarted.stop() }
        let artifacts = try await restarted.request("GET", "/api/sessions/\(id)/artifacts",
                                                    headers: ["Authorization": ServiceToken.header(secret: world.internalSecret)])
        #expect(artifacts.status == 200, "\(artifacts.text)")
        #expect((artifacts.json as? [String: Any])?["artifacts"] as? [Any] != nil, "\(artifacts.text)")
        try await offPool { restarted.shutDown() }
        let after = try Fixtures.run(["python3", "-c", script, state, "look"]).trimmingCharacters(in: .whitespacesAndNewlines)
        #expect(after == "created_at,id,message_id,metadata,type,url", "the column is back: \(after)")
    }

    @Test("client sockets: 4001 for a bad token, 4008 without subscribe, NOT_SUBSCRIBED, malformed frames answered, presence")
    func clientProtocol() async throws {
        let world = try await Self.world()
        defer { world.stop() }
        let session = try await world.createSession()

        let stranger = try await world.sockets.connect(world.webSocketURL(session))
        try stranger.send(["type": "prompt", "content": "hi"])
        let refused = try await stranger.next("error")
        #expect(refused["code"] as? String == "NOT_SUBSCRIBED")
        try stranger.send(["type": "subscribe", "token": "not-a-token"])
        #expect(try await stranger.waitForClose().code == 4001)

        let silent = try await world.sockets.connect(world.webSocketURL(session))
        // The deadline is 1.5 s; the wait is long because the Dispatch suites run side by side on two
        // cores, where one run saw this take over 10 s.
        let timedOut = try await silent.waitForClose(timeout: .seconds(30))
        #expect(timedOut.code == 4008)

        let alice = try await world.subscribedClient(session, userId: "alice")
        let subscribed = try await alice.next("subscribed")
        let state = subscribed["state"] as? [String: Any]
        #expect(state?["repoName"] as? String == "widgets")
        #expect(state?["isProcessing"] as? Bool == false)
        #expect((subscribed["participant"] as? [String: Any])?["name"] as? String == "Alice")
        #expect(alice.types.prefix(2) == ["subscribed", "history_complete"], "\(alice.types)")

        // Malformed frames get an error and harm nothing.
        for bad in ["{not json", "[1,2]", #"{"type": 5}"#, #"{"type":"no_such_type"}"#, String(repeating: "[", count: 200)] {
            let mark = alice.messages.count
            alice.sendText(bad)
            let error = try await alice.next("error", after: mark)
            #expect(error["code"] as? String == "INVALID_MESSAGE", "\(bad.prefix(20)): \(error)")
        }
        try alice.send(["type": "ping"])
        try await alice.next("pong")

        let bob = try await world.subscribedClient(session, userId: "bob")
        let update = try await alice.next("presence_update") { message in
            ((message["participants"] as? [[String: Any]]) ?? []).contains { $0["userId"] as? String == "bob" }
        }
        #expect((update["participants"] as? [Any])?.count == 2)
        let sync = try await bob.next("presence_sync")
        #expect((sync["participants"] as? [Any])?.count == 2)

        let mark = alice.messages.count
        bob.shutdown()
        let leave = try await alice.next("presence_leave", after: mark)
        #expect(leave["userId"] as? String == "bob")

        // A prompt with no provider reachable: queued, a spawn is tried, and the failure is reported.
        try alice.send(["type": "prompt", "content": "echo hello"])
        let queued = try await alice.next("prompt_queued")
        #expect(queued["position"] as? Int == 1)
        try await alice.next("sandbox_spawning")
        let failure = try await alice.next("sandbox_error")
        #expect((failure["error"] as? String)?.contains("sandbox provider unreachable") == true, "\(failure)")

        // The circuit breaker: after three failed spawns within five minutes, no fourth is tried.
        for attempt in 2...3 {
            let mark = alice.messages.count
            try alice.send(["type": "typing"])
            let next = try await alice.next("sandbox_error", after: mark)
            #expect((next["error"] as? String)?.contains("failed to start") == true, "attempt \(attempt): \(next)")
        }
        let beforePause = alice.messages.count
        try alice.send(["type": "typing"])
        let paused = try await alice.next("sandbox_error", after: beforePause)
        #expect((paused["error"] as? String)?.contains("retrying is paused") == true, "\(paused)")
        alice.shutdown()
    }
}
