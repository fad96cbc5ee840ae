import RuntimeAPI

/// Why a PR push did not happen.
struct PushFailure: Error, CustomStringConvertible {
    let description: String
}

/// The sandbox side of the session (reference §1.8, §1.10, §1.12, §1.17): the bridge's socket, its
/// events, the prompt queue, and spawn / snapshot / restore / stop through the provider.
extension SessionObject {
    func sandboxSocket() -> WebSocket? {
        state.getWebSockets(tag: SocketTags.sandbox).last { Self.isLive($0) }
    }

    // MARK: The bridge connects

    /// `?type=sandbox` upgrades: 410 once the sandbox is stopped or stale, 401 for a wrong token, 403
    /// for a sandbox id other than the expected one. A new socket replaces an older one.
    func acceptSandbox(_ request: Request) async throws -> Response {
        guard try session != nil, let box = try sandbox else { throw HTTPError(404, "no such session") }
        let status = box["status"]?.string ?? SandboxStatus.pending
        if status == SandboxStatus.stopped || status == SandboxStatus.stale {
            throw HTTPError(410, "sandbox is \(status)")
        }
        let header = request.headers["authorization"] ?? ""
        guard header.hasPrefix("Bearer "), let stored = box["auth_token"]?.string,
              Crypto.constantTimeEqual(Array(Self.tokenHash(String(header.dropFirst(7))).utf8), Array(stored.utf8)) else {
            throw HTTPError(401, "invalid sandbox token")
        }
        guard let expected = box["modal_sandbox_id"]?.string, request.headers["x-sandbox-id"] == expected else {
            throw HTTPError(403, "sandbox id mismatch")
        }
        for old in state.getWebSockets(tag: SocketTags.sandbox) { try? old.close(code: 1000, reason: "New sandbox connecting") }
        let pair = WebSocketPair()
        try state.acceptWebSocket(pair.server, tags: [SocketTags.sandbox, SocketTags.sandboxID(expected)])
        let now = WallClock.milliseconds()
        try setSandbox("status = 'ready', last_heartbeat = ?, last_activity = ?", .integer(now), .integer(now))
        try clearInactivityExtensions()
        broadcast(["type": "sandbox_status", "status": "ready"])
        try armAlarm(now: now)
        // Sent now, these wait in the socket until the upgrade completes.
        try await processQueue()
        try flushQueuedAnswers()
        return Response(webSocket: pair.client)
    }

    func verifySandboxToken(_ token: String) -> Bool {
        guard let stored = (try? sandbox)??["auth_token"]?.string else { return false }
        return Crypto.constantTimeEqual(Array(Self.tokenHash(token).utf8), Array(stored.utf8))
    }

    // MARK: Events from the bridge

