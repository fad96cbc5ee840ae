import RuntimeAPI

/// Participants, messages, events and artifacts: the session's rows and the REST views of them.
extension SessionObject {
    struct Person: Sendable {
        var userID: String
        var githubUserID: String?
        var githubLogin: String?
        var githubName: String?
        var githubEmail: String?
    }

    /// How a socket's client appears to everyone else.
    struct Presence: Sendable {
        var participantID: String
        var userID: String
        var name: String
        var avatar: String?
    }

    // MARK: Participants

    /// The participant row of `person.userID`, created as `role` when missing; profile fields that
    /// are given replace the stored ones. Returns its id.
    @discardableResult
    func upsertParticipant(_ person: Person, role: String, now: Int64 = WallClock.milliseconds()) throws -> String {
        if let existing = try sql("SELECT id FROM participants WHERE user_id = ?", .text(person.userID)).rows.first?["id"]?.string {
            try sql("""
                UPDATE participants SET github_user_id = coalesce(?, github_user_id), github_login = coalesce(?, github_login),
                  github_name = coalesce(?, github_name), github_email = coalesce(?, github_email) WHERE id = ?
                """, Self.optional(person.githubUserID), Self.optional(person.githubLogin), Self.optional(person.githubName),
                Self.optional(person.githubEmail), .text(existing))
            return existing
        }
        let id = IDs.make()
        try sql("""
            INSERT INTO participants (id, user_id, github_user_id, github_login, github_name, github_email, role, joined_at)
            VALUES (?, ?, ?, ?, ?, ?, ?, ?)
            """, .text(id), .text(person.userID), Self.optional(person.githubUserID), Self.optional(person.githubLogin),
            Self.optional(person.githubName), Self.optional(person.githubEmail), .text(role), .integer(now))
        return id
    }

    static func optional(_ text: String?) -> SQLValue { text.map { .text($0) } ?? .null }

    func addParticipant(_ person: Person, role: String) throws -> JSON {
        ["id": .string(try upsertParticipant(person, role: role)), "status": "added"]
    }

    func participantList() throws -> JSON {
        let rows = try sql("SELECT * FROM participants ORDER BY joined_at, id").rows
        return ["participants": .array(rows.map { row in
            ["id": row["id"].map(Self.json) ?? .null, "userId": row["user_id"].map(Self.json) ?? .null,
             "githubLogin": row["github_login"].map(Self.json) ?? .null, "githubName": row["github_name"].map(Self.json) ?? .null,
             "role": row["role"].map(Self.json) ?? .null, "joinedAt": row["joined_at"].map(Self.json) ?? .null]
        })]
    }

    func presence(participantID: String) throws -> Presence? {
        guard let row = try sql("SELECT * FROM participants WHERE id = ?", .text(participantID)).rows.first else { return nil }
        let login = row["github_login"]?.string
        let userID = row["user_id"]?.string ?? ""
        return Presence(participantID: participantID, userID: userID,
                        name: row["github_name"]?.string ?? login ?? userID,
                        avatar: login.map { "https://github.com/\($0).png" })
    }

    /// `POST /sessions/:id/ws-token`: a fresh client token for the participant (created as a member
    /// when new), stored as its SHA-256; the previous token of that participant stops working.
    func issueWebSocketToken(_ person: Person, githubTokenSealed: String?, githubTokenExpiresAt: Int64?) throws -> JSON {
        let now = WallClock.milliseconds()
        let token = IDs.make(32)
        let id = try upsertParticipant(person, role: "member", now: now)
        try sql("UPDATE participants SET ws_auth_token = ?, ws_token_created_at = ? WHERE id = ?",
                .text(Self.tokenHash(token)), .integer(now), .text(id))
        if let githubTokenSealed {
            try sql("UPDATE participants SET github_access_token_encrypted = ?, github_token_expires_at = ? WHERE id = ?",
                    .text(githubTokenSealed), Self.optionalInt(githubTokenExpiresAt), .text(id))
        }
        return ["token": .string(token), "participantId": .string(id)]
    }

    static func optionalInt(_ number: Int64?) -> SQLValue { number.map { .integer($0) } ?? .null }

    static func tokenHash(_ token: String) -> String { Encoding.hex(Crypto.sha256(token)) }

    // MARK: Messages

    struct PromptInput: Sendable {
        var content: String
        var authorUserID: String
        var source: String
        var model: String?
        var attachments: JSON?
        var callbackContext: JSON?
    }

