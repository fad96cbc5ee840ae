import RuntimeAPI

/// What a client socket carries in its attachment, so it survives the object's hibernation.
struct ClientInfo: Sendable {
    var wsid: String
    var connectedAt: Int64
    var subscribed = false
    var participantID: String?
    var clientID: String?
    var userID: String?
    var status = "active"
    var lastSeen: Int64 = 0

    init(wsid: String, connectedAt: Int64) {
        self.wsid = wsid
        self.connectedAt = connectedAt
    }

    init(_ socket: WebSocket) {
        let value = socket.deserializeAttachment().flatMap { try? JSON.parse($0) } ?? [:]
        wsid = value["wsid"]?.string ?? ""
        connectedAt = value["connectedAt"]?.int ?? 0
        subscribed = value["subscribed"]?.bool ?? false
        participantID = value["participantId"]?.string
        clientID = value["clientId"]?.string
        userID = value["userId"]?.string
        status = value["status"]?.string ?? "active"
        lastSeen = value["lastSeen"]?.int ?? connectedAt
    }

    func save(to socket: WebSocket) throws {
        let value: JSON = ["wsid": .string(wsid), "connectedAt": .int(connectedAt), "subscribed": .bool(subscribed),
                           "participantId": JSON(participantID), "clientId": JSON(clientID), "userId": JSON(userID),
                           "status": .string(status), "lastSeen": .int(lastSeen)]
        try socket.serializeAttachment(value.bytes)
    }
}

/// The client side of the session's WebSocket hub (reference §1.7, §1.9, §1.11).
extension SessionObject {
    func acceptClient(_ request: Request) throws -> Response {
        try requireInitialized()
        guard clientSockets().count < Limits.maxClientsPerSession else {
            throw HTTPError(503, "too many clients on this session")
        }
        let pair = WebSocketPair()
        let info = ClientInfo(wsid: "\(WallClock.milliseconds())-\(IDs.make(4))", connectedAt: WallClock.milliseconds())
        try state.acceptWebSocket(pair.server, tags: [SocketTags.client, SocketTags.clientID(info.wsid)])
        try saveClientInfo(info, pair.server)
        try armAlarm()
        return Response(webSocket: pair.client)
    }

    func clientSockets() -> [WebSocket] { state.getWebSockets(tag: SocketTags.client) }

    func subscribedClients() -> [WebSocket] { clientSockets().filter { clientInfo($0).subscribed } }

    /// The socket's attachment, decoded once per instance.
    func clientInfo(_ socket: WebSocket) -> ClientInfo {
        if let cached = clientInfos[ObjectIdentifier(socket)], cached.socket === socket { return cached.info }
        let info = clientInfo(socket)
        clientInfos[ObjectIdentifier(socket)] = (socket, info)
        return info
    }

    func saveClientInfo(_ info: ClientInfo, _ socket: WebSocket) throws {
        try info.save(to: socket)
        clientInfos[ObjectIdentifier(socket)] = (socket, info)
    }

    /// Sends `message` to every subscribed client.
    func broadcast(_ message: JSON) { broadcastText(message.text) }

    func broadcastText(_ text: String) {
        for socket in subscribedClients() where Self.isLive(socket) { socket.send(text) }
    }

    /// Open, or still connecting (what is sent then waits for the upgrade to finish).
    static func isLive(_ socket: WebSocket) -> Bool {
        socket.readyState == .open || socket.readyState == .connecting
    }

    static func send(_ socket: WebSocket, _ message: JSON) {
        if isLive(socket) { socket.send(message.text) }
    }

    static func sendError(_ socket: WebSocket, code: String, _ message: String) {
        send(socket, ["type": "error", "code": .string(code), "message": .string(message)])
    }

    func clientMessage(_ socket: WebSocket, _ bytes: [UInt8]) async throws {
        guard bytes.count <= Limits.maxClientFrameBytes else {
            return Self.sendError(socket, code: "INVALID_MESSAGE", "message over \(Limits.maxClientFrameBytes) bytes")
        }
        let message: JSON
        do {
            message = try JSON.parse(bytes)
        } catch {
            return Self.sendError(socket, code: "INVALID_MESSAGE", "\(error)")
        }
        guard let type = message["type"]?.string else {
            return Self.sendError(socket, code: "INVALID_MESSAGE", "expected a JSON object with a string \"type\"")
        }
        var info = clientInfo(socket)
        guard !info.wsid.isEmpty else {
            // A client socket without its attachment cannot be told apart after hibernation (§1.7).
            try? socket.close(code: 4002, reason: "Session expired")
            return
        }
        do {
            switch type {
            case "ping":
                Self.send(socket, ["type": "pong", "timestamp": .int(WallClock.milliseconds())])
            case "subscribe":
                try await subscribe(socket, &info, message)
            default:
                guard info.subscribed, let participantID = info.participantID else {
                    return Self.sendError(socket, code: "NOT_SUBSCRIBED", "send subscribe first")
                }
                try await subscribedMessage(socket, &info, participantID: participantID, type: type, message)
            }
        } catch let error as any HTTPResponseError {
            Self.sendError(socket, code: "INVALID_MESSAGE", error.publicMessage)
        }
    }