    func sandboxMessage(_ socket: WebSocket, _ bytes: [UInt8]) async throws {
        guard bytes.count <= Limits.maxSandboxFrameBytes, var event = try? JSON.parse(bytes), event.object != nil,
              let type = event["type"]?.string else {
            Self.send(socket, ["type": "error", "code": "INVALID_MESSAGE", "message": "expected a JSON object with a string \"type\""])
            return
        }
        let now = WallClock.milliseconds()
        let sandboxID = socket.tags.first { $0.hasPrefix("sid:") }.map { String($0.dropFirst(4)) }
        event[set: "sandboxId"] = JSON(sandboxID)
        event[set: "timestamp"] = .double(Double(now) / 1000)

        let processingID = try processingMessage()?["id"]?.string
        if type == "heartbeat" {
            try setSandbox("last_heartbeat = ?", .integer(now))
            // Not stored (reference §1.11); while a prompt runs, a heartbeat counts as activity.
            if processingID != nil { try noteActivity(now) }
            return
        }
        let messageID = event["messageId"]?.string ?? processingID
        switch type {
        case "push_complete", "push_error":
            settlePush(event)
            return
        case "execution_complete":
            try relayEvent(event, type: type, messageID: messageID, now: now)
            try await executionComplete(event, messageID: messageID, now: now)
            return
        case "session_title_updated":
            if let title = event["title"]?.string, !title.isEmpty {
                let clipped = String(title.prefix(Limits.maxTitleBytes))
                try sql("UPDATE session SET title = ?, updated_at = ?", .text(clipped), .integer(now))
                try await updateIndex(title: clipped)
            }
        case "port_detected":
            if let port = event["port"]?.int, (1024...65535).contains(port) {
                var ports = Set((Self.parsed(try sandbox?["active_ports"]?.string)?.array ?? []).compactMap(\.int))
                if ports.insert(port).inserted {
                    let sorted = ports.sorted().map { JSON.int($0) }
                    try setSandbox("active_ports = ?", .text(JSON.array(sorted).text))
                    broadcast(["type": "active_ports_updated", "activePorts": .array(sorted)])
                }
            }
        case "git_sync":
            if let status = event["status"]?.string {
                try setSandbox("git_sync_status = ?", .text(status))
                if let sha = event["sha"]?.string { try sql("UPDATE session SET current_sha = ?", .text(sha)) }
            }
        case "ready":
            if let id = event["opencodeSessionId"]?.string { try sql("UPDATE session SET opencode_session_id = ?", .text(id)) }
        case "tool_call":
            // An agent question holds off the inactivity stop until it is answered.
            if let tool = event["tool"]?.string?.lowercased(),
               ["question", "askuserquestion", "mcp__conductor__askuserquestion"].contains(tool),
               let callID = event["callId"]?.string, event["status"]?.string != "completed" {
                try sql("INSERT OR IGNORE INTO pending_questions (request_id, created_at) VALUES (?, ?)", .text(callID), .integer(now))
            }
            if processingID != nil { try noteActivity(now) }
        default:
            if processingID != nil { try noteActivity(now) }
        }
        try relayEvent(event, type: type, messageID: messageID, now: now)
    }

    /// Records sandbox activity, at most once a second (the timeouts it feeds are minutes long, and an
    /// UPDATE per streamed event was a good part of each event's cost).
    func noteActivity(_ now: Int64) throws {
        guard now - lastActivityWritten >= 1000 else { return }
        try setSandbox("last_activity = ?", .integer(now))
        lastActivityWritten = now
    }

    /// The prompt ended: its message completes or fails, the sandbox is snapshotted, the alarm re-armed,
    /// and the next queued prompt starts.
    private func executionComplete(_ event: JSON, messageID: String?, now: Int64) async throws {
        let success = event["success"]?.bool ?? false
        if let messageID {
            try sql("UPDATE messages SET status = ?, completed_at = ?, error_message = ? WHERE id = ? AND status = 'processing'",
                    .text(success ? "completed" : "failed"), .integer(now), Self.optional(event["error"]?.string),
                    .text(messageID))
        }
        try setSandbox("last_activity = ?", .integer(now))
        try touchSession(now: now)
        broadcast(["type": "processing_status", "isProcessing": .bool(try processingMessage() != nil)])
        if let messageID { notifySlack(messageID: messageID, success: success) }
        try armAlarm(now: now)
        try await processQueue()
        if try processingMessage() == nil { try await snapshot(reason: "execution_complete") }
        try await updateIndex()
    }

    func sandboxClosed(_ socket: WebSocket, code: Int, wasClean: Bool) async throws {
        // Only the current sandbox's socket changes the status; a replaced one just goes.
        let others = state.getWebSockets(tag: SocketTags.sandbox).filter { $0 !== socket && Self.isLive($0) }
        guard others.isEmpty else { return }
        let status = sandboxStatus
        guard !SandboxStatus.terminal.contains(status) else { return }
        // A bridge that vanished without a close frame is stale: its sandbox may still hold work, so the
        // next prompt restores from the last snapshot. A clean close is a stop.
        let next = wasClean ? SandboxStatus.stopped : SandboxStatus.stale
        try setSandbox("status = ?", .text(next))
        broadcast(["type": "sandbox_status", "status": .string(next)])
        try failProcessing(error: "sandbox disconnected")
        try armAlarm()
    }