    /// Adds a prompt to the queue and starts the queue. `participantID` is the author when the prompt
    /// came over a client socket; REST prompts name a user id, whose participant is created if needed.
    /// With `startQueue` false the caller runs `processQueue()` itself (after answering `prompt_queued`).
    func enqueuePrompt(_ input: PromptInput, participantID: String?, startQueue: Bool = true) async throws -> JSON {
        guard let row = try session else { throw HTTPError(404, "no such session") }
        guard row["status"]?.string != "archived" else { throw HTTPError(409, "session is archived") }
        guard ["web", "slack", "extension", "github", "api"].contains(input.source) else {
            throw HTTPError(400, "source: web, slack, extension, github or api")
        }
        if let attachments = input.attachments, !attachments.isNull {
            guard let items = attachments.array, items.count <= Limits.maxAttachments else {
                throw HTTPError(400, "attachments: at most \(Limits.maxAttachments) items")
            }
        }
        let now = WallClock.milliseconds()
        let author = try participantID ?? upsertParticipant(Person(userID: input.authorUserID), role: "member", now: now)
        let id = IDs.make()
        let model = input.model.flatMap { Models.normalize($0) }
        try sql("""
            INSERT INTO messages (id, author_id, content, source, model, attachments, callback_context, status, created_at)
            VALUES (?, ?, ?, ?, ?, ?, ?, 'pending', ?)
            """, .text(id), .text(author), .text(input.content), .text(input.source), Self.optional(model),
            Self.optional(input.attachments.flatMap { $0.isNull ? nil : $0.text }),
            Self.optional(input.callbackContext.flatMap { $0.isNull ? nil : $0.text }), .integer(now))
        if row["status"]?.string == "created" {
            try sql("UPDATE session SET status = 'active'")
            try await updateIndex(status: "active")
        } else {
            try touchSession(now: now)
            try await updateIndex()
        }
        // Everyone watching sees the prompt at once, not only at the next replay (the original showed it
        // to its sender alone).
        if let stored = try sql("""
            SELECT m.*, p.github_name, p.github_login, p.user_id FROM messages m LEFT JOIN participants p ON p.id = m.author_id
            WHERE m.id = ?
            """, .text(id)).rows.first {
            broadcast(["type": "sandbox_event", "event": Self.userMessageEvent(stored)])
        }
        let position = try sql("SELECT count(*) FROM messages WHERE status IN ('pending', 'processing')").rows.first?[0].int ?? 1
        if startQueue { try await processQueue() }
        return ["messageId": .string(id), "status": "queued", "position": .int(Int64(position))]
    }

    func processingMessage() throws -> SQLRow? {
        try sql("SELECT * FROM messages WHERE status = 'processing' ORDER BY started_at LIMIT 1").rows.first
    }

    func messagesPage(cursor: Int64?, limit: Int, status: String?) throws -> JSON {
        var conditions: [String] = [], bindings: [SQLValue] = []
        if let cursor { conditions.append("created_at < ?"); bindings.append(.integer(cursor)) }
        if let status { conditions.append("status = ?"); bindings.append(.text(status)) }
        let filter = conditions.isEmpty ? "" : "WHERE " + conditions.joined(separator: " AND ")
        bindings.append(.integer(Int64(limit + 1)))
        let rows = try state.storage.sql.exec(
            "SELECT * FROM messages \(filter) ORDER BY created_at DESC, id DESC LIMIT ?", bindings).rows
        let page = rows.prefix(limit)
        var reply: JSON = ["messages": .array(page.map { row in
            ["id": row["id"].map(Self.json) ?? .null, "authorId": row["author_id"].map(Self.json) ?? .null,
             "content": row["content"].map(Self.json) ?? .null, "source": row["source"].map(Self.json) ?? .null,
             "status": row["status"].map(Self.json) ?? .null, "error": row["error_message"].map(Self.json) ?? .null,
             "createdAt": row["created_at"].map(Self.json) ?? .null, "startedAt": row["started_at"].map(Self.json) ?? .null,
             "completedAt": row["completed_at"].map(Self.json) ?? .null]
        }), "hasMore": .bool(rows.count > limit)]
        if rows.count > limit, let last = page.last?["created_at"] { reply[set: "cursor"] = .string(String(last.int ?? 0)) }
        return reply
    }

    // MARK: Events

    /// Stores a sandbox event and sends it to every client as `sandbox_event`, serialised once for both
    /// (this runs for every event a sandbox streams).
    func relayEvent(_ event: JSON, type: String, messageID: String?, now: Int64) throws {
        let text = event.text
        try storeEvent(event, text: text, type: type, messageID: messageID, now: now)
        broadcastText(SessionObject.sandboxEventFrame(text))
    }

