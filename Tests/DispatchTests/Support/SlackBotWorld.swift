import Foundation
import RuntimeCrypto

/// One runtime with the control plane and the Slack bot deployed side by side (the bot reaches the
/// control plane over its CONTROL_PLANE service binding, and the control plane calls the bot back over
/// SLACK_BOT), a fake GitHub for `/repos` and pull requests, a fake Slack Web API and a fake Anthropic
/// Messages API. With `provider`, the local sandbox provider too, whose sandboxes only sleep: the test
/// plays the bridge (as in SandboxProtocolTests).
final class SlackBotWorld: @unchecked Sendable {
    let controlPlane: ControlPlaneWorld
    let github: FakeService
    let slack: FakeService
    let anthropic: FakeService
    let scratch: String
    let signingSecret = "signing-" + UUID().uuidString
    let botToken = "xoxb-test-" + UUID().uuidString
    let anthropicKey = "sk-ant-test-" + UUID().uuidString

    var runtime: RuntimeWorld { controlPlane.runtime }

    /// `slackSecrets` false leaves SLACK_BOT_TOKEN and SLACK_SIGNING_SECRET unset (see `configureSlack`);
    /// `anthropic` sets ANTHROPIC_API_KEY, so the LLM classifier runs.
    init(slackSecrets: Bool = true, anthropic useAnthropic: Bool = false, provider: Bool = false) throws {
        scratch = NSTemporaryDirectory() + "dispatch-slack-" + UUID().uuidString
        try FileManager.default.createDirectory(atPath: scratch, withIntermediateDirectories: true)
        let key = try Fixtures.rsaKey(in: scratch)
        github = try FakeService(script: "fake_github.py", arguments: [key.publicPath, "4242", "77"])
        slack = try FakeService(script: "fake_slack.py", arguments: [botToken])
        anthropic = try FakeService(script: "fake_anthropic.py", arguments: [anthropicKey])
        var providerVars: [String: String]?
        var controlPlaneVars = ["GITHUB_API_URL": github.baseURL, "HEARTBEAT_STALE_MS": "600000"]
        if provider {
            try Fixtures.bareRepository(root: scratch + "/repos", owner: "acme", name: "widgets")
            let sleeper = scratch + "/sleeper.sh"
            try "#!/bin/sh\nexec sleep 600\n".write(toFile: sleeper, atomically: true, encoding: .utf8)
            try FileManager.default.setAttributes([.posixPermissions: 0o755], ofItemAtPath: sleeper)
            providerVars = ["REPO_URL_TEMPLATE": scratch + "/repos/{owner}/{name}.git", "BRIDGE_PATH": sleeper,
                            "SANDBOX_ROOT": scratch + "/sandboxes"]
        } else {
            // Nobody listens there: prompts stay queued, which is all these tests need of them.
            controlPlaneVars["SANDBOX_PROVIDER_URL"] = "http://127.0.0.1:9/none"
        }
        controlPlane = try ControlPlaneWorld(
            controlPlaneVars: controlPlaneVars,
            controlPlaneSecrets: ["GITHUB_APP_ID": "4242", "GITHUB_APP_PRIVATE_KEY": key.privatePEM, "GITHUB_APP_INSTALLATION_ID": "77"],
            withProvider: providerVars)
        try runtime.putSecret("slack-bot", "INTERNAL_CALLBACK_SECRET", controlPlane.internalSecret)
        if slackSecrets { try configureSlack() }
        if useAnthropic { try runtime.putSecret("slack-bot", "ANTHROPIC_API_KEY", anthropicKey) }
        try runtime.deploy(RuntimeWorld.repoRoot() + "/Apps/SlackBot", vars: [
            "SLACK_API_URL": slack.baseURL + "/api", "ANTHROPIC_API_URL": anthropic.baseURL, "WEB_APP_URL": runtime.baseURL,
        ])
    }

    /// Sets the two Slack secrets (the running bot sees them on its next request).
    func configureSlack() throws {
        try runtime.putSecret("slack-bot", "SLACK_BOT_TOKEN", botToken)
        try runtime.putSecret("slack-bot", "SLACK_SIGNING_SECRET", signingSecret)
    }