    /// Fails the processing message (the sandbox went away or the prompt overran).
    func failProcessing(error: String) throws {
        guard let processing = try processingMessage(), let id = processing["id"]?.string else { return }
        let now = WallClock.milliseconds()
        try sql("UPDATE messages SET status = 'failed', completed_at = ?, error_message = ? WHERE id = ?",
                .integer(now), .text(error), .text(id))
        let event: JSON = ["type": "execution_complete", "messageId": .string(id), "success": false, "error": .string(error),
                           "timestamp": .double(Double(now) / 1000)]
        try relayEvent(event, type: "execution_complete", messageID: id, now: now)
        broadcast(["type": "processing_status", "isProcessing": false])
        notifySlack(messageID: id, success: false)
    }

    // MARK: The prompt queue (reference §1.10)

    func processQueue() async throws {
        guard try processingMessage() == nil else { return }
        guard let next = try sql("SELECT * FROM messages WHERE status = 'pending' ORDER BY created_at, rowid LIMIT 1").rows.first,
              let id = next["id"]?.string else { return }
        guard let socket = sandboxSocket() else {
            if !isSpawningSandbox, sandboxStatus != SandboxStatus.spawning, sandboxStatus != SandboxStatus.connecting {
                broadcast(["type": "sandbox_spawning"])
                try await spawnSandbox()
            }
            return
        }
        let now = WallClock.milliseconds()
        try sql("UPDATE messages SET status = 'processing', started_at = ? WHERE id = ?", .integer(now), .text(id))
        try setSandbox("last_activity = ?", .integer(now))
        try clearInactivityExtensions()
        broadcast(["type": "processing_status", "isProcessing": true])
        let author = try sql("SELECT * FROM participants WHERE id = ?", .text(next["author_id"]?.string ?? "")).rows.first
        let sessionModel = try session?["model"]?.string
        let model = next["model"]?.string ?? sessionModel ?? config.defaultModel
        var command: JSON = [
            "type": "prompt", "messageId": .string(id), "content": next["content"].map(Self.json) ?? "",
            "model": .string(Models.sandboxModel(model, provider: config.modelProvider)),
            "author": ["userId": author?["user_id"].map(Self.json) ?? .null,
                       "githubName": author?["github_name"].map(Self.json) ?? .null,
                       "githubEmail": author?["github_email"].map(Self.json) ?? .null],
        ]
        if let attachments = Self.parsed(next["attachments"]?.string) { command[set: "attachments"] = attachments }
        Self.send(socket, command)
        try armAlarm(now: now)
    }

    /// `stop`: the bridge ends the prompt and answers with `execution_complete`.
    func stopExecution() async throws -> JSON {
        if let socket = sandboxSocket() {
            Self.send(socket, ["type": "stop"])
        } else {
            try failProcessing(error: "stopped")
            try await processQueue()
        }
        return ["status": "stopping"]
    }

    /// Prompts that overran the execution timeout fail, and the bridge is told to stop.
    func failOverdueExecution(now: Int64) async throws {
        guard let processing = try processingMessage(), let started = processing["started_at"]?.int,
              now - Int64(started) >= config.executionTimeoutMs else { return }
        if let socket = sandboxSocket() { Self.send(socket, ["type": "stop"]) }
        try failProcessing(error: "execution timed out")
        try await processQueue()
    }

    // MARK: Questions