    /// `{"event":<event>,"type":"sandbox_event"}`, as `JSON.text` would write it (keys sorted).
    static func sandboxEventFrame(_ eventText: String) -> String {
        #"{"event":"# + eventText + #","type":"sandbox_event"}"#
    }

    /// Stores a sandbox event (`text` is its serialisation). A `token` replaces the stored token of the
    /// same message and part.
    private func storeEvent(_ event: JSON, text: String, type: String, messageID: String?, now: Int64) throws {
        let partID = event["partId"]?.string ?? event["partID"]?.string
        if type == "token" {
            let id = "token:" + (messageID ?? "-") + ":" + (partID ?? "-")
            try sql("""
                INSERT INTO events (id, type, data, message_id, part_id, created_at) VALUES (?, 'token', ?, ?, ?, ?)
                ON CONFLICT (id) DO UPDATE SET data = excluded.data
                """, .text(id), .text(text), Self.optional(messageID), Self.optional(partID), .integer(now))
        } else {
            try sql("INSERT INTO events (id, type, data, message_id, part_id, created_at) VALUES (?, ?, ?, ?, ?, ?)",
                    .text(IDs.make()), .text(type), .text(text), Self.optional(messageID), Self.optional(partID), .integer(now))
        }
    }

    /// `GET /sessions/:id/events`: newest first; the cursor is the `created_at` of the last row.
    func eventsPage(cursor: Int64?, limit: Int, type: String?, messageID: String?) throws -> JSON {
        var conditions: [String] = [], bindings: [SQLValue] = []
        if let cursor { conditions.append("created_at < ?"); bindings.append(.integer(cursor)) }
        if let type { conditions.append("type = ?"); bindings.append(.text(type)) }
        if let messageID { conditions.append("message_id = ?"); bindings.append(.text(messageID)) }
        let filter = conditions.isEmpty ? "" : "WHERE " + conditions.joined(separator: " AND ")
        bindings.append(.integer(Int64(limit + 1)))
        try prepareSchema()
        let rows = try state.storage.sql.exec(
            "SELECT * FROM events \(filter) ORDER BY created_at DESC, rowid DESC LIMIT ?", bindings).rows
        let page = rows.prefix(limit)
        var reply: JSON = ["events": .array(page.map { row in
            ["id": row["id"].map(Self.json) ?? .null, "type": row["type"].map(Self.json) ?? .null,
             "data": Self.parsed(row["data"]?.string) ?? .null, "messageId": row["message_id"].map(Self.json) ?? .null,
             "createdAt": row["created_at"].map(Self.json) ?? .null]
        }), "hasMore": .bool(rows.count > limit)]
        if rows.count > limit, let last = page.last?["created_at"] { reply[set: "cursor"] = .string(String(last.int ?? 0)) }
        return reply
    }

    // MARK: Artifacts

    func artifactList() throws -> [JSON] {
        try sql("SELECT * FROM artifacts ORDER BY created_at, id").rows.map(Self.artifactJSON)
    }

    static func artifactJSON(_ row: SQLRow) -> JSON {
        ["id": row["id"].map(json) ?? .null, "type": row["type"].map(json) ?? .null, "url": row["url"].map(json) ?? .null,
         "metadata": parsed(row["metadata"]?.string) ?? .null, "messageId": row["message_id"].map(json) ?? .null,
         "createdAt": row["created_at"].map(json) ?? .null]
    }

    // MARK: The session index

    /// Mirrors the title, status and activity time into the app's session list.
    func updateIndex(title: String? = nil, status: String? = nil) async throws {
        try await SessionIndex(env).update(sessionName, title: title, status: status)
    }

    // MARK: Archive, unarchive, delete

    func archive() async throws {
        try sql("UPDATE session SET status = 'archived', updated_at = ?", .integer(WallClock.milliseconds()))
        try await stopSandbox(reason: "Session archived")
        try await updateIndex(status: "archived")
        broadcast(["type": "session_status", "status": "archived"])
    }

    func unarchive() async throws {
        try sql("UPDATE session SET status = 'active', updated_at = ?", .integer(WallClock.milliseconds()))
        try await updateIndex(status: "active")
        broadcast(["type": "session_status", "status": "active"])
    }

    /// `DELETE /sessions/:id`: stops the sandbox, closes every socket, forgets the alarm and marks the
    /// session deleted (its rows stay until `deleteAll`, which follows).
    func cleanup() async throws {
        try await stopSandbox(reason: "Session deleted")
        for socket in state.getWebSockets() { try? socket.close(code: 1000, reason: "Session deleted") }
        try sql("UPDATE session SET status = 'deleted', updated_at = ?", .integer(WallClock.milliseconds()))
        try state.storage.deleteAlarm()
    }
}
