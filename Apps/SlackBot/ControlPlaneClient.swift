import RuntimeAPI

/// Why a control plane call failed.
enum ControlPlaneError: Error, CustomStringConvertible {
    case notConfigured
    case status(path: String, status: Int, message: String)
    case malformedAnswer(path: String)

    var description: String {
        switch self {
        case .notConfigured: BotConfig.internalSecretMissing
        case .status(let path, let status, let message): "control plane \(path) answered \(status): \(message)"
        case .malformedAnswer(let path): "control plane \(path) answered something unexpected"
        }
    }

    /// The session is gone or cannot take prompts (deleted, archived): a thread mapping to it is stale.
    var sessionIsGone: Bool {
        if case .status(_, let status, _) = self { return status == 404 || status == 409 || status == 410 }
        return false
    }
}

/// What the bot sends with a prompt, and gets back in the completion callback (reference §1.10).
struct CallbackContext: Sendable {
    var channel: String
    var threadTs: String
    var repoFullName: String
    var model: String

    var json: JSON {
        ["channel": .string(channel), "threadTs": .string(threadTs), "repoFullName": .string(repoFullName), "model": .string(model)]
    }
}

/// The control plane's REST API (reference §1.2) over the CONTROL_PLANE service binding, with the
/// service token of Apps/Shared/InternalToken.swift made from INTERNAL_CALLBACK_SECRET.
struct ControlPlaneClient: Sendable {
    let service: any ServiceBinding
    let secret: String

    static let binding = "CONTROL_PLANE"

    init(_ env: Env, config: BotConfig) throws {
        guard let secret = config.internalSecret else { throw ControlPlaneError.notConfigured }
        service = try env.service(Self.binding)
        self.secret = secret
    }

    // MARK: Routes

    /// `GET /repos`: the installation's repositories with their metadata.
    func repositories() async throws -> [JSON] {
        guard let repos = try await call("GET", "/repos")["repos"]?.array else { throw ControlPlaneError.malformedAnswer(path: "/repos") }
        return repos
    }

    /// `POST /sessions`; returns the new session's id.
    func createSession(repoOwner: String, repoName: String, title: String, model: String, userID: String) async throws -> String {
        let answer = try await call("POST", "/sessions", body: [
            "repoOwner": .string(repoOwner), "repoName": .string(repoName), "title": .string(title), "model": .string(model),
            "userId": .string(userID),
        ])
        guard let id = answer["sessionId"]?.string, Identifiers.isSessionID(id) else {
            throw ControlPlaneError.malformedAnswer(path: "/sessions")
        }
        return id
    }

    /// `POST /sessions/:id/prompt` from a Slack user; returns the message id.
    @discardableResult
    func prompt(sessionID: String, content: String, slackUser: String, context: CallbackContext) async throws -> String {
        let path = "/sessions/\(sessionID)/prompt"
        let answer = try await call("POST", path, body: [
            "content": .string(content), "authorId": .string("slack:" + slackUser), "source": "slack",
            "callbackContext": context.json,
        ])
        guard let id = answer["messageId"]?.string else { throw ControlPlaneError.malformedAnswer(path: path) }
        return id
    }

    /// Every event of one message, oldest first: `GET /sessions/:id/events?message_id=…&limit=200`,
    /// paged (newest first) up to `Limits.maxEventPages` pages.
    func events(sessionID: String, messageID: String) async throws -> [JSON] {
        var newestFirst: [JSON] = []
        var cursor: String?
        for _ in 0..<Limits.maxEventPages {
            var query = "message_id=\(Identifiers.queryEncoded(messageID))&limit=\(Limits.eventPageSize)"
            if let cursor { query += "&cursor=\(Identifiers.queryEncoded(cursor))" }
            let page = try await call("GET", "/sessions/\(sessionID)/events", query: query)
            newestFirst += page["events"]?.array ?? []
            guard page["hasMore"]?.bool == true, let next = page["cursor"]?.string, next != cursor else { break }
            cursor = next
        }
        return newestFirst.reversed()
    }

    /// `GET /sessions/:id/artifacts`: pull requests and other artifacts, oldest first.
    func artifacts(sessionID: String) async throws -> [JSON] {
        try await call("GET", "/sessions/\(sessionID)/artifacts")["artifacts"]?.array ?? []
    }

    // MARK: Transport

    func call(_ method: String, _ path: String, query: String? = nil, body: JSON? = nil) async throws -> JSON {
        let answer = try await ServiceCall.send(service, secret: secret, method, path, query: query, body: body,
                                                maxAnswerBytes: Limits.maxControlPlaneResponseBytes)
        guard answer.succeeded else {
            throw ControlPlaneError.status(path: path, status: answer.status, message: answer.errorMessage)
        }
        guard let json = answer.json, json.object != nil else { throw ControlPlaneError.malformedAnswer(path: path) }
        return json
    }
}
