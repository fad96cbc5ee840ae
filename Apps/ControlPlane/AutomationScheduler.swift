import RuntimeAPI

/// Automations (upstream #293): a prompt that starts a new session on a repository on a schedule.
/// One object (`AUTOMATIONS`, named `scheduler`) keeps them all in its SQLite table and sleeps on one
/// alarm, set to the earliest next run.
///
/// A run creates its session under a name derived from the automation and the run's time, so an
/// alarm that is retried after a crash finds the session made already (409) instead of starting a
/// second one: alarms are at-least-once, runs are once.
actor AutomationScheduler: DurableObject {
    let state: DurableObjectState
    let env: Env
    let config: Config
    nonisolated var unownedExecutor: UnownedSerialExecutor { state.executor }
    private var schemaReady = false

    static let binding = "AUTOMATIONS"
    static let objectName = "scheduler"
    static let maxAutomations = 100
    static let maxTitleBytes = 200

    init(state: DurableObjectState, env: Env) {
        self.state = state
        self.env = env
        self.config = Config(env)
    }

    static func stub(_ env: Env) throws -> ObjectStub { try env.namespace(binding).get(name: objectName) }

    private static let schema = """
        CREATE TABLE IF NOT EXISTS automations (
          id TEXT PRIMARY KEY, title TEXT NOT NULL, repo_owner TEXT NOT NULL, repo_name TEXT NOT NULL, base_branch TEXT,
          model TEXT, prompt TEXT NOT NULL, schedule TEXT NOT NULL, enabled INTEGER NOT NULL DEFAULT 1,
          next_run_at INTEGER NOT NULL, last_run_at INTEGER, last_session_id TEXT, last_error TEXT,
          created_by TEXT NOT NULL, created_at INTEGER NOT NULL);
        CREATE INDEX IF NOT EXISTS automations_next ON automations (enabled, next_run_at)
        """

    @discardableResult
    private func sql(_ text: String, _ bindings: SQLValue...) throws -> SQLCursor {
        if !schemaReady {
            try state.storage.sql.exec(Self.schema, [])
            schemaReady = true
        }
        return try state.storage.sql.exec(text, bindings)
    }

    // MARK: REST

    struct Draft: Sendable {
        var title: String
        var repoOwner: String
        var repoName: String
        var baseBranch: String?
        var model: String?
        var prompt: String
        var schedule: AutomationSchedule
        /// The first run; nil: the schedule's first time after now.
        var startAt: Int64?
        var createdBy: String
    }

    func create(_ draft: Draft, now: Int64 = WallClock.milliseconds()) throws -> JSON {
        let count = try sql("SELECT count(*) FROM automations").rows.first?[0].int ?? 0
        guard count < Self.maxAutomations else { throw HTTPError(409, "at most \(Self.maxAutomations) automations; delete one first") }
        let id = IDs.make()
        let next = draft.startAt.map { max($0, now) } ?? draft.schedule.next(after: now)
        try sql("""
            INSERT INTO automations (id, title, repo_owner, repo_name, base_branch, model, prompt, schedule, next_run_at,
                                     created_by, created_at)
            VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
            """, .text(id), .text(draft.title), .text(draft.repoOwner), .text(draft.repoName), Self.optional(draft.baseBranch),
            Self.optional(draft.model), .text(draft.prompt), .text(draft.schedule.json.text), .integer(next), .text(draft.createdBy),
            .integer(now))
        try armAlarm()
        return try one(id)
    }

    /// Replaces what an automation does and when (title, repository, base branch, model, prompt,
    /// schedule), keeping its id, author, state and run history. Its next run moves only when asked
    /// (`startAt`) or when the schedule changed: then it is the new schedule's first time after now.
    func replace(_ id: String, with draft: Draft, now: Int64 = WallClock.milliseconds()) throws -> JSON {
        guard let row = try sql("SELECT schedule, next_run_at FROM automations WHERE id = ?", .text(id)).rows.first else {
            throw HTTPError(404, "no automation \(id)")
        }
        let old = try? AutomationSchedule(Self.parsed(row["schedule"]?.string))
        var next = Int64(row["next_run_at"]?.int ?? 0)
        if let startAt = draft.startAt {
            next = max(startAt, now)
        } else if old != draft.schedule {
            next = draft.schedule.next(after: now)
        }
        try sql("""
            UPDATE automations SET title = ?, repo_owner = ?, repo_name = ?, base_branch = ?, model = ?, prompt = ?, schedule = ?,
                                   next_run_at = ?
            WHERE id = ?
            """, .text(draft.title), .text(draft.repoOwner), .text(draft.repoName), Self.optional(draft.baseBranch),
            Self.optional(draft.model), .text(draft.prompt), .text(draft.schedule.json.text), .integer(next), .text(id))
        try armAlarm()
        return try one(id)
    }

    func list() throws -> [JSON] {
        try sql("SELECT * FROM automations ORDER BY created_at, id").rows.map(Self.json)
    }

    func one(_ id: String) throws -> JSON {
        guard let row = try sql("SELECT * FROM automations WHERE id = ?", .text(id)).rows.first else {
            throw HTTPError(404, "no automation \(id)")
        }
        return Self.json(row)
    }

    func delete(_ id: String) throws {
        guard try sql("DELETE FROM automations WHERE id = ?", .text(id)).rowsWritten == 1 else { throw HTTPError(404, "no automation \(id)") }
        try armAlarm()
    }

    /// Pauses or resumes; a resumed automation next runs at its schedule's first time after now.
    func setEnabled(_ id: String, _ enabled: Bool, now: Int64 = WallClock.milliseconds()) throws -> JSON {
        let row = try one(id)
        let schedule = try AutomationSchedule(row["schedule"] ?? [:])
        try sql("UPDATE automations SET enabled = ?, next_run_at = ? WHERE id = ?", .integer(enabled ? 1 : 0),
                .integer(enabled ? schedule.next(after: now) : Int64(row["nextRunAt"]?.int ?? now)), .text(id))
        try armAlarm()
        return try one(id)
    }

    /// Runs it now, outside its schedule. Returns the new session's id.
    func runNow(_ id: String, now: Int64 = WallClock.milliseconds()) async throws -> JSON {
        guard let row = try sql("SELECT * FROM automations WHERE id = ?", .text(id)).rows.first else {
            throw HTTPError(404, "no automation \(id)")
        }
        let session = try await run(row, at: now)
        try sql("UPDATE automations SET last_run_at = ?, last_session_id = ?, last_error = NULL WHERE id = ?",
                .integer(now), .text(session), .text(id))
        return ["sessionId": .string(session)]
    }

    // MARK: The schedule

    func alarm() async throws {
        let now = WallClock.milliseconds()
        let due = try sql("SELECT * FROM automations WHERE enabled = 1 AND next_run_at <= ? ORDER BY next_run_at", .integer(now)).rows
        for row in due {
            guard let id = row["id"]?.string, let runAt = row["next_run_at"]?.int else { continue }
            let schedule = try AutomationSchedule(Self.parsed(row["schedule"]?.string))
            let next = schedule.next(afterRunAt: Int64(runAt), now: now)
            do {
                let session = try await run(row, at: Int64(runAt))
                try sql("UPDATE automations SET last_run_at = ?, last_session_id = ?, last_error = NULL, next_run_at = ? WHERE id = ?",
                        .integer(Int64(runAt)), .text(session), .integer(next), .text(id))
            } catch {
                Log.warn("automation \(id): the run due at \(runAt) failed: \(error)")
                let reason = (error as? any HTTPResponseError)?.publicMessage ?? "\(error)"
                try sql("UPDATE automations SET last_run_at = ?, last_error = ?, next_run_at = ? WHERE id = ?",
                        .integer(Int64(runAt)), .text(String(reason.prefix(500))), .integer(next), .text(id))
            }
        }
        try armAlarm()
    }

    private func armAlarm() throws {
        guard let next = try sql("SELECT min(next_run_at) FROM automations WHERE enabled = 1").rows.first?[0].int else {
            try state.storage.deleteAlarm()
            return
        }
        try state.storage.setAlarm(atMilliseconds: Int64(next))
    }

    /// Creates the run's session and queues its prompt; the session name is the same for a retry of
    /// the same run.
    private func run(_ row: SQLRow, at runAt: Int64) async throws -> String {
        let id = row["id"]?.string ?? ""
        let name = String(Encoding.hex(Crypto.sha256("automation:\(id):\(runAt)")).prefix(32))
        let author = "automation:" + id
        let parameters = SessionObject.InitParameters(
            sessionName: name, repoOwner: row["repo_owner"]?.string ?? "", repoName: row["repo_name"]?.string ?? "",
            title: row["title"]?.string ?? "Automation", model: row["model"]?.string ?? config.defaultModel, githubTokenSealed: nil,
            userID: author, githubLogin: nil, githubName: row["title"]?.string, githubEmail: nil, githubUserID: nil,
            baseBranch: row["base_branch"]?.string)
        do {
            try await SessionCreation.create(env, parameters)
        } catch let failure as HTTPError where failure.status == 409 {
            return name   // a retried alarm: the run's session exists
        }
        let prompt = SessionObject.PromptInput(content: row["prompt"]?.string ?? "", authorUserID: author, source: "api",
                                               model: nil, attachments: nil, callbackContext: nil)
        _ = try await Sessions.stub(env, name).run(as: SessionObject.self) { try await $0.enqueuePrompt(prompt, participantID: nil) }
        return name
    }

    // MARK: JSON

    static func json(_ row: SQLRow) -> JSON {
        let schedule = (try? AutomationSchedule(parsed(row["schedule"]?.string)))
        return [
            "id": .string(row["id"]?.string ?? ""), "title": .string(row["title"]?.string ?? ""),
            "repoOwner": .string(row["repo_owner"]?.string ?? ""), "repoName": .string(row["repo_name"]?.string ?? ""),
            "baseBranch": JSON(row["base_branch"]?.string), "model": JSON(row["model"]?.string),
            "prompt": .string(row["prompt"]?.string ?? ""), "schedule": schedule?.json ?? .null,
            "scheduleSummary": JSON(schedule?.summary), "enabled": .bool(row["enabled"]?.int == 1),
            "nextRunAt": .int(Int64(row["next_run_at"]?.int ?? 0)), "lastRunAt": row["last_run_at"]?.int.map { .int(Int64($0)) } ?? .null,
            "lastSessionId": JSON(row["last_session_id"]?.string), "lastError": JSON(row["last_error"]?.string),
            "createdBy": .string(row["created_by"]?.string ?? ""), "createdAt": .int(Int64(row["created_at"]?.int ?? 0)),
        ]
    }

    static func parsed(_ text: String?) -> JSON { text.flatMap { try? JSON.parse($0) } ?? [:] }
    static func optional(_ text: String?) -> SQLValue { text.map { .text($0) } ?? .null }
}
