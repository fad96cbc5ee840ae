import Foundation
import RuntimeAPI
import RuntimeCrypto
import Testing

/// The Slack bot (reference §3) on a real runtime, beside the real control plane, against fake Slack,
/// GitHub and Anthropic APIs over real HTTP: signed events and interactions, the mention flow, the
/// classifier, and the completion callback driven by a prompt finishing.
@Suite("Slack bot", .serialized, .timeLimit(.minutes(8)))
struct SlackBotTests {
    static func world(slackSecrets: Bool = true, anthropic: Bool = false, provider: Bool = false) async throws -> SlackBotWorld {
        try await offPool { try SlackBotWorld(slackSecrets: slackSecrets, anthropic: anthropic, provider: provider) }
    }

    /// Slack message timestamps, unique per test run.
    static func ts(_ n: Int) -> String { "\(SlackBotWorld.now()).\(String(format: "%06d", n))" }

    @Test("unconfigured: /health answers, /events and /interactions 503; then bad signatures, stale timestamps, malformed and oversized bodies are refused with no side effects; url_verification; a replayed event id does nothing, also when six deliveries race")
    func signaturesAndRefusals() async throws {
        let world = try await Self.world(slackSecrets: false)
        defer { world.stop() }

        let health = try await world.runtime.request("GET", "/slack/health")
        #expect(health.status == 200)
        let healthBody = health.json as? [String: Any]
        #expect(healthBody?["service"] as? String == "dispatch-slack-bot")
        #expect(healthBody?["status"] as? String == "healthy")
        #expect(healthBody?["repoCount"] as? Int == 2, "the fake GitHub installation has two repositories: \(health.text)")
        for path in ["/events", "/interactions"] {
            let refused = try await world.signedPost(path, body: Array(#"{"type":"url_verification","challenge":"c"}"#.utf8))
            #expect(refused.status == 503, "\(path): \(refused.text)")
            #expect(refused.text.contains("Slack is not configured"), "\(path): \(refused.text)")
        }

        try await offPool { try world.configureSlack() }
        let challenge = try await world.event(["type": "url_verification", "token": "legacy", "challenge": "3eZbrw1aBm2rZgRNFdxV"])
        #expect(challenge.status == 200)
        #expect((challenge.json as? [String: Any])?["challenge"] as? String == "3eZbrw1aBm2rZgRNFdxV")

        // Each refusal: what is sent, and the status it gets. None may reach Slack or the control plane.
        let mention = SlackBotWorld.envelope(SlackBotWorld.mention("<@U0BOT> fix the widgets login", channel: "C0GENERAL", ts: Self.ts(1)),
                                             id: "Ev0REFUSED")
        let good = Array(try JSONSerialization.data(withJSONObject: mention))
        let now = SlackBotWorld.now()
        func raw(_ headers: [String: String], _ body: [UInt8]) async throws -> TestHTTPResponse {
            try await world.runtime.request("POST", "/slack/events", headers: headers.merging(["Content-Type": "application/json"]) { a, _ in a },
                                            body: body)
        }
        let signedGood = SlackBotWorld.slackSignature(secret: world.signingSecret, timestamp: String(now), body: good)
        let cases: [(String, () async throws -> TestHTTPResponse, Int, String)] = [
            ("signed with another secret", { try await world.signedPost("/events", body: good, secret: "wrong") }, 401, "bad Slack signature"),
            ("body changed after signing", {
                try await raw(["X-Slack-Request-Timestamp": String(now), "X-Slack-Signature": signedGood], good + Array(" ".utf8))
            }, 401, "bad Slack signature"),
            ("timestamp 10 minutes old", { try await world.signedPost("/events", body: good, timestamp: now - 600) }, 401, "300 s"),
            ("timestamp 10 minutes ahead", { try await world.signedPost("/events", body: good, timestamp: now + 600) }, 401, "300 s"),
            ("no signature headers", { try await raw([:], good) }, 401, "missing"),
            ("timestamp not a number", { try await raw(["X-Slack-Request-Timestamp": "soon", "X-Slack-Signature": signedGood], good) },
             401, "Unix time"),
            ("another signature version", {
                try await raw(["X-Slack-Request-Timestamp": String(now), "X-Slack-Signature": "v1=" + signedGood.dropFirst(3)], good)
            }, 401, "bad Slack signature"),
            ("not JSON", { try await world.signedPost("/events", body: Array("{not json".utf8)) }, 400, "invalid JSON"),
            ("a JSON array", { try await world.signedPost("/events", body: Array("[1,2]".utf8)) }, 400, "expected a JSON object"),
            ("no event_id", { try await world.event(["type": "event_callback", "event": ["type": "app_mention"]]) }, 400, "event_id"),
            ("a mention without a channel", {
                try await world.event(SlackBotWorld.envelope(["type": "app_mention", "user": "U0ALICE", "text": "hi", "ts": Self.ts(2)],
                                                             id: "Ev0NOCHANNEL"))
            }, 400, "event.channel"),
            ("a channel id that is not one", {
                try await world.event(SlackBotWorld.envelope(SlackBotWorld.mention("<@U0BOT> hi", channel: "C0/../x", ts: Self.ts(3)),
                                                             id: "Ev0BADCHANNEL"))
            }, 400, "event.channel"),
            ("a body over 512 KiB", {
                try await world.signedPost("/events", body: Array(repeating: UInt8(ascii: " "), count: 512 * 1024 + 1))
            }, 413, "524288 bytes"),
            ("an interaction signed with another secret", {
                try await world.signedPost("/interactions", body: Array("payload=%7B%7D".utf8), contentType: "application/x-www-form-urlencoded",
                                           secret: "wrong")
            }, 401, "bad Slack signature"),
            ("an interaction without payload", {
                try await world.signedPost("/interactions", body: Array("nothing=here".utf8), contentType: "application/x-www-form-urlencoded")
            }, 400, "payload"),
            ("an interaction payload that is not JSON", {
                try await world.signedPost("/interactions", body: Array("payload=%7Bnope".utf8), contentType: "application/x-www-form-urlencoded")
            }, 400, "invalid JSON"),
            ("select_repo without a selection", {
                try await world.interaction(["type": "block_actions", "user": ["id": "U0ALICE"], "channel": ["id": "C0GENERAL"],
                                             "message": ["ts": Self.ts(4)], "actions": [["action_id": "select_repo"]]])
            }, 400, "selected_option"),
            ("select_model with an unknown model", {
                try await world.interaction(["type": "block_actions", "user": ["id": "U0ALICE"],
                                             "actions": [["action_id": "select_model", "selected_option": ["value": "gpt-2"]]]])
            }, 400, "unknown model"),
        ]
        for (name, send, status, reason) in cases {
            let response = try await send()
            #expect(response.status == status, "\(name): \(response.status) \(response.text)")
            #expect(response.text.contains(reason), "\(name): \(response.text)")
        }
        // Settle, then check nothing happened anywhere.
        try await Task.sleep(for: .seconds(1))
        #expect(try await world.slackCalls().isEmpty, "refused requests reached Slack")
        #expect(try await world.sessions().isEmpty, "refused requests started sessions")

        // A good delivery works (the refused one with the same id was never counted as seen)...
        let first = try await world.signedPost("/events", body: good)
        #expect(first.status == 200, "\(first.text)")
        try await world.slackCall { $0.slackMethod == "chat.postMessage" && $0.slackText.hasPrefix("Session started") }
        let sessions = try await world.sessions(count: 1)
        #expect(sessions.first?["repoName"] as? String == "widgets", "keyword scoring picked the repository named in the request")
        try await world.messages(sessions[0]["id"] as? String ?? "", count: 1)
        let callsAfterFirst = try await world.slackCalls().count

        // ...and its redelivery, freshly signed, is acknowledged and does nothing. A later event is the
        // barrier: once its work is visible, the replay's would have been too.
        let replay = try await world.signedPost("/events", body: good)
        #expect(replay.status == 200)
        let home = try await world.event(SlackBotWorld.envelope(["type": "app_home_opened", "user": "U0ALICE", "tab": "home"], id: "Ev0HOME"))
        #expect(home.status == 200)
        try await world.slackCall(after: callsAfterFirst) { $0.slackMethod == "views.publish" }
        try await Task.sleep(for: .seconds(1))
        let callsAfterReplay = try await world.slackCalls()
        #expect(callsAfterReplay.count == callsAfterFirst + 1, "only the App Home publish: \(callsAfterReplay.dropFirst(callsAfterFirst).map(\.slackMethod))")
        #expect(try await world.sessions().count == 1, "the replay started no second session")
        #expect(try await world.messages(sessions[0]["id"] as? String ?? "").count == 1, "the replay sent no second prompt")

        // Deliveries of one event that race (a retry while the first is still in flight) are handled once.
        let racing = Array(try JSONSerialization.data(withJSONObject: SlackBotWorld.envelope(
            SlackBotWorld.mention("<@U0BOT> the gadgets export is empty", channel: "C0GENERAL", ts: Self.ts(5)), id: "Ev0RACE")))
        let deliveries = try await withThrowingTaskGroup(of: Int.self) { group in
            for _ in 0..<6 { group.addTask { try await world.signedPost("/events", body: racing).status } }
            return try await group.reduce(into: []) { $0.append($1) }
        }
        #expect(deliveries == Array(repeating: 200, count: 6))
        try await world.sessions(count: 2)
        let barrier = try await world.slackCalls().count
        #expect(try await world.event(SlackBotWorld.envelope(["type": "app_home_opened", "user": "U0ALICE", "tab": "home"],
                                                             id: "Ev0HOME2")).status == 200)
        try await world.slackCall(after: barrier) { $0.slackMethod == "views.publish" }
        try await Task.sleep(for: .seconds(1))
        #expect(try await world.sessions().count == 2, "six racing deliveries started one session")
        #expect(try await world.slackCalls().filter { $0.slackText.hasPrefix("Session started") }.count == 2)
    }

    @Test("a mention starts a session on the channel's repository (Working on, View Session, Session started; a 429's Retry-After honoured); a reply in the thread goes to the same session; bots and empty mentions; the App Home model picker sets the next session's model")
    func mentionFlow() async throws {
        let world = try await Self.world()
        defer { world.stop() }
        let metadata = try await world.controlPlane.call("PUT", "/repos/acme/gadgets/metadata", json: ["channelAssociations": ["C0GADGETS"]])
        #expect(metadata.status == 200, "\(metadata.text)")
        try await world.rateLimitSlack("chat.postMessage", retryAfter: 1)
        try await world.failSlack("chat.update", error: "message_not_found")

        let thread = Self.ts(10)
        let acknowledged = try await world.event(SlackBotWorld.envelope(
            SlackBotWorld.mention("<@U0BOT> please fix the flaky login test", channel: "C0GADGETS", ts: thread), id: "Ev1MENTION"))
        #expect(acknowledged.status == 200)
        try await world.slackCall { $0.slackMethod == "chat.postMessage" && $0.slackText.hasPrefix("Session started") }

        let sessions = try await world.sessions(count: 1)
        let session = try #require(sessions.first)
        let sessionID = try #require(session["id"] as? String)
        #expect(session["repoOwner"] as? String == "acme")
        #expect(session["repoName"] as? String == "gadgets", "the channel's associated repository")
        #expect(session["title"] as? String == "please fix the flaky login test")
        #expect(session["model"] as? String == "claude-haiku-4-5")
        let messages = try await world.messages(sessionID, count: 1)
        #expect(messages.map { $0["content"] as? String } == ["please fix the flaky login test"])
        #expect(messages.first?["source"] as? String == "slack")
        let participants = try await world.controlPlane.call("GET", "/sessions/\(sessionID)/participants").json as? [String: Any]
        #expect((participants?["participants"] as? [[String: Any]])?.compactMap { $0["userId"] as? String } == ["slack:U0ALICE"])

        let calls = try await world.slackCalls()
        for call in calls {
            #expect(call["auth"] as? String == "Bearer \(world.botToken)", "\(call.slackMethod)")
        }
        let info = try #require(calls.first { $0.slackMethod == "conversations.info" })
        #expect((info["content_type"] as? String)?.hasPrefix("application/x-www-form-urlencoded") == true)
        #expect(info.slackBody["channel"] as? String == "C0GADGETS")
        #expect(!calls.contains { $0.slackMethod == "conversations.replies" }, "a mention outside a thread has no thread to read")

        // The first post met a 429 with Retry-After: 1, and was sent again a second later.
        let posts = calls.filter { $0.slackMethod == "chat.postMessage" }
        let limited = try #require(posts.first)
        #expect(limited["status"] as? Int == 429)
        let working = try #require(posts.dropFirst().first)
        #expect(working["status"] as? Int == 200)
        #expect(working.slackText == limited.slackText, "the same message was retried")
        let waited = (working["time"] as? Double ?? 0) - (limited["time"] as? Double ?? 0)
        #expect(waited >= 0.95, "retried after \(waited) s; Retry-After said 1 s")
        #expect(working.slackText.hasPrefix("Working on *acme/gadgets*…"), "\(working.slackText)")
        #expect(working.slackText.contains("associated with acme/gadgets"), "the reasoning is shown: \(working.slackText)")
        #expect(working.slackBody["thread_ts"] as? String == thread)
        #expect(working.slackBody["channel"] as? String == "C0GADGETS")
        #expect((working["content_type"] as? String)?.hasPrefix("application/json") == true)

        let url = world.runtime.baseURL + "/session/" + sessionID
        let workingTs = (working["answer"] as? [String: Any])?["ts"] as? String
        let update = try #require(calls.first { $0.slackMethod == "chat.update" })
        #expect(update.slackBody["ts"] as? String == workingTs, "the acknowledgement is the message updated")
        #expect(update.slackText.contains(url) && update.slackText.contains("View Session"), "\(update.slackText)")
        #expect(String(describing: update.slackBody["blocks"] ?? "").contains("view_session"))
        let started = try #require(posts.last)
        #expect(started.slackText.contains(url), "\(started.slackText)")
        #expect(started.slackBody["thread_ts"] as? String == thread)
        // That update answered ok:false: logged, and the rest of the flow went on.
        #expect((update["answer"] as? [String: Any])?["ok"] as? Bool == false)
        #expect(try await world.log(contains: "adding the View Session button: Slack chat.update failed: message_not_found"),
                "an ok:false answer is logged")

        // A reply in the thread prompts the same session: no second session, the prompt queued on it.
        let mark = try await world.slackCalls().count
        let reply = try await world.event(SlackBotWorld.envelope(
            SlackBotWorld.mention("<@U0BOT> also add a regression test", channel: "C0GADGETS", ts: Self.ts(11), threadTs: thread,
                                  user: "U0BOB"), id: "Ev1REPLY"))
        #expect(reply.status == 200)
        let followUp = try await world.slackCall(after: mark) { $0.slackMethod == "chat.postMessage" }
        #expect(followUp.slackText.contains("Sent to the session") && followUp.slackText.contains(url), "\(followUp.slackText)")
        #expect(followUp.slackBody["thread_ts"] as? String == thread)
        #expect(try await world.sessions().count == 1)
        let queued = try await world.messages(sessionID, count: 2)
        #expect(Set(queued.compactMap { $0["content"] as? String }) == ["please fix the flaky login test", "also add a regression test"])
        #expect(queued.allSatisfy { $0["status"] as? String == "pending" || $0["status"] as? String == "processing" })
        let people = try await world.controlPlane.call("GET", "/sessions/\(sessionID)/participants").json as? [String: Any]
        #expect((people?["participants"] as? [[String: Any]])?.compactMap { $0["userId"] as? String } == ["slack:U0ALICE", "slack:U0BOB"])

        // A bot's mention does nothing; an empty mention asks for a request.
        let beforeBots = try await world.slackCalls().count
        var botMention = SlackBotWorld.mention("<@U0BOT> hello from a bot", channel: "C0GADGETS", ts: Self.ts(12))
        botMention["bot_id"] = "B0OTHER"
        #expect(try await world.event(SlackBotWorld.envelope(botMention, id: "Ev1BOT")).status == 200)
        #expect(try await world.event(SlackBotWorld.envelope(SlackBotWorld.mention("<@U0BOT>  ", channel: "C0GADGETS", ts: Self.ts(13)),
                                                             id: "Ev1EMPTY")).status == 200)
        let ask = try await world.slackCall(after: beforeBots) { $0.slackMethod == "chat.postMessage" }
        #expect(ask.slackText.hasPrefix("What should I work on?"), "\(ask.slackText)")
        // A click on View Session needs nothing from the bot.
        let click = try await world.interaction([
            "type": "block_actions", "user": ["id": "U0ALICE"], "channel": ["id": "C0GADGETS"], "message": ["ts": thread],
            "actions": [["action_id": "view_session", "type": "button", "value": "x"]],
        ])
        #expect(click.status == 200, "\(click.text)")
        try await Task.sleep(for: .milliseconds(500))
        #expect(try await world.slackCalls().count == beforeBots + 1, "the bot's message and the click got no answer")
        #expect(try await world.sessions().count == 1)

        // The App Home shows the model; picking Opus saves it, and the next session uses it.
        let beforeHome = try await world.slackCalls().count
        #expect(try await world.event(SlackBotWorld.envelope(["type": "app_home_opened", "user": "U0ALICE", "tab": "home"],
                                                             id: "Ev1HOME")).status == 200)
        let home = try await world.slackCall(after: beforeHome) { $0.slackMethod == "views.publish" }
        #expect(home.slackBody["user_id"] as? String == "U0ALICE")
        #expect((home.slackBody["view"] as? [String: Any])?["type"] as? String == "home")
        #expect(String(describing: home.slackBody["view"] ?? "").contains("select_model"))
        #expect(home.slackText.contains("Current model: *Claude Haiku 4.5*"), "\(home.slackText)")
        let picked = try await world.interaction([
            "type": "block_actions", "user": ["id": "U0ALICE"], "view": ["type": "home", "id": "VFAKE"],
            "container": ["type": "view", "view_id": "VFAKE"],
            "actions": [["action_id": "select_model", "type": "static_select", "selected_option": ["value": "claude-opus-4-5"]]],
        ])
        #expect(picked.status == 200, "\(picked.text)")
        let republished = try await world.slackCall(after: beforeHome + 1) { $0.slackMethod == "views.publish" }
        #expect(republished.slackText.contains("Current model: *Claude Opus 4.5*"), "\(republished.slackText)")

        let beforeOpus = try await world.slackCalls().count
        #expect(try await world.event(SlackBotWorld.envelope(
            SlackBotWorld.mention("<@U0BOT> bump the version", channel: "C0GADGETS", ts: Self.ts(14)), id: "Ev1OPUS")).status == 200)
        let opusStarted = try await world.slackCall(after: beforeOpus) { $0.slackText.hasPrefix("Session started") }
        #expect(opusStarted.slackText.contains("Claude Opus 4.5"))
        let newest = try await world.sessions(count: 2).first { $0["title"] as? String == "bump the version" }
        #expect(newest?["model"] as? String == "claude-opus-4-5", "\(String(describing: newest))")

        // The thread's mapping is stored with no expiry (the original's lapsed after 24 h). Read from the
        // KV database itself, once the runtime is gone (it holds its databases exclusively).
        world.runtime.crash()
        let folder = world.runtime.stateDirectory + "/apps/slack-bot/objects/__kv_SLACK_KV"
        let database = try #require(try FileManager.default.contentsOfDirectory(atPath: folder).first { $0.hasSuffix(".sqlite") })
        let query = "import sqlite3, sys; print('|'.join(map(str, sqlite3.connect(sys.argv[1]).execute("
            + "\"SELECT key, coalesce(expires, 'never') FROM kv WHERE key = ?\", (sys.argv[2],)).fetchone() or ())))"
        let row = try Fixtures.run(["python3", "-c", query, folder + "/" + database, "thread:C0GADGETS:\(thread)"])
        #expect(row.trimmingCharacters(in: .whitespacesAndNewlines) == "thread:C0GADGETS:\(thread)|never", "\(row)")
    }

    @Test("classifier: the LLM's JSON picks the repository; garbage or an unknown repository from it falls back to keyword scoring; when unsure the bot asks with select_repo, and the choice continues the pending request once, also when two choices race")
    func classifier() async throws {
        let world = try await Self.world(anthropic: true)
        defer { world.stop() }

        try await world.scriptAnthropic(["text": #"{"repoId": "acme/gadgets", "confidence": "high", "reasoning": "Gadgets owns the payment form.", "alternatives": []}"#])
        #expect(try await world.event(SlackBotWorld.envelope(
            SlackBotWorld.mention("<@U0BOT> the payment form is broken", channel: "C0RANDOM", ts: Self.ts(20)), id: "Ev2LLM")).status == 200)
        let picked = try await world.slackCall { $0.slackText.hasPrefix("Working on") }
        #expect(picked.slackText.hasPrefix("Working on *acme/gadgets*"), "\(picked.slackText)")
        #expect(picked.slackText.contains("Gadgets owns the payment form."))
        #expect(try await world.sessions(count: 1).first?["repoName"] as? String == "gadgets")
        let call = try #require(try await world.anthropicCalls().first)
        let headers = call["headers"] as? [String: Any]
        #expect(headers?["x-api-key"] as? String == world.anthropicKey)
        #expect(headers?["anthropic-version"] as? String == "2023-06-01")
        let request = call["body"] as? [String: Any]
        #expect(request?["model"] as? String == "claude-haiku-4-5")
        #expect(request?["max_tokens"] as? Int == 500)
        let prompt = ((request?["messages"] as? [[String: Any]])?.first?["content"] as? String) ?? ""
        #expect(prompt.contains("acme/widgets") && prompt.contains("acme/gadgets") && prompt.contains("the payment form is broken"), "\(prompt)")
        #expect(prompt.contains("#general"), "the channel's name from conversations.info")

        // What the LLM says is unusable: keyword scoring decides (the request names widgets).
        let unusable = ["I think it is probably the widgets one!",
                        #"{"repoId": "acme/nothing", "confidence": "high", "reasoning": "", "alternatives": []}"#,
                        #"{"repoId": "acme/gadgets", "confidence": "certain", "reasoning": "", "alternatives": []}"#]
        for (index, answer) in unusable.enumerated() {
            try await world.scriptAnthropic(["text": answer])
            let mark = try await world.slackCalls().count
            #expect(try await world.event(SlackBotWorld.envelope(
                SlackBotWorld.mention("<@U0BOT> the widgets page is slow \(index)", channel: "C0RANDOM", ts: Self.ts(21 + index)),
                id: "Ev2GARBAGE\(index)")).status == 200)
            let working = try await world.slackCall(after: mark) { $0.slackText.hasPrefix("Working on") }
            #expect(working.slackText.hasPrefix("Working on *acme/widgets*"), "\(answer): \(working.slackText)")
            #expect(working.slackText.contains("keyword score"), "\(answer): \(working.slackText)")
            try await world.slackCall(after: mark) { $0.slackText.hasPrefix("Session started") }
        }
        #expect(try await world.anthropicCalls().count == 4, "the LLM was asked every time")
        let keywordSessions = try await world.sessions(count: 4)
        #expect(keywordSessions.filter { $0["repoName"] as? String == "widgets" }.count == 3)

        // Unsure: the request is kept and the user asked.
        try await world.scriptAnthropic(["text": #"{"repoId": null, "confidence": "low", "reasoning": "Nothing names a repository.", "alternatives": ["acme/widgets", "acme/gadgets"]}"#])
        let thread = Self.ts(30)
        let beforeAsk = try await world.slackCalls().count
        #expect(try await world.event(SlackBotWorld.envelope(
            SlackBotWorld.mention("<@U0BOT> something is broken", channel: "C0RANDOM", ts: thread), id: "Ev2UNSURE")).status == 200)
        let menu = try await world.slackCall(after: beforeAsk) { $0.slackMethod == "chat.postMessage" }
        #expect(menu.slackText.contains("Which repository"), "\(menu.slackText)")
        #expect(menu.slackBody["thread_ts"] as? String == thread)
        let blocks = String(describing: menu.slackBody["blocks"] ?? "")
        #expect(blocks.contains("select_repo") && blocks.contains("static_select"), "\(blocks)")
        #expect(menu.slackText.contains("acme/widgets") && menu.slackText.contains("acme/gadgets"))
        let menuTs = try #require((menu["answer"] as? [String: Any])?["ts"] as? String)
        try await Task.sleep(for: .milliseconds(500))
        #expect(try await world.sessions().count == 4, "no session while the repository is unknown")

        let makeChoice: @Sendable () -> [String: Any] = {
            ["type": "block_actions", "user": ["id": "U0CAROL"], "channel": ["id": "C0RANDOM"],
             "message": ["ts": menuTs, "thread_ts": thread, "type": "message"],
             "container": ["type": "message", "message_ts": menuTs, "channel_id": "C0RANDOM", "thread_ts": thread],
             "actions": [["action_id": "select_repo", "type": "static_select", "selected_option": ["value": "acme/gadgets"]]]]
        }
        let choice = makeChoice()
        // A double click: two selections at once continue the request once; the other hears it was answered.
        let beforeChoice = try await world.slackCalls().count
        async let firstChoice = world.interaction(makeChoice())
        async let secondChoice = world.interaction(makeChoice())
        #expect(try await [firstChoice.status, secondChoice.status] == [200, 200])
        let started = try await world.slackCall(after: beforeChoice) { $0.slackText.hasPrefix("Session started") }
        let answered = try await world.slackCall(after: beforeChoice) { $0.slackText.contains("expired or was answered already") }
        #expect(answered.slackBody["thread_ts"] as? String == thread)
        #expect(started.slackBody["thread_ts"] as? String == thread)
        let chosen = try await world.sessions(count: 5).first { $0["title"] as? String == "something is broken" }
        #expect(try await world.slackCalls().dropFirst(beforeChoice).filter { $0.slackText.hasPrefix("Session started") }.count == 1)
        #expect(chosen?["repoName"] as? String == "gadgets")
        let chosenID = try #require(chosen?["id"] as? String)
        #expect(try await world.messages(chosenID, count: 1).first?["content"] as? String == "something is broken")
        let people = try await world.controlPlane.call("GET", "/sessions/\(chosenID)/participants").json as? [String: Any]
        #expect((people?["participants"] as? [[String: Any]])?.compactMap { $0["userId"] as? String } == ["slack:U0ALICE"],
                "the session is the requester's, whoever picked the repository")
        let replaced = try await world.slackCalls().dropFirst(beforeChoice).first { $0.slackMethod == "chat.update" && $0.slackBody["ts"] as? String == menuTs }
        #expect(replaced?.slackText.contains("<@U0CAROL> chose *acme/gadgets*") == true, "the menu is replaced by the choice")

        // Choosing again finds nothing pending: no second session.
        let beforeAgain = try await world.slackCalls().count
        #expect(try await world.interaction(choice).status == 200)
        let expired = try await world.slackCall(after: beforeAgain) { $0.slackMethod == "chat.postMessage" }
        #expect(expired.slackText.contains("expired or was answered already"), "\(expired.slackText)")
        #expect(try await world.sessions().count == 5)
    }

    @Test("completion end to end: the prompt finishes, the control plane calls the bot back over the service binding, and the summary, key actions and PR link reach the thread; forged, stale and malformed callbacks are refused; a repeated one is not posted twice; a follow-up by a user without a GitHub token pushes the branch and links the compare page")
    func completionCallback() async throws {
        let world = try await Self.world(provider: true)
        defer { world.stop() }
        let controlPlane = world.controlPlane
        #expect(try await controlPlane.call("PUT", "/repos/acme/widgets/metadata", json: ["channelAssociations": ["C0WIDGETS"]]).status == 200)

        let thread = Self.ts(40)
        #expect(try await world.event(SlackBotWorld.envelope(
            SlackBotWorld.mention("<@U0BOT> add a changelog entry", channel: "C0WIDGETS", ts: thread), id: "Ev3MENTION")).status == 200)
        let sessionID = try #require(try await world.sessions(count: 1).first?["id"] as? String)
        // The Slack user links GitHub (as the web app would), so the agent's PR can be opened as them.
        let linked = try await controlPlane.call("POST", "/sessions/\(sessionID)/ws-token", json: ["userId": "slack:U0ALICE",
                                                                                                 "githubToken": "gho_slack_alice"])
        #expect(linked.status == 200, "\(linked.text)")

        // The test plays the bridge of the sandbox the provider started.
        let environment = try await SandboxProtocolTests.sandboxEnvironment(sessionID)
        let env = try #require(environment, "the provider started the sandbox process")
        let sandbox = try await controlPlane.sockets.connect(controlPlane.webSocketURL(sessionID) + "?type=sandbox", headers: [
            "Authorization": "Bearer \(env["SANDBOX_AUTH_TOKEN"] ?? "")", "X-Sandbox-ID": env["SANDBOX_ID"] ?? ""])
        try sandbox.send(["type": "ready"])
        let prompt = try await sandbox.next("prompt", timeout: .seconds(30))
        let messageID = try #require(prompt["messageId"] as? String)
        #expect(prompt["content"] as? String == "add a changelog entry")

        try sandbox.send(["type": "tool_call", "messageId": messageID, "tool": "read", "callId": "c0", "status": "completed",
                          "args": ["filePath": "README.md"], "output": "# widgets"])
        try sandbox.send(["type": "tool_call", "messageId": messageID, "tool": "edit", "callId": "c1", "status": "running",
                          "args": ["filePath": "CHANGELOG.md"], "output": ""])
        try sandbox.send(["type": "tool_call", "messageId": messageID, "tool": "edit", "callId": "c1", "status": "completed",
                          "args": ["filePath": "CHANGELOG.md"], "output": "ok"])
        try sandbox.send(["type": "tool_call", "messageId": messageID, "tool": "bash", "callId": "c2", "status": "completed",
                          "args": ["command": "git commit -am 'changelog <v2>'"], "output": ""])
        // The agent's PR tool: the control plane asks the sandbox to push, then opens the PR.
        let pullRequest = Task { try await controlPlane.call("POST", "/sessions/\(sessionID)/pr", json: ["title": "Changelog", "body": "Adds it"]) }
        let push = try await sandbox.next("push", timeout: .seconds(30))
        try sandbox.send(["type": "push_complete", "branchName": push["branchName"] as? String ?? "dispatch/\(sessionID)"])
        let opened = try await pullRequest.value
        #expect(opened.status == 200, "\(opened.text)")
        let prURL = try #require((opened.json as? [String: Any])?["prUrl"] as? String)

        let filler = (1...120).map { "Detail number \($0) is noted here." }.joined(separator: " ")
        let answer = "I added a changelog entry and opened a pull request. " + filler
        for end in [20, answer.count] {
            try sandbox.send(["type": "token", "messageId": messageID, "partId": "p1", "content": String(answer.prefix(end))])
        }
        try sandbox.send(["type": "execution_complete", "messageId": messageID, "success": true])

        let posted = try await world.slackCall(timeout: .seconds(60)) {
            $0.slackMethod == "chat.postMessage" && $0.slackText.contains("*Created:*")
        }
        #expect(posted.slackBody["channel"] as? String == "C0WIDGETS")
        #expect(posted.slackBody["thread_ts"] as? String == thread)
        let text = posted.slackText
        #expect(text.contains("<\(prURL)|Pull request #1>"), "the PR link reaches Slack: \(text)")
        #expect(text.contains("Edited `CHANGELOG.md`"), "\(text)")
        #expect(text.contains("Ran `git commit -am 'changelog &lt;v2&gt;'`"), "commands are escaped for mrkdwn: \(text)")
        #expect(!text.contains("README.md"), "reads are not key actions")
        #expect(text.contains("✅ Completed · claude-haiku-4-5 · acme/widgets"), "\(text)")
        #expect(text.contains(world.runtime.baseURL + "/session/" + sessionID) && text.contains("View Session"))
        let blocks = posted.slackBody["blocks"] as? [[String: Any]] ?? []
        let summary = try #require(((blocks.first?["text"] as? [String: Any])?["text"]) as? String)
        #expect(summary.hasPrefix("I added a changelog entry and opened a pull request. Detail number 1 is noted here."))
        #expect(summary.count <= 2000 && summary.hasSuffix("here.…"), "cut at a sentence break: \(summary.suffix(60)) (\(summary.count))")
        let order = try await world.slackCalls().map(\.slackText)
        let startedAt = order.firstIndex { $0.hasPrefix("Session started") }, completedAt = order.firstIndex { $0.contains("*Created:*") }
        #expect(startedAt != nil && startedAt! < completedAt!, "Session started comes before the completion")
        let fallback = try #require(posted.slackBody["text"] as? String)
        #expect(fallback.count <= 150 && fallback.hasPrefix("I added a changelog entry"), "\(fallback)")

        // The callback route also answers under /slack, and refuses what the control plane did not sign.
        let now = Int64(Date().timeIntervalSince1970 * 1000)
        func callback(timestamp: Int64, secret: String, success: Bool = true, tamper: Bool = false) async throws -> TestHTTPResponse {
            let context = #"{"channel":"C0WIDGETS","model":"claude-haiku-4-5","repoFullName":"acme/widgets","threadTs":"\#(thread)"}"#
            let signed = #"{"sessionId":"\#(sessionID)","messageId":"\#(messageID)","success":\#(success),"timestamp":\#(timestamp),"context":\#(context)}"#
            let signature = Hex.encode(Digest.hmacSHA256(key: Array(secret.utf8), Array(signed.utf8)))
            let body = #"{"sessionId":"\#(sessionID)","messageId":"\#(messageID)","success":\#(tamper ? !success : success),"timestamp":\#(timestamp),"context":\#(context),"signature":"\#(signature)"}"#
            return try await world.runtime.request("POST", "/slack/callbacks/complete", headers: ["Content-Type": "application/json"],
                                                   body: Array(body.utf8))
        }
        let secret = controlPlane.internalSecret
        let refusals: [(String, TestHTTPResponse, Int, String)] = [
            ("another secret", try await callback(timestamp: now, secret: "not the secret"), 401, "bad callback signature"),
            ("a changed field", try await callback(timestamp: now, secret: secret, tamper: true), 401, "bad callback signature"),
            ("6 minutes old", try await callback(timestamp: now - 6 * 60 * 1000, secret: secret), 401, "300 s"),
            ("6 minutes ahead", try await callback(timestamp: now + 6 * 60 * 1000, secret: secret), 401, "300 s"),
            ("not JSON", try await world.runtime.request("POST", "/slack/callbacks/complete", body: Array("{".utf8)), 400, "invalid JSON"),
            ("no signature", try await world.runtime.request("POST", "/slack/callbacks/complete", body: Array(
                #"{"sessionId":"a","messageId":"b","success":true,"timestamp":1,"context":{}}"#.utf8)), 400, "signature"),
            ("a session id with a slash", try await world.runtime.request("POST", "/slack/callbacks/complete", body: Array(
                #"{"sessionId":"../x","messageId":"b","success":true,"timestamp":1,"context":{},"signature":"00"}"#.utf8)), 400, "sessionId"),
        ]
        for (name, response, status, reason) in refusals {
            #expect(response.status == status, "\(name): \(response.status) \(response.text)")
            #expect(response.text.contains(reason), "\(name): \(response.text)")
        }
        // Signed right, but posted already (the control plane's call came first): acknowledged, not reposted.
        let repeated = try await callback(timestamp: now, secret: secret)
        #expect(repeated.status == 200, "\(repeated.text)")
        #expect((repeated.json as? [String: Any])?["duplicate"] as? Bool == true)
        try await Task.sleep(for: .milliseconds(500))
        let completions = try await world.slackCalls().filter { $0.slackMethod == "chat.postMessage" && $0.slackText.contains("*Created:*") }
        #expect(completions.count == 1, "one completion message")

        // Bob asks in the same thread and never linked GitHub: the agent's PR call still pushes the branch,
        // and his completion links GitHub's compare page instead of a PR (and not Alice's PR #1).
        #expect(try await world.event(SlackBotWorld.envelope(
            SlackBotWorld.mention("<@U0BOT> also bump the version", channel: "C0WIDGETS", ts: Self.ts(41), threadTs: thread, user: "U0BOB"),
            id: "Ev3FOLLOWUP")).status == 200)
        let followUp = try await sandbox.next("prompt", timeout: .seconds(30)) { $0["messageId"] as? String != messageID }
        let followUpID = try #require(followUp["messageId"] as? String)
        let pushesBefore = sandbox.messages.count
        let manual = Task { try await controlPlane.call("POST", "/sessions/\(sessionID)/pr", json: ["title": "Version", "body": "Bumps it"]) }
        let secondPush = try await sandbox.next("push", after: pushesBefore, timeout: .seconds(30))
        try sandbox.send(["type": "push_complete", "branchName": secondPush["branchName"] as? String ?? "dispatch/\(sessionID)"])
        let manualAnswer = try await manual.value
        #expect(manualAnswer.status == 200, "manual PR: \(manualAnswer.text)")
        let answerJSON = manualAnswer.json as? [String: Any]
        #expect(answerJSON?["state"] as? String == "manual")
        let compare = try #require(answerJSON?["compareUrl"] as? String)
        #expect(compare == "https://github.example/acme/widgets/compare/main...dispatch/\(sessionID)?expand=1", "\(compare)")
        #expect((answerJSON?["message"] as? String)?.contains("has no GitHub token") == true, "\(manualAnswer.text)")
        let pullCalls = try await world.githubCalls().filter { $0["path"] as? String == "/repos/acme/widgets/pulls" }
        #expect(pullCalls.count == 1, "no second pull request was attempted")
        let stored = try await controlPlane.call("GET", "/sessions/\(sessionID)/artifacts").json as? [String: Any]
        let kinds = (stored?["artifacts"] as? [[String: Any]] ?? []).map { "\($0["type"] ?? "")@\($0["messageId"] ?? "")" }
        #expect(kinds == ["pr@\(messageID)", "branch@\(followUpID)"], "each artifact names its prompt: \(kinds)")
        try sandbox.send(["type": "token", "messageId": followUpID, "partId": "p1", "content": "Bumped the version."])
        try sandbox.send(["type": "execution_complete", "messageId": followUpID, "success": true])
        let second = try await world.slackCall(timeout: .seconds(60)) {
            $0.slackMethod == "chat.postMessage" && $0.slackText.contains("*Branch pushed*")
        }
        #expect(second.slackBody["thread_ts"] as? String == thread)
        #expect(second.slackText.contains("<\(compare)|Open a pull request>"), "\(second.slackText)")
        #expect(!second.slackText.contains(prURL), "Alice's PR belongs to her prompt, not Bob's: \(second.slackText)")
    }
}
