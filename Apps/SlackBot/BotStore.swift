import RuntimeAPI

/// A Slack thread's session (KV `thread:{channel}:{threadTs}`). Kept with no expiry: a thread keeps
/// reaching its session however long it sleeps (the original's 24 h TTL broke that).
struct ThreadSession: Sendable, Equatable {
    var sessionID: String
    var repoFullName: String
    var model: String
    var createdAt: Int64

    var json: JSON {
        ["sessionId": .string(sessionID), "repoId": .string(repoFullName.lowercased()), "repoFullName": .string(repoFullName),
         "model": .string(model), "createdAt": .int(createdAt)]
    }

    init(sessionID: String, repoFullName: String, model: String, createdAt: Int64 = WallClock.milliseconds()) {
        self.sessionID = sessionID
        self.repoFullName = repoFullName
        self.model = model
        self.createdAt = createdAt
    }

    init?(_ json: JSON) {
        guard let id = json["sessionId"]?.string, Identifiers.isSessionID(id), let repo = json["repoFullName"]?.string else { return nil }
        self.init(sessionID: id, repoFullName: repo, model: json["model"]?.string ?? Models.fallback,
                  createdAt: json["createdAt"]?.int ?? 0)
    }
}

/// A request waiting for its user to pick the repository (KV `pending:{channel}:{threadTs}`, 1 h).
struct PendingRequest: Sendable, Equatable {
    var message: String
    var userID: String
    /// Earlier messages of the thread, for the prompt.
    var threadContext: String?

    var json: JSON { ["message": .string(message), "userId": .string(userID), "threadContext": JSON(threadContext)] }

    init(message: String, userID: String, threadContext: String?) {
        self.message = message
        self.userID = userID
        self.threadContext = threadContext
    }

    init?(_ json: JSON) {
        guard let message = json["message"]?.string, let user = json["userId"]?.string, Identifiers.isSlackID(user) else { return nil }
        self.init(message: message, userID: user, threadContext: json["threadContext"]?.string)
    }
}

/// The bot's state in the SLACK_KV namespace. Every key is built from ids `Identifiers` checked, so
/// none can reach another's key space.
struct BotStore: Sendable {
    let kv: any KVNamespace

    static let binding = "SLACK_KV"

    init(_ env: Env) throws { kv = try env.keyValue(Self.binding) }

    // MARK: Deduplication

    /// True the first time `eventID` is seen within `Lifetimes.eventDedupe`. KV has no compare-and-set,
    /// so two deliveries in the same instant could both pass; Slack's retries come seconds apart.
    func claimEvent(_ eventID: String) async throws -> Bool {
        try await claim("event:" + eventID, for: Lifetimes.eventDedupe)
    }

    /// True the first time a completion of `messageID` is handled; `releaseCallback` undoes it so a
    /// failed post can be retried by the control plane.
    func claimCallback(sessionID: String, messageID: String) async throws -> Bool {
        try await claim("callback:\(sessionID):\(messageID)", for: Lifetimes.callbackDedupe)
    }

    func releaseCallback(sessionID: String, messageID: String) async throws {
        try await kv.delete("callback:\(sessionID):\(messageID)")
    }

    private func claim(_ key: String, for lifetime: Duration) async throws -> Bool {
        guard try await kv.get(key) == nil else { return false }
        try await kv.put(key, string: String(WallClock.milliseconds()), expiresIn: lifetime)
        return true
    }

    // MARK: Threads

    func threadSession(channel: String, threadTs: String) async throws -> ThreadSession? {
        try await read(Self.threadKey(channel, threadTs)).flatMap(ThreadSession.init)
    }

    func saveThreadSession(_ mapping: ThreadSession, channel: String, threadTs: String) async throws {
        try await kv.put(Self.threadKey(channel, threadTs), mapping.json.bytes)
    }

    func forgetThread(channel: String, threadTs: String) async throws {
        try await kv.delete(Self.threadKey(channel, threadTs))
    }

    static func threadKey(_ channel: String, _ threadTs: String) -> String { "thread:\(channel):\(threadTs)" }

    // MARK: Pending requests

    func savePending(_ request: PendingRequest, channel: String, threadTs: String) async throws {
        try await kv.put(Self.pendingKey(channel, threadTs), request.json.bytes, expiresIn: Lifetimes.pendingRequest)
    }

    /// The pending request of the thread, removed so it is answered once.
    func takePending(channel: String, threadTs: String) async throws -> PendingRequest? {
        let key = Self.pendingKey(channel, threadTs)
        guard let pending = try await read(key).flatMap(PendingRequest.init) else { return nil }
        try await kv.delete(key)
        return pending
    }

    static func pendingKey(_ channel: String, _ threadTs: String) -> String { "pending:\(channel):\(threadTs)" }

    // MARK: Model preferences

    /// The model the user picked in the App Home (`user_prefs:{user}`), if any.
    func modelPreference(user: String) async throws -> String? {
        try await read("user_prefs:" + user)?["model"]?.string.flatMap { Models.isChoice($0) ? $0 : nil }
    }

    func saveModelPreference(user: String, model: String) async throws {
        let value: JSON = ["userId": .string(user), "model": .string(model), "updatedAt": .int(WallClock.milliseconds())]
        try await kv.put("user_prefs:" + user, value.bytes)
    }

    // MARK: Helpers

    /// A stored JSON value; a value that no longer parses reads as missing.
    func read(_ key: String) async throws -> JSON? {
        guard let bytes = try await kv.get(key) else { return nil }
        return try? JSON.parse(bytes)
    }
}
