import RuntimeAPI

/// The REST routes of reference §1.2, after the service token was checked.
struct RestAPI: Sendable {
    let env: Env
    let config: Config
    let ctx: ExecutionContext

    func route(_ request: Request, _ match: PathMatch) async throws -> Response {
        let method = request.method
        if let _ = match.match("sessions") {
            switch method {
            case "GET": return try await listSessions(request)
            case "POST": return try await createSession(request)
            default: throw HTTPError(405, "method not allowed")
            }
        }
        if let captures = match.match("sessions/:id") {
            let id = captures["id"]!
            switch method {
            case "GET": return Reply.json(try await session(id) { $0.stateJSON() })
            case "DELETE": return try await deleteSession(id)
            default: throw HTTPError(405, "method not allowed")
            }
        }
        if let captures = match.match("sessions/:id/:action") {
            return try await sessionAction(request, id: captures["id"]!, action: captures["action"]!)
        }
        if method == "POST", let captures = match.match("sessions/:id/question/:requestId/reply") {
            let body = try Body.object(request)
            guard let answers = body["answers"]?.array else { throw HTTPError(400, "answers is required (string[][])") }
            let requestID = captures["requestId"]!
            let delivered = try await session(captures["id"]!) { $0.replyToQuestion(requestID: requestID, answers: .array(answers)) }
            return delivered ? Reply.json(["success": true]) : Reply.error(503, "Sandbox not connected")
        }
        if method == "GET", match.match("repos") != nil {
            return Reply.json(try await Repositories(env: env, config: config).list())
        }
        if match.match("secrets") != nil {
            guard method == "GET" else { throw HTTPError(405, "method not allowed") }
            return Reply.json(["secrets": .array(try await AgentSecrets(env).list(.global))])
        }
        if let captures = match.match("secrets/:secret") {
            return try await secret(request, .global, name: captures["secret"]!)
        }
        if let captures = match.match("repos/:owner/:name/secrets") {
            guard method == "GET" else { throw HTTPError(405, "method not allowed") }
            let scope = try Self.repositoryScope(captures)
            return Reply.json(["secrets": .array(try await AgentSecrets(env).list(scope))])
        }
        if let captures = match.match("repos/:owner/:name/secrets/:secret") {
            return try await secret(request, try Self.repositoryScope(captures), name: captures["secret"]!)
        }
        if match.match("automations") != nil {
            switch method {
            case "GET": return Reply.json(["automations": .array(try await automations { try $0.list() })])
            case "POST":
                let draft = try Self.automationDraft(try Body.object(request))
                return Reply.json(try await automations { try $0.create(draft) }, status: 201)
            default: throw HTTPError(405, "method not allowed")
            }
        }
        if let captures = match.match("automations/:id") {
            let id = captures["id"]!
            switch method {
            case "GET": return Reply.json(try await automations { try $0.one(id) })
            case "PUT":
                let draft = try Self.automationDraft(try Body.object(request))
                return Reply.json(try await automations { try $0.replace(id, with: draft) })
            case "DELETE":
                try await automations { try $0.delete(id) }
                return Reply.json(["id": .string(id), "deleted": true])
            default: throw HTTPError(405, "method not allowed")
            }
        }
        if method == "POST", let captures = match.match("automations/:id/:action") {
            let id = captures["id"]!
            switch captures["action"]! {
            case "run": return Reply.json(try await automations { try await $0.runNow(id) })
            case "pause": return Reply.json(try await automations { try $0.setEnabled(id, false) })
            case "resume": return Reply.json(try await automations { try $0.setEnabled(id, true) })
            default: throw HTTPError(404, "no automation action \(captures["action"]!)")
            }
        }
        if let captures = match.match("repos/:owner/:name/metadata") {
            let repositories = Repositories(env: env, config: config)
            let owner = captures["owner"]!.lowercased(), name = captures["name"]!.lowercased()
            switch method {
            case "GET": return Reply.json(try await repositories.metadata(owner: owner, name: name))
            case "PUT": return Reply.json(try await repositories.setMetadata(owner: owner, name: name, try Body.object(request)))
            default: throw HTTPError(405, "method not allowed")
            }
        }
        throw HTTPError(404, "no route for \(method) \(request.url.path)")
    }

    private func session<T: Sendable>(_ id: String, _ body: @escaping @Sendable (isolated SessionObject) async throws -> T)
        async throws -> T {
        try await Sessions.stub(env, id).run(as: SessionObject.self) { object in
            try object.requireInitialized()
            return try await body(object)
        }
    }

    // MARK: Automations

    private func automations<T: Sendable>(_ body: @escaping @Sendable (isolated AutomationScheduler) async throws -> T) async throws -> T {
        try await AutomationScheduler.stub(env).run(as: AutomationScheduler.self, body)
    }

