import RuntimeAPI

/// Why a Slack Web API call failed. `ok: false` answers are errors too: every caller either handles
/// them or logs them (`SlackAPI.bestEffort`), none is dropped silently.
enum SlackAPIError: Error, CustomStringConvertible {
    case http(method: String, status: Int)
    case notOK(method: String, error: String)
    case rateLimited(method: String, attempts: Int)
    case malformedAnswer(method: String)

    var description: String {
        switch self {
        case .http(let method, let status): "Slack \(method) answered HTTP \(status)"
        case .notOK(let method, let error): "Slack \(method) failed: \(error)"
        case .rateLimited(let method, let attempts): "Slack \(method) still rate limited after \(attempts) attempts"
        case .malformedAnswer(let method): "Slack \(method) answered something that is not a JSON object"
        }
    }
}

/// A message the bot posted: where it is, to update it later.
struct PostedMessage: Sendable {
    var channel: String
    var ts: String
}

/// The Slack Web API methods the bot calls, over `fetch` with `Authorization: Bearer SLACK_BOT_TOKEN`.
/// Writes send JSON bodies, reads send form bodies (Slack's read methods do not take JSON). HTTP 429
/// is retried after its Retry-After, at most `Lifetimes.maxRateLimitRetries` times, each wait capped
/// at `Lifetimes.maxRetryAfterSeconds`.
struct SlackAPI: Sendable {
    let baseURL: String
    let token: String

    init(baseURL: String, token: String) {
        self.baseURL = baseURL
        self.token = token
    }

    /// The client of `config`, or nil when SLACK_BOT_TOKEN is not set.
    init?(_ config: BotConfig) {
        guard let token = config.slackBotToken else { return nil }
        self.init(baseURL: config.slackAPIURL, token: token)
    }

    // MARK: Methods

    @discardableResult
    func postMessage(channel: String, threadTs: String?, text: String, blocks: [JSON]? = nil) async throws -> PostedMessage {
        var body: JSON = ["channel": .string(channel), "text": .string(text), "unfurl_links": false]
        if let threadTs { body[set: "thread_ts"] = .string(threadTs) }
        if let blocks { body[set: "blocks"] = .array(blocks) }
        let answer = try await call("chat.postMessage", json: body)
        guard let ts = answer["ts"]?.string else { throw SlackAPIError.malformedAnswer(method: "chat.postMessage") }
        return PostedMessage(channel: answer["channel"]?.string ?? channel, ts: ts)
    }

    func update(_ message: PostedMessage, text: String, blocks: [JSON]? = nil) async throws {
        var body: JSON = ["channel": .string(message.channel), "ts": .string(message.ts), "text": .string(text)]
        if let blocks { body[set: "blocks"] = .array(blocks) }
        try await call("chat.update", json: body)
    }

    /// `conversations.info`: the channel object (name, topic, purpose).
    func channelInfo(_ channel: String) async throws -> JSON {
        try await call("conversations.info", form: [("channel", channel)])["channel"] ?? [:]
    }

    /// `conversations.replies`: the thread's first `limit` messages, oldest first.
    func threadReplies(channel: String, threadTs: String, limit: Int) async throws -> [JSON] {
        try await call("conversations.replies", form: [("channel", channel), ("ts", threadTs), ("limit", String(limit))])["messages"]?
            .array ?? []
    }

    func publishHome(user: String, view: JSON) async throws {
        try await call("views.publish", json: ["user_id": .string(user), "view": view])
    }

    /// Runs `work`, logging instead of throwing: for messages whose failure must not undo what was done
    /// before them (a session already started).
    static func bestEffort(_ what: String, _ work: () async throws -> Void) async {
        do {
            try await work()
        } catch {
            Log.warn("\(what): \(error)")
        }
    }

    // MARK: Transport

    @discardableResult
    func call(_ method: String, json: JSON) async throws -> JSON {
        try await send(method, contentType: "application/json; charset=utf-8", body: json.bytes)
    }

    @discardableResult
    func call(_ method: String, form: [(String, String)]) async throws -> JSON {
        let body = form.map { Identifiers.queryEncoded($0.0) + "=" + Identifiers.queryEncoded($0.1) }.joined(separator: "&")
        return try await send(method, contentType: "application/x-www-form-urlencoded", body: Array(body.utf8))
    }

    private func send(_ method: String, contentType: String, body: [UInt8]) async throws -> JSON {
        var headers = Headers()
        headers.set("Authorization", "Bearer " + token)
        headers.set("Content-Type", contentType)
        let request = FetchRequest(baseURL + "/" + method, method: "POST", headers: headers, body: body,
                                   timeouts: Lifetimes.outboundTimeouts)
        var attempt = 1
        while true {
            let response = try await fetch(request)
            if response.status == 429 {
                _ = try? await response.bodyBytes(limit: Limits.maxSlackResponseBytes)
                guard attempt <= Lifetimes.maxRateLimitRetries else {
                    throw SlackAPIError.rateLimited(method: method, attempts: attempt)
                }
                let wait = Self.retryAfterSeconds(response.headers["retry-after"])
                Log.info("Slack \(method) rate limited; retrying in \(wait) s (attempt \(attempt) of \(Lifetimes.maxRateLimitRetries))")
                try await Task.sleep(for: .seconds(wait))
                attempt += 1
                continue
            }
            let bytes = try await response.bodyBytes(limit: Limits.maxSlackResponseBytes)
            guard (200..<300).contains(response.status) else { throw SlackAPIError.http(method: method, status: response.status) }
            guard let answer = try? JSON.parse(bytes), answer.object != nil else { throw SlackAPIError.malformedAnswer(method: method) }
            guard answer["ok"]?.bool == true else {
                throw SlackAPIError.notOK(method: method, error: answer["error"]?.string ?? "ok is not true")
            }
            if let warning = answer["warning"]?.string { Log.info("Slack \(method) warning: \(warning)") }
            return answer
        }
    }

    /// Retry-After in whole seconds, at least 1 and at most `Lifetimes.maxRetryAfterSeconds`.
    static func retryAfterSeconds(_ header: String?) -> Int {
        guard let header, let seconds = Int(header.trimmedSpaces), seconds >= 0 else { return Lifetimes.defaultRetryAfterSeconds }
        return min(max(seconds, 1), Lifetimes.maxRetryAfterSeconds)
    }
}
