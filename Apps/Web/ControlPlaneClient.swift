import RuntimeAPI

/// The control plane's REST API (reference §1.2) over the `CONTROL_PLANE` service binding, each call
/// with a fresh service token (§1.15). Errors carry the control plane's message and status.
struct ControlPlaneClient: Sendable {
    let service: any ServiceBinding
    let secret: String

    init(_ env: Env, config: WebConfig) throws {
        guard let secret = config.internalSecret else {
            throw HTTPError(503, "INTERNAL_CALLBACK_SECRET is not set for the web app (runtime secret put web INTERNAL_CALLBACK_SECRET)")
        }
        service = try env.service("CONTROL_PLANE")
        self.secret = secret
    }

    struct Failure: HTTPResponseError, CustomStringConvertible {
        let status: Int
        let publicMessage: String
        var description: String { "control plane: \(status) \(publicMessage)" }
    }

    /// Calls `path` (under /api) and returns the JSON answer; a non-2xx answer throws `Failure`.
    func call(_ method: String, _ path: String, body: JSON? = nil) async throws -> JSON {
        let split = path.split(separator: "?", maxSplits: 1)
        let answer = try await ServiceCall.send(service, secret: secret, method, "/api" + split[0],
                                                query: split.count > 1 ? String(split[1]) : nil, body: body)
        guard answer.succeeded else {
            // The control plane's 5xx are ours to report as a bad gateway; its 4xx pass through.
            throw Failure(status: answer.status >= 500 ? 502 : answer.status, publicMessage: answer.errorMessage)
        }
        return answer.json ?? .null
    }

    /// The GitHub App's repositories as `<option>`s of `owner/name` (for a form's datalist); none when
    /// there is no GitHub App or it cannot be reached, since the field also takes a typed name.
    func repositoryOptions(_ templates: Templates) async throws -> String {
        let repos = (try? await call("GET", "/repos"))?["repos"]?.array ?? []
        return try repos.compactMap { repo -> String? in
            guard let owner = repo["owner"]?.string, let name = repo["name"]?.string else { return nil }
            return owner + "/" + name
        }.map { try templates.render("option", ["value": $0, "label": $0, "selected": ""]) }.joined()
    }

    /// The identity fields the control plane records for a participant.
    static func identity(_ session: AuthStore.Session) -> [String: JSON] {
        var fields: [String: JSON] = [
            "userId": .string(session.user.id), "githubLogin": .string(session.user.login),
            "githubName": .string(session.user.name), "githubEmail": JSON(session.user.email),
        ]
        if let token = session.githubToken { fields["githubToken"] = .string(token) }
        if let expires = session.githubTokenExpiresAt { fields["githubTokenExpiresAt"] = .int(expires) }
        return fields
    }
}