    func answerQuestion(requestID: String, answers: JSON, from socket: WebSocket?) async throws {
        try sql("DELETE FROM pending_questions WHERE request_id = ? AND answers IS NULL", .text(requestID))
        if let sandbox = sandboxSocket() {
            Self.send(sandbox, ["type": "question_reply", "requestId": .string(requestID), "answers": answers])
            return
        }
        try sql("INSERT OR REPLACE INTO pending_questions (request_id, answers, created_at) VALUES (?, ?, ?)",
                .text(requestID), .text(answers.text), .integer(WallClock.milliseconds()))
        let status = sandboxStatus
        if SandboxStatus.terminal.contains(status) || status == SandboxStatus.pending {
            broadcast(["type": "sandbox_warming", "message": "Starting the sandbox to deliver your answer"])
            try await spawnSandbox()
        } else {
            broadcast(["type": "question_answer_queued", "requestId": .string(requestID),
                       "message": "The answer goes to the sandbox once it connects"])
        }
    }

    /// REST `POST /sessions/:id/question/:requestId/reply`: true when the sandbox got it now.
    func replyToQuestion(requestID: String, answers: JSON) -> Bool {
        guard let sandbox = sandboxSocket() else { return false }
        _ = try? sql("DELETE FROM pending_questions WHERE request_id = ?", .text(requestID))
        Self.send(sandbox, ["type": "question_reply", "requestId": .string(requestID), "answers": answers])
        return true
    }

    private func flushQueuedAnswers() throws {
        guard let socket = sandboxSocket() else { return }
        for row in try sql("SELECT * FROM pending_questions WHERE answers IS NOT NULL ORDER BY created_at").rows {
            guard let id = row["request_id"]?.string, let answers = Self.parsed(row["answers"]?.string) else { continue }
            Self.send(socket, ["type": "question_reply", "requestId": .string(id), "answers": answers])
            try sql("DELETE FROM pending_questions WHERE request_id = ?", .text(id))
        }
    }

    // MARK: Spawn, restore (reference §1.12)

