import Foundation
import RuntimeAPI

/// The signed-in pages (reference §4): home, the session list, a new session, and a session.
struct Pages: Sendable {
    let web: WebContext
    let session: AuthStore.Session

    /// The models a session can run (the control plane maps them to the provider's ids).
    static let models: [(id: String, name: String)] = [
        ("claude-haiku-4-5", "Claude Haiku 4.5"), ("claude-sonnet-4-5", "Claude Sonnet 4.5"), ("claude-opus-4-5", "Claude Opus 4.5"),
    ]

    private var templates: Templates { web.templates }
    private func client() throws -> ControlPlaneClient { try ControlPlaneClient(web.env, config: web.config) }

    private func sidebar(current: String? = nil) async throws -> String {
        let sessions = try await SessionSummary.load(try client())
        let list = try SessionListView(templates: templates, csrf: session.csrfToken, current: current).render(sessions, withActions: false)
        return try templates.render("sidebar", ["list": list])
    }

    func home() async throws -> Response {
        let body = try templates.render("home", ["name": session.user.name])
        return Page.html(try Layout(web: web).page(title: "Dispatch", body: body, session: session, sidebar: try await sidebar()))
    }

    func sessionList() async throws -> Response {
        let sessions = try await SessionSummary.load(try client())
        let list = try SessionListView(templates: templates, csrf: session.csrfToken).render(sessions, withActions: true)
        let body = try templates.render("sessions", ["list": list, "count": String(sessions.count)])
        return Page.html(try Layout(web: web).page(title: "Sessions · Dispatch", body: body, session: session))
    }

    func newSession(error: String? = nil) async throws -> Response {
        // The repository picker lists the GitHub App's repositories; without a GitHub App (the local
        // default) the owner and name are typed in.
        var picker: String
        do {
            let answer = try await client().call("GET", "/repos")
            let options = try (answer["repos"]?.array ?? []).compactMap { repo -> String? in
                guard let owner = repo["owner"]?.string, let name = repo["name"]?.string else { return nil }
                let label = "\(owner)/\(name)" + (repo["private"]?.bool == true ? " (private)" : "")
                return try templates.render("option", ["value": "\(owner)/\(name)", "label": label, "selected": ""])
            }.joined()
            picker = options.isEmpty ? try templates.render("repo-typed", ["note": "The GitHub App lists no repositories yet."])
                : try templates.render("repo-select", ["options": options])
        } catch {
            picker = try templates.render("repo-typed", ["note": "No repository list from GitHub (\(Self.short(error))): type the repository."])
        }
        let models = try modelOptions(selected: web.config.defaultModel)
        let flash = try error.map { try templates.render("flash-error", ["message": $0]) } ?? ""
        let body = try templates.render("new-session", ["picker": picker, "models": models, "csrf": session.csrfToken, "flash": flash])
        return Page.html(status: error == nil ? 200 : 400,
                         try Layout(web: web).page(title: "New session · Dispatch", body: body, session: session, sidebar: try await sidebar()))
    }

    func session(_ id: String) async throws -> Response {
        let state: JSON
        do {
            state = try await client().call("GET", "/sessions/" + GitHubOAuth.encode(id))
        } catch let failure as ControlPlaneClient.Failure where failure.status == 404 {
            throw HTTPError(404, "no such session")
        }
        let title = state["title"]?.string ?? "Untitled session"
        let repository = (state["repoOwner"]?.string ?? "") + "/" + (state["repoName"]?.string ?? "")
        let model = state["model"]?.string ?? web.config.defaultModel
        let body = try templates.render("session", [
            "modelOptions": try modelOptions(selected: model),
            "id": id, "title": title, "repository": repository, "model": state["model"]?.string ?? "",
            "repoURL": web.config.githubURL + "/" + repository,
            "createdISO": state["createdAt"]?.int.map(Self.isoTime) ?? "",
            "branch": state["branchName"]?.string ?? "", "status": state["status"]?.string ?? "",
            "baseBranch": state["baseBranch"]?.string ?? "default",
            "wsBase": web.config.webSocketBase(for: web.request), "userId": session.user.id,
            "userName": session.user.name, "csrf": session.csrfToken,
        ])
        return Page.html(try Layout(web: web).page(title: title + " · Dispatch", body: body, session: session,
                                                   sidebar: try await sidebar(current: id), bodyClass: "session-page"))
    }

    /// The model choices as `<option>`s, `selected` chosen (listed too when it is not one of them).
    private func modelOptions(selected: String) throws -> String { try Self.modelOptions(templates, selected: selected) }

    static func modelOptions(_ templates: Templates, selected: String) throws -> String {
        var choices = models
        if !choices.contains(where: { $0.id == selected }) { choices.insert((selected, selected), at: 0) }
        return try choices.map { model in
            try templates.render("option", ["value": model.id, "label": model.name, "selected": model.id == selected ? "selected" : ""])
        }.joined()
    }

    /// `2026-12-02T07:30:00Z` from milliseconds since 1970; the page shows it relative to now.
    static func isoTime(_ milliseconds: Int64) -> String {
        ISO8601DateFormatter().string(from: Date(timeIntervalSince1970: Double(milliseconds) / 1000))
    }

    static func short(_ error: any Error) -> String {
        let text = (error as? any HTTPResponseError)?.publicMessage ?? "\(error)"
        return text.count > 120 ? String(text.prefix(120)) + "…" : text
    }
}