    func stop() {
        controlPlane.stop()
        github.stop()
        slack.stop()
        anthropic.stop()
        try? FileManager.default.removeItem(atPath: scratch)
    }

    // MARK: Signed requests, as Slack sends them

    static func now() -> Int { Int(Date().timeIntervalSince1970) }

    /// `v0=` + hex HMAC-SHA256 over `v0:{timestamp}:{body}`.
    static func slackSignature(secret: String, timestamp: String, body: [UInt8]) -> String {
        "v0=" + Hex.encode(Digest.hmacSHA256(key: Array(secret.utf8), Array("v0:\(timestamp):".utf8) + body))
    }

    /// A POST to the bot with Slack's signature headers (made with `secret`, default the right one).
    func signedPost(_ path: String, body: [UInt8], contentType: String = "application/json",
                    timestamp: Int = SlackBotWorld.now(), secret: String? = nil) async throws -> TestHTTPResponse {
        let stamp = String(timestamp)
        return try await runtime.request("POST", "/slack" + path, headers: [
            "Content-Type": contentType, "X-Slack-Request-Timestamp": stamp,
            "X-Slack-Signature": Self.slackSignature(secret: secret ?? signingSecret, timestamp: stamp, body: body),
        ], body: body)
    }

    func event(_ payload: [String: Any], timestamp: Int = SlackBotWorld.now()) async throws -> TestHTTPResponse {
        try await signedPost("/events", body: Array(try JSONSerialization.data(withJSONObject: payload)), timestamp: timestamp)
    }

    /// An `event_callback` envelope around `event`.
    static func envelope(_ event: [String: Any], id: String) -> [String: Any] {
        ["token": "legacy", "team_id": "T0TEAM", "api_app_id": "A0APP", "type": "event_callback", "event_id": id,
         "event_time": now(), "event": event]
    }

    static func mention(_ text: String, channel: String, ts: String, threadTs: String? = nil, user: String = "U0ALICE")
        -> [String: Any] {
        var event: [String: Any] = ["type": "app_mention", "user": user, "text": text, "ts": ts, "channel": channel, "event_ts": ts]
        if let threadTs { event["thread_ts"] = threadTs }
        return event
    }

    /// `POST /interactions` with `payload=<json>`, form-encoded and signed.
    func interaction(_ payload: [String: Any]) async throws -> TestHTTPResponse {
        let json = String(decoding: try JSONSerialization.data(withJSONObject: payload), as: UTF8.self)
        let encoded = json.addingPercentEncoding(withAllowedCharacters: .alphanumerics) ?? ""
        return try await signedPost("/interactions", body: Array("payload=\(encoded)".utf8),
                                    contentType: "application/x-www-form-urlencoded")
    }

    // MARK: The fakes

    /// Every Slack Web API call so far, in order.
    func slackCalls() async throws -> [[String: Any]] {
        try await fakeRequest(slack, "GET", "/_calls").json as? [[String: Any]] ?? []
    }

    /// Every call the fake GitHub API got, in order (`path`, `auth`, `body`).
    func githubCalls() async throws -> [[String: Any]] {
        try await fakeRequest(github, "GET", "/_calls").json as? [[String: Any]] ?? []
    }

    func anthropicCalls() async throws -> [[String: Any]] {
        try await fakeRequest(anthropic, "GET", "/_calls").json as? [[String: Any]] ?? []
    }

    /// What the fake LLM answers from now on: a text, or `["status": 500]`.
    func scriptAnthropic(_ script: [String: Any]) async throws {
        _ = try await fakeRequest(anthropic, "POST", "/_answer", json: script)
    }

    /// The next call of `method` answers `{ok: false, error}`.
    func failSlack(_ method: String, error: String) async throws {
        _ = try await fakeRequest(slack, "POST", "/_fail", json: ["method": method, "error": error])
    }

    /// Waits until the runtime's log has `text` (lines are flushed on a short timer).
    func log(contains text: String, timeout: Duration = .seconds(10)) async throws -> Bool {
        let deadline = ContinuousClock.now + timeout
        while ContinuousClock.now < deadline {
            if runtime.serverLog().contains(text) { return true }
            try await Task.sleep(for: .milliseconds(100))
        }
        return false
    }