    /// Starts a sandbox unless a guard says not to; each skip re-broadcasts the current status so
    /// clients do not stay on "warming".
    func spawnSandbox() async throws {
        guard !isSpawningSandbox, let box = try sandbox, let session = try session else { return }
        let now = WallClock.milliseconds()
        let status = box["status"]?.string ?? SandboxStatus.pending
        let failures = box["spawn_failure_count"]?.int ?? 0
        let lastFailure = Int64(box["last_spawn_failure"]?.int ?? 0)
        let lastSpawn = Int64(box["created_at"]?.int ?? 0)
        func skip() { broadcast(["type": "sandbox_status", "status": .string(status)]) }

        // 1. The circuit breaker.
        if failures >= Timing.breakerFailures {
            let wait = lastFailure + Timing.breakerWindowMs - now
            if wait > 0 {
                broadcast(["type": "sandbox_error",
                           "error": .string("Sandbox failed to start \(failures) times; retrying is paused for \((wait + 999) / 1000) s")])
                return
            }
            try setSandbox("spawn_failure_count = 0")
        }
        // 2. (below) A snapshot of a sandbox that ended is restored rather than spawned fresh.
        // 3. A spawn in progress, unless stuck.
        if status == SandboxStatus.spawning || status == SandboxStatus.connecting {
            if now - lastSpawn < Timing.spawnStuckMs { return skip() }
            try setSandbox("status = 'failed'")
        }
        // 4. Ready already.
        if status == SandboxStatus.ready || status == SandboxStatus.running {
            if sandboxSocket() != nil { return skip() }
            if now - lastSpawn < Timing.readyWithoutSocketMs { return skip() }
        }
        // 5. The cooldown.
        let current = try sandbox?["status"]?.string ?? status
        if now - lastSpawn < Timing.spawnCooldownMs, current != SandboxStatus.failed, current != SandboxStatus.stopped,
           current != SandboxStatus.stale {
            return skip()
        }

        isSpawningSandbox = true
        defer { isSpawningSandbox = false }
        let token = IDs.make()
        let owner = session["repo_owner"]?.string ?? "", name = session["repo_name"]?.string ?? ""
        let expectedID = "sandbox-\(owner)-\(name)-\(now)"
        let snapshotImage = box["snapshot_image_id"]?.string
        let restoring = snapshotImage != nil && SandboxStatus.terminal.union([SandboxStatus.pending]).contains(current)
        // Persisted before the provider is called, so a fast bridge is not refused.
        try setSandbox("status = 'spawning', created_at = ?, auth_token = ?, modal_sandbox_id = ?, last_heartbeat = NULL",
                       .integer(now), .text(Self.tokenHash(token)), .text(expectedID))
        broadcast(["type": "sandbox_status", "status": "spawning"])
        try armAlarm(now: now)

        let model = session["model"]?.string ?? config.defaultModel
        let sessionConfig: JSON = ["session_id": .string(sessionName), "repo_owner": .string(owner), "repo_name": .string(name),
                                   "provider": .string(config.modelProvider), "model": .string(model),
                                   "agent": .string(config.agent)]
        do {
            let provider = try SandboxProviderClient(env, config: config)
            // The agent's secrets: the global ones, the repository's over them (read fresh for each start).
            let secrets = try await AgentSecrets(env).environment(owner: owner, name: name)
            let userEnvironment = JSON.object(secrets.mapValues { .string($0) })
            let data: JSON
            if restoring, let snapshotImage {
                data = try await provider.call("/sandbox/restore", [
                    "snapshot_image_id": .string(snapshotImage), "session_config": sessionConfig,
                    "sandbox_id": .string(expectedID), "control_plane_url": .string(config.workerURL),
                    "sandbox_auth_token": .string(token), "user_env_vars": userEnvironment,
                ])
            } else {
                let owner = try ownerIdentity()
                data = try await provider.call("/sandbox/create", [
                    "session_id": .string(sessionName), "sandbox_id": .string(expectedID), "repo_owner": .string(owner.repoOwner),
                    "repo_name": .string(owner.repoName), "control_plane_url": .string(config.workerURL),
                    "sandbox_auth_token": .string(token), "provider": .string(config.modelProvider), "model": .string(model),
                    "agent": .string(config.agent), "git_user_name": JSON(owner.name), "git_user_email": JSON(owner.email),
                    "user_env_vars": userEnvironment, "base_branch": JSON(session["base_branch"]?.string),
                ])
            }
            // The restore's new provider handle and tunnels are saved too (the original lost them).
            let tunnels = data["tunnel_urls"] ?? [:]
            try setSandbox("modal_object_id = ?, tunnel_urls = ?, spawn_failure_count = 0",
                           Self.optional(data["modal_object_id"]?.string), .text(tunnels.text))
            broadcast(["type": "tunnel_urls_updated", "tunnelUrls": tunnels])
            if let pending = try state.storage.getString("snapshot_pending") {
                try state.storage.delete("snapshot_pending")
                if try processingMessage() == nil { try await snapshot(reason: pending) }
            }
            // The bridge may have connected while the provider answered.
            if sandboxStatus == SandboxStatus.spawning {
                try setSandbox("status = 'connecting'")
                broadcast(["type": "sandbox_status", "status": "connecting"])
            }
            if restoring { broadcast(["type": "sandbox_restored", "message": "Sandbox restored from the last snapshot"]) }
        } catch {
            let failed = WallClock.milliseconds()
            try setSandbox("status = 'failed', spawn_failure_count = spawn_failure_count + 1, last_spawn_failure = ?",
                           .integer(failed))
            Log.warn("session \(sessionName): sandbox \(restoring ? "restore" : "spawn") failed: \(error)")
            broadcast(["type": "sandbox_status", "status": "failed"])
            broadcast(["type": "sandbox_error", "error": .string("Sandbox failed to start: \(error)")])
        }
        try armAlarm()
    }

    /// The repository and the session owner's git identity, for a fresh sandbox.
    private func ownerIdentity() throws -> (repoOwner: String, repoName: String, name: String?, email: String?) {
        let session = try self.session
        let owner = try sql("SELECT * FROM participants WHERE role = 'owner' ORDER BY joined_at LIMIT 1").rows.first
        return (session?["repo_owner"]?.string ?? "", session?["repo_name"]?.string ?? "",
                owner?["github_name"]?.string ?? owner?["github_login"]?.string, owner?["github_email"]?.string)
    }

