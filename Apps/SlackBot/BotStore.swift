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

/// The bot's state. What must be taken exactly once (event and callback claims, pending requests) is
/// in the `SLACK_DB` SQL database, where one statement claims or takes atomically; KV has no
/// compare-and-set, so two deliveries in the same instant would both pass a get-then-put. The rest
/// (threads, model preferences, the repository cache) is in the `SLACK_KV` namespace. Every key is
/// built from ids `Identifiers` checked, so none can reach another's key space.
struct BotStore: Sendable {
    let kv: any KVNamespace
    let database: any SQLDatabase

    static let binding = "SLACK_KV"
    static let databaseBinding = "SLACK_DB"

    private static let schema = SchemaOnce("""
        CREATE TABLE IF NOT EXISTS claims (key TEXT PRIMARY KEY, expires_at INTEGER NOT NULL);
        CREATE INDEX IF NOT EXISTS claims_expiry ON claims (expires_at);
        CREATE TABLE IF NOT EXISTS pending_requests (
          thread_key TEXT PRIMARY KEY, request TEXT NOT NULL, expires_at INTEGER NOT NULL)
        """)

    init(_ env: Env) throws {
        kv = try env.keyValue(Self.binding)
        database = try env.database(Self.databaseBinding)
    }

    private func prepare() async throws {
        try await Self.schema.ensure(on: database)
    }

    // MARK: Deduplication

    /// True the first time `eventID` is seen within `Lifetimes.eventDedupe`, also when two deliveries
    /// race.
    func claimEvent(_ eventID: String) async throws -> Bool {
        try await claim("event:" + eventID, for: Lifetimes.eventDedupe)
    }

    /// True the first time a completion of `messageID` is handled; `releaseCallback` undoes it so a
    /// failed post can be retried by the control plane.
    func claimCallback(sessionID: String, messageID: String) async throws -> Bool {
        try await claim("callback:\(sessionID):\(messageID)", for: Lifetimes.callbackDedupe)
    }

    func releaseCallback(sessionID: String, messageID: String) async throws {
        try await prepare()
        _ = try await database.exec("DELETE FROM claims WHERE key = ?", .text("callback:\(sessionID):\(messageID)"))
    }

    /// One statement inserts the claim, or takes over an expired one; it writes a row only for the
    /// caller that wins. Expired claims are pruned on the way.
    private func claim(_ key: String, for lifetime: Duration, now: Int64 = WallClock.milliseconds()) async throws -> Bool {
        try await prepare()
        let results = try await database.batch([
            ("DELETE FROM claims WHERE expires_at <= ? AND key <> ?", [.integer(now), .text(key)]),
            ("""
             INSERT INTO claims (key, expires_at) VALUES (?, ?)
             ON CONFLICT (key) DO UPDATE SET expires_at = excluded.expires_at WHERE claims.expires_at <= ?
             """, [.text(key), .integer(now + Self.milliseconds(lifetime)), .integer(now)]),
        ])
        return results.last?.rowsWritten == 1
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

    func savePending(_ request: PendingRequest, channel: String, threadTs: String, now: Int64 = WallClock.milliseconds()) async throws {
        try await prepare()
        _ = try await database.batch([
            ("DELETE FROM pending_requests WHERE expires_at <= ?", [.integer(now)]),
            ("INSERT OR REPLACE INTO pending_requests (thread_key, request, expires_at) VALUES (?, ?, ?)",
             [.text(Self.pendingKey(channel, threadTs)), .text(request.json.text),
              .integer(now + Self.milliseconds(Lifetimes.pendingRequest))]),
        ])
    }

    /// The pending request of the thread, removed in the same statement so it is answered once even
    /// when two selections race.
    func takePending(channel: String, threadTs: String, now: Int64 = WallClock.milliseconds()) async throws -> PendingRequest? {
        try await prepare()
        let taken = try await database.exec(
            "DELETE FROM pending_requests WHERE thread_key = ? RETURNING request, expires_at",
            .text(Self.pendingKey(channel, threadTs)))
        guard let row = taken.rows.first, let expiresAt = row["expires_at"]?.int, Int64(expiresAt) > now,
              let text = row["request"]?.string, let json = try? JSON.parse(text) else { return nil }
        return PendingRequest(json)
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

    static func milliseconds(_ duration: Duration) -> Int64 {
        duration.components.seconds * 1000 + duration.components.attoseconds / 1_000_000_000_000_000
    }

    /// A stored JSON value; a value that no longer parses reads as missing.
    func read(_ key: String) async throws -> JSON? {
        guard let bytes = try await kv.get(key) else { return nil }
        return try? JSON.parse(bytes)
    }
}