    private func subscribedMessage(_ socket: WebSocket, _ info: inout ClientInfo, participantID: String, type: String,
                                   _ message: JSON) async throws {
        switch type {
        case "prompt":
            guard let content = message["content"]?.string, !content.trimmed.isEmpty else {
                throw HTTPError(400, "prompt: content is required")
            }
            guard content.utf8.count <= Limits.maxPromptBytes else { throw HTTPError(400, "prompt: content over \(Limits.maxPromptBytes) bytes") }
            let input = PromptInput(content: content, authorUserID: info.userID ?? "anonymous", source: "web",
                                    model: message["model"]?.string, attachments: message["attachments"], callbackContext: nil)
            let queued = try await enqueuePrompt(input, participantID: participantID, startQueue: false)
            Self.send(socket, ["type": "prompt_queued", "messageId": queued["messageId"] ?? .null,
                               "position": queued["position"] ?? .null])
            try await processQueue()
        case "stop":
            _ = try await stopExecution()
        case "typing":
            if sandboxSocket() == nil, !isSpawningSandbox {
                let status = sandboxStatus
                if status != SandboxStatus.spawning, status != SandboxStatus.connecting {
                    broadcast(["type": "sandbox_warming"])
                    try await spawnSandbox()
                }
            }
        case "presence":
            let status = message["status"]?.string ?? "active"
            guard status == "active" || status == "idle" || status == "away" else { throw HTTPError(400, "presence: status active, idle or away") }
            info.status = status
            info.lastSeen = WallClock.milliseconds()
            try saveClientInfo(info, socket)
            broadcast(["type": "presence_update", "participants": .array(try presenceList())])
        case "question_answer":
            guard let requestID = message["requestId"]?.string, !requestID.isEmpty, let answers = message["answers"], answers.array != nil else {
                throw HTTPError(400, "question_answer: requestId and answers (string[][]) are required")
            }
            try await answerQuestion(requestID: requestID, answers: answers, from: socket)
        default:
            throw HTTPError(400, "unknown message type \"\(type.prefix(64))\"")
        }
    }