    // MARK: Snapshot and stop

    /// Archives the sandbox's workspace through the provider; the status shows `snapshotting` while it
    /// runs (unless the sandbox already ended) and returns afterwards.
    func snapshot(reason: String) async throws {
        guard let box = try sandbox else { return }
        guard let object = box["modal_object_id"]?.string else {
            // The bridge finished before the provider's create answered: snapshot once it does.
            if box["status"]?.string == SandboxStatus.ready { try state.storage.put("snapshot_pending", string: reason) }
            return
        }
        let before = box["status"]?.string ?? SandboxStatus.pending
        let terminal = SandboxStatus.terminal.contains(before)
        if !terminal {
            try setSandbox("status = 'snapshotting'")
            broadcast(["type": "sandbox_status", "status": "snapshotting"])
        }
        defer {
            if !terminal, sandboxStatus == SandboxStatus.snapshotting {
                try? setSandbox("status = ?", .text(before))
                broadcast(["type": "sandbox_status", "status": .string(before)])
            }
        }
        do {
            let provider = try SandboxProviderClient(env, config: config)
            let data = try await provider.call("/sandbox/snapshot", ["sandbox_id": .string(object), "session_id": .string(sessionName),
                                                                     "reason": .string(reason)])
            guard let image = data["image_id"]?.string else { return }
            try setSandbox("snapshot_image_id = ?", .text(image))
            broadcast(["type": "snapshot_saved", "imageId": .string(image), "reason": .string(reason)])
        } catch {
            Log.warn("session \(sessionName): snapshot (\(reason)) failed: \(error)")
        }
    }

    /// Stops the sandbox for good: `stopped` first (so the bridge cannot reconnect), a snapshot,
    /// `shutdown` to the bridge, its socket closed, and the provider told to terminate it.
    func stopSandbox(reason: String, snapshotFirst: Bool = true) async throws {
        guard let box = try sandbox else { return }
        let status = box["status"]?.string ?? SandboxStatus.pending
        if status == SandboxStatus.pending, sandboxSocket() == nil { return }
        try setSandbox("status = 'stopped'")
        broadcast(["type": "sandbox_status", "status": "stopped"])
        if snapshotFirst, status != SandboxStatus.stale { try await snapshot(reason: reason) }
        for socket in state.getWebSockets(tag: SocketTags.sandbox) {
            Self.send(socket, ["type": "shutdown"])
            try? socket.close(code: 1000, reason: String(reason.prefix(100)))
        }
        if let object = box["modal_object_id"]?.string {
            do {
                _ = try await SandboxProviderClient(env, config: config).call("/sandbox/terminate", ["sandbox_id": .string(object)])
            } catch {
                Log.warn("session \(sessionName): terminate failed: \(error)")
            }
        }
        try failProcessing(error: "sandbox stopped")
    }

    // MARK: The alarm's sandbox checks (reference §1.17, fixed)

    func checkSandboxHealth(now: Int64) async throws {
        guard let box = try sandbox, let status = box["status"]?.string else { return }
        switch status {
        case SandboxStatus.spawning, SandboxStatus.connecting:
            if now - Int64(box["created_at"]?.int ?? 0) >= Timing.spawnStuckMs {
                try setSandbox("status = 'failed', spawn_failure_count = spawn_failure_count + 1, last_spawn_failure = ?",
                               .integer(now))
                broadcast(["type": "sandbox_status", "status": "failed"])
                broadcast(["type": "sandbox_error", "error": "Sandbox did not connect in time"])
            }
        case SandboxStatus.ready, SandboxStatus.running:
            let heartbeat = Int64(box["last_heartbeat"]?.int ?? Int(now))
            if now - heartbeat > config.heartbeatStaleMs {
                try setSandbox("status = 'stale'")
                broadcast(["type": "sandbox_status", "status": "stale"])
                for socket in state.getWebSockets(tag: SocketTags.sandbox) { try? socket.close(code: 1000, reason: "Heartbeat timeout") }
                try failProcessing(error: "sandbox heartbeat timed out")
                try await snapshot(reason: "heartbeat_timeout")
                return
            }
            try await checkInactivity(box, now: now)
        default:
            break
        }
    }