    func rateLimitSlack(_ method: String, retryAfter: Int) async throws {
        _ = try await fakeRequest(slack, "POST", "/_ratelimit", json: ["method": method, "retry_after": retryAfter])
    }

    func fakeRequest(_ fake: FakeService, _ method: String, _ path: String, json: [String: Any]? = nil) async throws
        -> TestHTTPResponse {
        let body = try json.map { Array(try JSONSerialization.data(withJSONObject: $0)) } ?? []
        let port = fake.port
        return try await offPool {
            try TestHTTPClient.exchange(port: port, method: method, path: path, headers: ["Content-Type": "application/json"],
                                        body: body, timeoutSeconds: 30)
        }
    }

    /// Waits until a Slack call matches (the bot works after it answered, so tests poll).
    @discardableResult
    func slackCall(timeout: Duration = .seconds(30), after mark: Int = 0, _ matches: ([String: Any]) -> Bool) async throws
        -> [String: Any] {
        let deadline = ContinuousClock.now + timeout
        while true {
            let calls = try await slackCalls()
            if let found = calls.dropFirst(mark).first(where: matches) { return found }
            guard ContinuousClock.now < deadline else {
                throw SessionSocket.Timeout(description: "no matching Slack call within \(timeout); calls: \(calls.map { $0["method"] ?? "" })\n"
                                            + runtime.serverLog().suffix(4000))
            }
            try await Task.sleep(for: .milliseconds(100))
        }
    }

    // MARK: The control plane

    func sessions() async throws -> [[String: Any]] {
        (try await controlPlane.call("GET", "/sessions").json as? [String: Any])?["sessions"] as? [[String: Any]] ?? []
    }

    func messages(_ session: String) async throws -> [[String: Any]] {
        (try await controlPlane.call("GET", "/sessions/\(session)/messages").json as? [String: Any])?["messages"] as? [[String: Any]] ?? []
    }

    /// Waits until `session` has `count` messages (the bot prompts after posting the session's link).
    @discardableResult
    func messages(_ session: String, count: Int, timeout: Duration = .seconds(30)) async throws -> [[String: Any]] {
        let deadline = ContinuousClock.now + timeout
        while true {
            let messages = try await messages(session)
            if messages.count >= count { return messages }
            guard ContinuousClock.now < deadline else {
                throw SessionSocket.Timeout(description: "\(messages.count) messages, expected \(count)\n" + runtime.serverLog().suffix(4000))
            }
            try await Task.sleep(for: .milliseconds(100))
        }
    }

    /// Waits until the control plane lists `count` sessions; returns them, newest activity first.
    @discardableResult
    func sessions(count: Int, timeout: Duration = .seconds(30)) async throws -> [[String: Any]] {
        let deadline = ContinuousClock.now + timeout
        while true {
            let sessions = try await sessions()
            if sessions.count >= count { return sessions }
            guard ContinuousClock.now < deadline else {
                throw SessionSocket.Timeout(description: "\(sessions.count) sessions, expected \(count)\n" + runtime.serverLog().suffix(4000))
            }
            try await Task.sleep(for: .milliseconds(100))
        }
    }
}

extension Dictionary where Key == String, Value == Any {
    /// The Slack call's body.
    var slackBody: [String: Any] { self["body"] as? [String: Any] ?? [:] }
    var slackMethod: String { self["method"] as? String ?? "" }
    /// Every text of the call's blocks (sections, contexts, buttons, options) and its `text`, joined.
    var slackText: String {
        var parts: [String] = [slackBody["text"] as? String ?? ""]
        func collect(_ value: Any) {
            if let object = value as? [String: Any] {
                for key in object.keys.sorted() {
                    if (key == "text" || key == "url" || key == "value"), let text = object[key] as? String { parts.append(text) }
                    collect(object[key]!)
                }
            } else if let array = value as? [Any] {
                array.forEach(collect)
            }
        }
        collect(slackBody["blocks"] ?? [])
        collect(slackBody["view"] ?? [:])
        return parts.joined(separator: "\n")
    }
}