    static func automationDraft(_ body: JSON, now: Int64 = WallClock.milliseconds()) throws -> AutomationScheduler.Draft {
        let owner = try body.requiredString("repoOwner").lowercased(), name = try body.requiredString("repoName").lowercased()
        guard isRepoPart(owner), isRepoPart(name) else { throw HTTPError(400, "repoOwner/repoName: letters, digits, '-', '_' and '.' only") }
        let branch = try body.optionalString("baseBranch", limit: GitBranch.maxBytes)
        if let branch, let problem = GitBranch.problem(with: branch) { throw HTTPError(400, "baseBranch: " + problem) }
        let startAt = body["startAt"]?.int
        if let startAt, startAt < now - 60_000 || startAt > now + 366 * AutomationSchedule.dayMs {
            throw HTTPError(400, "startAt: milliseconds since 1970, within the next year")
        }
        return AutomationScheduler.Draft(
            title: try body.requiredString("title", limit: AutomationScheduler.maxTitleBytes), repoOwner: owner, repoName: name,
            baseBranch: branch, model: Models.normalize(try body.optionalString("model")),
            prompt: try body.requiredString("prompt", limit: Limits.maxPromptBytes),
            schedule: try AutomationSchedule(body["schedule"] ?? [:]), startAt: startAt,
            createdBy: try body.optionalString("createdBy") ?? "api")
    }

    // MARK: Agent secrets

    private func secret(_ request: Request, _ scope: AgentSecrets.Scope, name: String) async throws -> Response {
        let secrets = try AgentSecrets(env)
        switch request.method {
        case "PUT":
            guard let value = try Body.object(request)["value"]?.string else { throw HTTPError(400, "value is required (a string)") }
            let created = try await secrets.put(scope, name: name, value: value)
            return Reply.json(["name": .string(name), "created": .bool(created)], status: created ? 201 : 200)
        case "DELETE":
            guard try await secrets.delete(scope, name: name) else { throw HTTPError(404, "no secret named \(name)") }
            return Reply.json(["name": .string(name), "deleted": true])
        default:
            throw HTTPError(405, "method not allowed")
        }
    }

    static func repositoryScope(_ captures: [String: String]) throws -> AgentSecrets.Scope {
        let owner = captures["owner"]!.lowercased(), name = captures["name"]!.lowercased()
        guard isRepoPart(owner), isRepoPart(name) else { throw HTTPError(400, "owner/name: letters, digits, '-', '_' and '.' only") }
        return .repository(owner: owner, name: name)
    }

    // MARK: Sessions

    private func listSessions(_ request: Request) async throws -> Response {
        let requested = request.url.queryValue("limit").flatMap { Int($0) } ?? Limits.defaultSessionPage
        let limit = min(max(requested, 1), Limits.maxSessionPage)
        let page = try await SessionIndex(env).list(limit: limit, cursor: request.url.queryValue("cursor"),
                                                    status: request.url.queryValue("status"))
        var reply: JSON = ["sessions": .array(page.entries.map(\.json)), "hasMore": .bool(page.hasMore)]
        if let cursor = page.cursor { reply[set: "cursor"] = .string(cursor) }
        return Reply.json(reply)
    }

    private func createSession(_ request: Request) async throws -> Response {
        let body = try Body.object(request)
        let userID = try body.optionalString("userId") ?? "anonymous"
        let parameters = SessionObject.InitParameters(
            sessionName: IDs.make(),
            repoOwner: try body.requiredString("repoOwner").lowercased(),
            repoName: try body.requiredString("repoName").lowercased(),
            title: try body.optionalString("title", limit: Limits.maxTitleBytes) ?? "New session",
            model: Models.normalize(try body.optionalString("model")) ?? config.defaultModel,
            githubTokenSealed: try body.optionalString("githubToken", limit: 4096).map {
                try TokenCipher(env).seal($0, for: .githubToken(userID: userID))
            },
            userID: userID,
            githubLogin: try body.optionalString("githubLogin"),
            githubName: try body.optionalString("githubName"),
            githubEmail: try body.optionalString("githubEmail"),
            githubUserID: try body.optionalString("githubUserId"),
            baseBranch: try body.optionalString("baseBranch", limit: GitBranch.maxBytes))
        if let branch = parameters.baseBranch, let problem = GitBranch.problem(with: branch) {
            throw HTTPError(400, "baseBranch: " + problem)
        }
        for name in [parameters.repoOwner, parameters.repoName] where !Self.isRepoPart(name) {
            throw HTTPError(400, "repoOwner/repoName: letters, digits, '-', '_' and '.' only")
        }
        try await SessionCreation.create(env, parameters)
        return Reply.json(["sessionId": .string(parameters.sessionName), "status": "created"], status: 201)
    }