    /// `subscribe {token, clientId}`: the token's hash must match a participant's current token.
    private func subscribe(_ socket: WebSocket, _ info: inout ClientInfo, _ message: JSON) async throws {
        guard let token = message["token"]?.string, !token.isEmpty, token.utf8.count <= 256,
              let row = try sql("SELECT id, user_id, ws_token_created_at FROM participants WHERE ws_auth_token = ?",
                                .text(Self.tokenHash(token))).rows.first,
              let participantID = row["id"]?.string else {
            try? socket.close(code: 4001, reason: "Authentication required")
            return
        }
        let issued = Int64(row["ws_token_created_at"]?.int ?? 0)
        guard WallClock.milliseconds() - issued <= Self.webSocketTokenLifetimeMs else {
            try? socket.close(code: 4001, reason: "Token expired")
            return
        }
        let now = WallClock.milliseconds()
        info.subscribed = true
        info.participantID = participantID
        info.userID = row["user_id"]?.string
        info.clientID = message["clientId"]?.string.map { String($0.prefix(128)) }
        info.lastSeen = now
        try saveClientInfo(info, socket)
        try sql("INSERT OR REPLACE INTO ws_client_mapping (ws_id, participant_id, client_id, created_at) VALUES (?, ?, ?, ?)",
                .text(info.wsid), .text(participantID), Self.optional(info.clientID), .integer(now))
        if state.getWebSocketAutoResponse() == nil {
            state.setWebSocketAutoResponse(try? WebSocketAutoResponse(
                request: #"{"type":"ping"}"#, response: #"{"type":"pong","timestamp":\#(now)}"#))
        }
        let presence = try self.presence(participantID: participantID)
        var subscribed: JSON = ["type": "subscribed", "sessionId": .string(sessionName), "state": try sessionState(),
                                "participantId": .string(participantID)]
        if let presence {
            subscribed[set: "participant"] = ["participantId": .string(participantID), "name": .string(presence.name),
                                              "avatar": JSON(presence.avatar)]
        }
        Self.send(socket, subscribed)
        try sendHistory(to: socket)
        let everyone = JSON.array(try presenceList())
        Self.send(socket, ["type": "presence_sync", "participants": everyone])
        broadcast(["type": "presence_update", "participants": everyone])
        try armAlarm()
    }

    /// How long a ws-token may be used to subscribe after it was issued.
    static let webSocketTokenLifetimeMs: Int64 = 60 * 60 * 1000

    /// One entry per subscribed socket (a user with two tabs appears twice, with one participant id).
    func presenceList(excluding closing: WebSocket? = nil) throws -> [JSON] {
        var list: [JSON] = []
        var cache: [String: Presence] = [:]
        for socket in subscribedClients() where socket !== closing {
            let info = clientInfo(socket)
            guard let participantID = info.participantID else { continue }
            if cache[participantID] == nil { cache[participantID] = try presence(participantID: participantID) }
            guard let presence = cache[participantID] else { continue }
            list.append(["participantId": .string(participantID), "userId": .string(presence.userID),
                         "name": .string(presence.name), "avatar": JSON(presence.avatar), "status": .string(info.status),
                         "lastSeen": .int(info.lastSeen), "clientId": JSON(info.clientID)])
        }
        return list
    }

    func clientClosed(_ socket: WebSocket) throws {
        let info = clientInfo(socket)
        defer { clientInfos[ObjectIdentifier(socket)] = nil }
        try sql("DELETE FROM ws_client_mapping WHERE ws_id = ?", .text(info.wsid))
        guard info.subscribed, let userID = info.userID else { return }
        // Only when the user's last socket went: a second tab keeps them present.
        let stillHere = subscribedClients().contains { $0 !== socket && Self.isLive($0) && clientInfo($0).userID == userID }
        if !stillHere { broadcast(["type": "presence_leave", "userId": .string(userID)]) }
        broadcast(["type": "presence_update", "participants": .array(try presenceList(excluding: socket))])
    }

    /// Closes clients that did not subscribe in time (4008).
    func closeUnsubscribedClients(now: Int64) {
        for socket in clientSockets() {
            let info = clientInfo(socket)
            if !info.subscribed, now - info.connectedAt >= config.subscribeTimeoutMs {
                try? socket.close(code: 4008, reason: "Authentication timeout")
            }
        }
    }

    // MARK: Replay (reference §1.11, fixed)

    /// A message as the synthetic `user_message` event: `row` is a messages row joined with its author's
    /// participant columns (github_name, github_login, user_id).
    static func userMessageEvent(_ row: SQLRow) -> JSON {
        let at = Int64(row["created_at"]?.int ?? 0)
        let login = row["github_login"]?.string
        let name = row["github_name"]?.string ?? login ?? row["user_id"]?.string ?? "anonymous"
        return [
            "type": "user_message", "content": row["content"].map(Self.json) ?? .null,
            "messageId": row["id"].map(Self.json) ?? .null, "timestamp": .double(Double(at) / 1000),
            "author": ["participantId": row["author_id"].map(Self.json) ?? .null, "name": .string(name),
                       "avatar": JSON(login.map { "https://github.com/\($0).png" })],
        ]
    }

    /// Messages as `user_message` events, the stored events (no heartbeats are stored; tokens are the
    /// last of each part), in time order, then every artifact, then `history_complete`.
    func sendHistory(to socket: WebSocket) throws {
        /// `frame`: the `sandbox_event` text; stored events are spliced in as stored, not re-encoded.
        struct Item { let at: Int64; let order: Int; let frame: String }
        var items: [Item] = []
        let messages = try sql("""
            SELECT m.*, p.github_name, p.github_login, p.user_id FROM messages m LEFT JOIN participants p ON p.id = m.author_id
            ORDER BY m.created_at DESC LIMIT ?
            """, .integer(Int64(Limits.replayMessages))).rows
        for row in messages {
            let at = Int64(row["created_at"]?.int ?? 0)
            items.append(Item(at: at, order: 0, frame: Self.sandboxEventFrame(Self.userMessageEvent(row).text)))
        }
        let events = try sql("SELECT data, created_at FROM events ORDER BY created_at DESC, rowid DESC LIMIT ?",
                             .integer(Int64(Limits.replayEvents))).rows
        for (index, row) in events.reversed().enumerated() {
            guard let data = row["data"]?.string else { continue }
            items.append(Item(at: Int64(row["created_at"]?.int ?? 0), order: 1 + index, frame: Self.sandboxEventFrame(data)))
        }
        items.sort { $0.at != $1.at ? $0.at < $1.at : $0.order < $1.order }
        for item in items where Self.isLive(socket) { socket.send(item.frame) }
        for artifact in try artifactList() {
            Self.send(socket, ["type": "artifact_created", "artifact": Self.artifactMessage(artifact), "replay": true])
        }
        Self.send(socket, ["type": "history_complete"])
    }

    /// The `artifact` of `artifact_created`: `{id, type, url, messageId, prNumber?}`.
    static func artifactMessage(_ artifact: JSON) -> JSON {
        var message: JSON = ["id": artifact["id"] ?? .null, "type": artifact["type"] ?? .null, "url": artifact["url"] ?? .null,
                             "messageId": artifact["messageId"] ?? .null]
        if let number = artifact["metadata"]?["number"] { message[set: "prNumber"] = number }
        return message
    }
}
