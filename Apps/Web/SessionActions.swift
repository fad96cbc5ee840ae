import RuntimeAPI

/// What the signed-in user does to sessions: create one, archive, unarchive or delete it (forms that
/// come back to the list), and fetch a ws-token for the session page's socket (JSON).
struct SessionActions: Sendable {
    let web: WebContext
    let session: AuthStore.Session

    static let maxTitleBytes = 200

    private func client() throws -> ControlPlaneClient { try ControlPlaneClient(web.env, config: web.config) }

    func create() async throws -> Response {
        let fields = try web.form()
        var owner = (fields["owner"] ?? "").trimmingSpaces
        var name = (fields["name"] ?? "").trimmingSpaces
        if let repository = fields["repository"], !repository.isEmpty {
            let parts = repository.split(separator: "/", maxSplits: 1)
            guard parts.count == 2 else { return try await again("Pick a repository as owner/name.") }
            owner = String(parts[0])
            name = String(parts[1])
        }
        guard !owner.isEmpty, !name.isEmpty else { return try await again("Choose a repository (owner and name).") }
        let title = (fields["title"] ?? "").trimmingSpaces
        guard title.utf8.count <= Self.maxTitleBytes else { return try await again("The title is longer than \(Self.maxTitleBytes) bytes.") }
        var body = ControlPlaneClient.identity(session)
        body["repoOwner"] = .string(owner)
        body["repoName"] = .string(name)
        body["model"] = .string(fields["model"].flatMap { model in Pages.models.contains { $0.id == model } ? model : nil }
            ?? web.config.defaultModel)
        if !title.isEmpty { body["title"] = .string(title) }
        let baseBranch = (fields["baseBranch"] ?? "").trimmingSpaces
        if !baseBranch.isEmpty { body["baseBranch"] = .string(baseBranch) }
        do {
            let created = try await client().call("POST", "/sessions", body: .object(body))
            guard let id = created["sessionId"]?.string else { throw HTTPError(502, "the control plane gave no session id") }
            return Page.redirect("/session/" + GitHubOAuth.encode(id))
        } catch let failure as ControlPlaneClient.Failure where failure.status == 400 {
            return try await again(failure.publicMessage)
        }
    }

    private func again(_ message: String) async throws -> Response {
        try await Pages(web: web, session: session).newSession(error: message)
    }

    func perform(_ action: String, on id: String) async throws -> Response {
        let path = "/sessions/" + GitHubOAuth.encode(id)
        switch action {
        case "ws-token":
            var body = ControlPlaneClient.identity(session)
            body["githubUserId"] = session.user.id.hasPrefix("github:") ? .string(String(session.user.id.dropFirst(7))) : .null
            let issued = try await client().call("POST", path + "/ws-token", body: .object(body))
            return Page.json(["token": issued["token"] ?? .null, "participantId": issued["participantId"] ?? .null,
                              "url": .string(web.config.webSocketBase(for: web.request) + path + "/ws")])
        case "archive", "unarchive":
            _ = try await client().call("POST", path + "/" + action, body: [:])
        case "delete":
            _ = try await client().call("DELETE", path)
        default:
            throw HTTPError(404, "no action \(action)")
        }
        let back = WebContext.safeNext(try? web.form()["next"])
        return Page.redirect(back == "/" ? "/sessions" : back)
    }
}

extension String {
    var trimmingSpaces: String {
        var text = Substring(self)
        while text.first?.isWhitespace == true { text.removeFirst() }
        while text.last?.isWhitespace == true { text.removeLast() }
        return String(text)
    }
}