    static func isRepoPart(_ text: String) -> Bool {
        !text.isEmpty && text.utf8.count <= 100 && text != "." && text != ".."
            && text.allSatisfy { $0.isASCII && ($0.isLetter || $0.isNumber || "-_.".contains($0)) }
    }

    private func deleteSession(_ id: String) async throws -> Response {
        try await session(id) { try await $0.cleanup() }
        try await SessionIndex(env).delete(id)
        return Reply.json(["status": "deleted", "sessionId": .string(id)])
    }

    private func sessionAction(_ request: Request, id: String, action: String) async throws -> Response {
        let query = request.url
        switch (request.method, action) {
        case ("POST", "prompt"):
            let body = try Body.object(request)
            let prompt = SessionObject.PromptInput(
                content: try body.requiredString("content", limit: Limits.maxPromptBytes),
                authorUserID: try body.optionalString("authorId") ?? "anonymous",
                source: try body.optionalString("source") ?? "web",
                model: try body.optionalString("model"),
                attachments: body["attachments"],
                callbackContext: body["callbackContext"])
            return Reply.json(try await session(id) { try await $0.enqueuePrompt(prompt, participantID: nil) })
        case ("POST", "stop"):
            return Reply.json(try await session(id) { try await $0.stopExecution() })
        case ("GET", "events"):
            let cursor = query.queryValue("cursor").flatMap { Int64($0) }
            let limit = min(max(query.queryValue("limit").flatMap { Int($0) } ?? 50, 1), Limits.maxEventPage)
            let type = query.queryValue("type"), messageID = query.queryValue("message_id")
            return Reply.json(try await session(id) { try $0.eventsPage(cursor: cursor, limit: limit, type: type, messageID: messageID) })
        case ("GET", "artifacts"):
            return Reply.json(try await session(id) { try ["artifacts": .array($0.artifactList())] })
        case ("GET", "participants"):
            return Reply.json(try await session(id) { try $0.participantList() })
        case ("POST", "participants"):
            let body = try Body.object(request)
            let person = SessionObject.Person(
                userID: try body.requiredString("userId"), githubUserID: try body.optionalString("githubUserId"),
                githubLogin: try body.optionalString("githubLogin"), githubName: try body.optionalString("githubName"),
                githubEmail: try body.optionalString("githubEmail"))
            let role = try body.optionalString("role") ?? "member"
            guard role == "member" || role == "owner" else { throw HTTPError(400, "role: owner or member") }
            return Reply.json(try await session(id) { try $0.addParticipant(person, role: role) })
        case ("GET", "messages"):
            let cursor = query.queryValue("cursor").flatMap { Int64($0) }
            let limit = min(max(query.queryValue("limit").flatMap { Int($0) } ?? 50, 1), Limits.maxMessagePage)
            let status = query.queryValue("status")
            return Reply.json(try await session(id) { try $0.messagesPage(cursor: cursor, limit: limit, status: status) })
        case ("POST", "pr"):
            let body = try Body.object(request)
            let title = try body.requiredString("title", limit: Limits.maxTitleBytes)
            let text = try body.requiredString("body", limit: Limits.maxPromptBytes)
            let base = try body.optionalString("baseBranch")
            return Reply.json(try await session(id) { try await $0.createPullRequest(title: title, body: text, baseBranch: base) })
        case ("POST", "ws-token"):
            let body = try Body.object(request)
            let person = SessionObject.Person(
                userID: try body.requiredString("userId"), githubUserID: try body.optionalString("githubUserId"),
                githubLogin: try body.optionalString("githubLogin"), githubName: try body.optionalString("githubName"),
                githubEmail: try body.optionalString("githubEmail"))
            let sealed = try body.optionalString("githubToken", limit: 4096).map {
                try TokenCipher(env).seal($0, for: .githubToken(userID: person.userID))
            }
            let expiresAt = try body.optionalInt("githubTokenExpiresAt")
            return Reply.json(try await session(id) { try $0.issueWebSocketToken(person, githubTokenSealed: sealed, githubTokenExpiresAt: expiresAt) })
        case ("POST", "archive"):
            try await session(id) { try await $0.archive() }
            return Reply.json(["status": "archived"])
        case ("POST", "unarchive"):
            try await session(id) { try await $0.unarchive() }
            return Reply.json(["status": "active"])
        default:
            throw HTTPError(404, "no route for \(request.method) /sessions/\(id)/\(action)")
        }
    }
}

/// A new session: its object initialised, then listed in the index.
enum SessionCreation {
    static func create(_ env: Env, _ parameters: SessionObject.InitParameters) async throws {
        let entry = try await Sessions.stub(env, parameters.sessionName).run(as: SessionObject.self) {
            try await $0.initialize(parameters)
        }
        try await SessionIndex(env).insert(entry)
    }
}
