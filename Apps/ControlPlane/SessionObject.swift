import RuntimeAPI

/// One Dispatch session (reference §1.3–§1.12): its SQLite tables, the client sockets and the one
/// sandbox socket (all hibernatable), the prompt queue, and the sandbox's lifecycle on one alarm.
///
/// The worker reaches it with typed calls (`stub.run(as: SessionObject.self)`) and forwards WebSocket
/// upgrades to `fetch`. What lives only in memory (lost on eviction, rebuilt from storage or socket
/// attachments): the spawn-in-progress flag and a pending PR push's continuation.
actor SessionObject: DurableObject {
    let state: DurableObjectState
    let env: Env
    let config: Config
    nonisolated var unownedExecutor: UnownedSerialExecutor { state.executor }

    /// A spawn or restore is talking to the provider (guard 6 of reference §1.12).
    var isSpawningSandbox = false
    /// PR creation waiting for the sandbox's `push_complete` / `push_error`.
    var pendingPush: CheckedContinuation<Result<String, PushFailure>, Never>?
    var schemaReady = false
    /// When `noteActivity` last wrote `sandbox.last_activity` (ms; 0 after a re-creation).
    var lastActivityWritten: Int64 = 0
    var cachedSessionName: String?
    /// Decoded attachments of client sockets (decoding one per socket per broadcast was the top cost).
    var clientInfos: [ObjectIdentifier: (socket: WebSocket, info: ClientInfo)] = [:]

    init(state: DurableObjectState, env: Env) {
        self.state = state
        self.env = env
        self.config = Config(env)
    }

    // MARK: Storage helpers

    @discardableResult
    func sql(_ text: String, _ bindings: SQLValue...) throws -> SQLCursor {
        try prepareSchema()
        return try state.storage.sql.exec(text, bindings)
    }

    func prepareSchema() throws {
        guard !schemaReady else { return }
        try state.storage.sql.exec(SessionSchema.statements, [])
        for added in SessionSchema.addedColumns {
            // A database from before the column: selecting it fails, so the column is added.
            if (try? state.storage.sql.exec("SELECT \(added.column) FROM \(added.table) LIMIT 0", [])) == nil {
                try state.storage.sql.exec(added.sql, [])
            }
        }
        schemaReady = true
    }

    /// The session row, or a 404 for a session that was never created (or was deleted).
    func requireInitialized() throws {
        guard let row = try sql("SELECT status FROM session").rows.first else { throw HTTPError(404, "no such session") }
        if row["status"]?.string == "deleted" { throw HTTPError(404, "session deleted") }
    }

    var session: SQLRow? { get throws { try sql("SELECT * FROM session").rows.first } }
    var sandbox: SQLRow? { get throws { try sql("SELECT * FROM sandbox").rows.first } }
    /// The external session id; set once at creation, so read from storage once per instance.
    var sessionName: String {
        if let cachedSessionName { return cachedSessionName }
        let name = (try? session?["session_name"]?.string) ?? ""
        if !name.isEmpty { cachedSessionName = name }
        return name
    }
    var sandboxStatus: String { (try? sandbox?["status"]?.string) ?? SandboxStatus.pending }

    func setSandbox(_ assignments: String, _ bindings: SQLValue...) throws {
        try state.storage.sql.exec("UPDATE sandbox SET " + assignments, bindings)
    }

    func touchSession(now: Int64 = WallClock.milliseconds()) throws {
        try sql("UPDATE session SET updated_at = ?", .integer(now))
    }

    // MARK: Creation

    struct InitParameters: Sendable {
        var sessionName: String
        var repoOwner: String
        var repoName: String
        var title: String
        var model: String
        var githubTokenSealed: String?
        var userID: String
        var githubLogin: String?
        var githubName: String?
        var githubEmail: String?
        var githubUserID: String?
        /// The branch to start from; nil: the repository's default.
        var baseBranch: String? = nil
    }

    /// `POST /internal/init`: the session row, a pending sandbox row (created_at 0, so the first spawn
    /// skips the cooldown) and the owner, who holds the encrypted GitHub token.
    func initialize(_ parameters: InitParameters) async throws -> SessionIndex.Entry {
        guard try session == nil else { throw HTTPError(409, "session exists") }
        let now = WallClock.milliseconds()
        try state.storage.transaction {
            try sql("""
                INSERT INTO session (id, session_name, title, repo_owner, repo_name, model, status, created_at, updated_at,
                                     base_branch)
                VALUES (?, ?, ?, ?, ?, ?, 'created', ?, ?, ?)
                """, .text(state.id.hex), .text(parameters.sessionName), .text(parameters.title), .text(parameters.repoOwner),
                .text(parameters.repoName), .text(parameters.model), .integer(now), .integer(now),
                parameters.baseBranch.map { .text($0) } ?? .null)
            try sql("INSERT INTO sandbox (id, status, created_at) VALUES (?, 'pending', 0)", .text(IDs.make()))
            let person = Person(userID: parameters.userID, githubUserID: parameters.githubUserID,
                                githubLogin: parameters.githubLogin, githubName: parameters.githubName,
                                githubEmail: parameters.githubEmail)
            let owner = try upsertParticipant(person, role: "owner", now: now)
            if let sealed = parameters.githubTokenSealed {
                try sql("UPDATE participants SET github_access_token_encrypted = ? WHERE id = ?", .text(sealed), .text(owner))
            }
        }
        return SessionIndex.Entry(id: parameters.sessionName, title: parameters.title, repoOwner: parameters.repoOwner,
                                  repoName: parameters.repoName, model: parameters.model, status: "created",
                                  createdAt: now, updatedAt: now)
    }

    // MARK: State

    /// `GET /sessions/:id`: the session and its sandbox.
    func stateJSON() -> JSON {
        guard let row = try? session else { return [:] }
        var json = Self.sessionJSON(row)
        if let box = try? sandbox {
            json[set: "sandbox"] = [
                "id": box["id"].map(Self.json) ?? .null, "modalSandboxId": box["modal_sandbox_id"].map(Self.json) ?? .null,
                "status": box["status"].map(Self.json) ?? .null, "gitSyncStatus": box["git_sync_status"].map(Self.json) ?? .null,
                "lastHeartbeat": box["last_heartbeat"].map(Self.json) ?? .null,
            ]
        }
        return json
    }

    static func sessionJSON(_ row: SQLRow) -> JSON {
        let columns: [(String, String)] = [
            ("session_name", "id"), ("title", "title"), ("repo_owner", "repoOwner"), ("repo_name", "repoName"),
            ("repo_default_branch", "repoDefaultBranch"), ("branch_name", "branchName"), ("base_sha", "baseSha"),
            ("current_sha", "currentSha"), ("opencode_session_id", "opencodeSessionId"), ("model", "model"),
            ("status", "status"), ("created_at", "createdAt"), ("updated_at", "updatedAt"), ("base_branch", "baseBranch"),
        ]
        var fields: [String: JSON] = [:]
        for (column, key) in columns { fields[key] = row[column].map(json) ?? .null }
        return .object(fields)
    }

    /// The `SessionState` of the `subscribed` message (reference §1.7).
    func sessionState() throws -> JSON {
        guard let row = try session else { return [:] }
        let box = try sandbox
        let count = try sql("SELECT count(*) FROM messages").rows.first?[0].int ?? 0
        return [
            "id": row["session_name"].map(Self.json) ?? .null, "title": row["title"].map(Self.json) ?? .null,
            "repoOwner": row["repo_owner"].map(Self.json) ?? .null, "repoName": row["repo_name"].map(Self.json) ?? .null,
            "branchName": row["branch_name"].map(Self.json) ?? .null, "status": row["status"].map(Self.json) ?? .null,
            "baseBranch": row["base_branch"].map(Self.json) ?? .null,
            "sandboxStatus": .string(box?["status"]?.string ?? SandboxStatus.pending),
            "messageCount": .int(Int64(count)), "createdAt": row["created_at"].map(Self.json) ?? .null,
            "isProcessing": .bool(try processingMessage() != nil), "model": row["model"].map(Self.json) ?? .null,
            "tunnelUrls": Self.parsed(box?["tunnel_urls"]?.string) ?? [:],
            "activePorts": Self.parsed(box?["active_ports"]?.string) ?? [],
        ]
    }

    static func json(_ value: SQLValue) -> JSON {
        switch value {
        case .null: .null
        case .integer(let number): .int(number)
        case .real(let number): .double(number)
        case .text(let text): .string(text)
        case .blob(let bytes): .string(Encoding.base64(bytes))
        }
    }

    static func parsed(_ text: String?) -> JSON? { text.flatMap { try? JSON.parse($0) } }

    // MARK: Events from the runtime

    func fetch(_ request: Request) async throws -> Response {
        guard request.isWebSocketUpgrade, request.url.path == "/ws" else {
            throw HTTPError(404, "session object: no route for \(request.method) \(request.url.path)")
        }
        if request.url.queryValue("type") == "sandbox" { return try await acceptSandbox(request) }
        return try acceptClient(request)
    }

    func webSocketMessage(_ socket: WebSocket, _ message: WebSocketMessage) async throws {
        try prepareSchema()
        let bytes: [UInt8]
        switch message {
        case .text(let text): bytes = Array(text.utf8)
        case .binary(let data): bytes = data
        }
        if socket.tags.contains(SocketTags.sandbox) {
            try await sandboxMessage(socket, bytes)
        } else {
            try await clientMessage(socket, bytes)
        }
    }

    func webSocketClose(_ socket: WebSocket, code: Int, reason: String, wasClean: Bool) async throws {
        try prepareSchema()
        if socket.tags.contains(SocketTags.sandbox) {
            try await sandboxClosed(socket, code: code, wasClean: wasClean)
        } else {
            try clientClosed(socket)
        }
    }

    func webSocketError(_ socket: WebSocket, _ error: String) async throws {
        Log.warn("session \(sessionName): socket error: \(error)")
    }

    func alarm() async throws {
        try prepareSchema()
        guard try session != nil else { return }
        let now = WallClock.milliseconds()
        closeUnsubscribedClients(now: now)
        try await failOverdueExecution(now: now)
        try await checkSandboxHealth(now: now)
        try armAlarm(now: WallClock.milliseconds())
    }

    /// Sets the one alarm to the earliest deadline anything is waiting for; clears it when nothing is.
    func armAlarm(now: Int64 = WallClock.milliseconds()) throws {
        var deadlines: [Int64] = []
        for socket in clientSockets() {
            let info = clientInfo(socket)
            if !info.subscribed { deadlines.append(info.connectedAt + config.subscribeTimeoutMs) }
        }
        if let processing = try processingMessage(), let started = processing["started_at"]?.int {
            deadlines.append(Int64(started) + config.executionTimeoutMs)
        }
        if let box = try sandbox, let status = box["status"]?.string {
            switch status {
            case SandboxStatus.spawning, SandboxStatus.connecting:
                deadlines.append(Int64(box["created_at"]?.int ?? Int(now)) + Timing.spawnStuckMs)
            case SandboxStatus.ready, SandboxStatus.running, SandboxStatus.snapshotting:
                let heartbeat = Int64(box["last_heartbeat"]?.int ?? Int(now))
                deadlines.append(heartbeat + config.heartbeatStaleMs)
                let activity = Int64(box["last_activity"]?.int ?? Int(now))
                deadlines.append(max(activity + config.inactivityTimeoutMs, try inactivityExtendedUntil()))
            default:
                break
            }
        }
        guard let earliest = deadlines.min() else {
            try state.storage.deleteAlarm()
            return
        }
        try state.storage.setAlarm(atMilliseconds: max(earliest, now + Timing.minimumAlarmDelayMs))
    }
}

/// Socket tags (reference §1.4): the sandbox's socket, and one `wsid:` per client socket.
enum SocketTags {
    static let sandbox = "sandbox"
    static let client = "client"
    static func sandboxID(_ id: String) -> String { "sid:" + id }
    static func clientID(_ id: String) -> String { "wsid:" + id }
}