    /// Inactivity never stops a sandbox while a prompt is processing. With clients watching or a
    /// question pending it is extended 5 minutes at a time, at most `maxInactivityExtensions` times
    /// (the original extended forever while a tab stayed open).
    private func checkInactivity(_ box: SQLRow, now: Int64) async throws {
        guard try processingMessage() == nil else { return }
        let activity = Int64(box["last_activity"]?.int ?? Int(now))
        let due = max(activity + config.inactivityTimeoutMs, try inactivityExtendedUntil())
        guard now >= due else { return }
        let questions = try sql("SELECT count(*) FROM pending_questions WHERE answers IS NULL").rows.first?[0].int ?? 0
        let extensions = try state.storage.getInt("inactivity_extensions") ?? 0
        if (!subscribedClients().isEmpty || questions > 0), extensions < Self.maxInactivityExtensions {
            try state.storage.put("inactivity_extensions", int: extensions + 1)
            try state.storage.put("inactivity_extended_until", string: String(now + Timing.inactivityExtensionMs))
            broadcast(["type": "sandbox_warning", "message": .string(questions > 0
                ? "The sandbox is waiting for your response; it stops in 5 minutes without one"
                : "The sandbox stops in 5 minutes due to inactivity")])
            return
        }
        try await stopSandbox(reason: "Inactivity timeout")
        broadcast(["type": "sandbox_warning", "message": "Sandbox stopped due to inactivity, snapshot saved"])
    }

    static let maxInactivityExtensions = 3

    func inactivityExtendedUntil() throws -> Int64 {
        Int64(try state.storage.getString("inactivity_extended_until") ?? "") ?? 0
    }

    func clearInactivityExtensions() throws {
        try state.storage.delete(["inactivity_extensions", "inactivity_extended_until"])
    }

    // MARK: Slack (reference §1.15, over the service binding)

    /// Tells the Slack bot a prompt it sent finished: `{sessionId, messageId, success, timestamp,
    /// context, signature}`, the signature an HMAC over the JSON of the other five fields in that order.
    func notifySlack(messageID: String, success: Bool) {
        guard let row = try? sql("SELECT callback_context FROM messages WHERE id = ?", .text(messageID)).rows.first,
              let contextText = row["callback_context"]?.string, let context = try? JSON.parse(contextText),
              let secret = env.secrets["INTERNAL_CALLBACK_SECRET"], let service = env.services["SLACK_BOT"] else { return }
        let timestamp = WallClock.milliseconds()
        let signed = "{\"sessionId\":\(JSON.string(sessionName).text),\"messageId\":\(JSON.string(messageID).text),"
            + "\"success\":\(success),\"timestamp\":\(timestamp),\"context\":\(context.text)}"
        let signature = Encoding.hex(Crypto.hmacSHA256(key: Array(secret.utf8), signed))
        let body: JSON = ["sessionId": .string(sessionName), "messageId": .string(messageID), "success": .bool(success),
                          "timestamp": .int(timestamp), "context": context, "signature": .string(signature)]
        let session = sessionName
        Task {
            for attempt in 1...2 {
                let request = Request(method: "POST", url: URLParts(scheme: "https", host: "internal", path: "/callbacks/complete"),
                                      headers: ["Content-Type": "application/json", "Host": "internal"], body: body.bytes)
                if let response = try? await service.fetch(request), (200..<300).contains(response.status) { return }
                if attempt == 1 { try? await Task.sleep(for: .seconds(1)) }
            }
            Log.warn("session \(session): the Slack completion callback failed twice")
        }
    }
}
