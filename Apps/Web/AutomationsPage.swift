import RuntimeAPI

/// `/automations`: the control plane's automations (a prompt that starts a session on a schedule),
/// listed with their next and last runs, created from a form, run now, paused, resumed and deleted.
struct AutomationsPage: Sendable {
    let web: WebContext
    let session: AuthStore.Session

    private var templates: Templates { web.templates }
    private func client() throws -> ControlPlaneClient { try ControlPlaneClient(web.env, config: web.config) }

    func show(flash: String? = nil, status: Int = 200) async throws -> Response {
        let automations = try await client().call("GET", "/automations")["automations"]?.array ?? []
        var rows = try automations.map(row).joined()
        if automations.isEmpty { rows = try templates.render("automation-list-empty", [:]) }
        let body = try templates.render("automations", [
            "count": String(automations.count), "rows": rows, "csrf": session.csrfToken,
            "repoOptions": try await client().repositoryOptions(templates),
            "models": try Pages.modelOptions(templates, selected: web.config.defaultModel),
            "flash": try flash.map { try templates.render("flash-error", ["message": $0]) } ?? "",
        ])
        return Page.html(status: status, try Layout(web: web).page(title: "Automations · Dispatch", body: body, session: session))
    }

    private func row(_ automation: JSON) throws -> String {
        let enabled = automation["enabled"]?.bool ?? false
        let lastSession = try automation["lastSessionId"]?.string.map { try templates.render("automation-last-session", ["id": $0]) } ?? ""
        let error = try automation["lastError"]?.string.map { try templates.render("automation-error", ["message": $0]) } ?? ""
        return try templates.render("automation-row", [
            "id": automation["id"]?.string ?? "", "title": automation["title"]?.string ?? "",
            "state": enabled ? "active" : "paused",
            "repository": (automation["repoOwner"]?.string ?? "") + "/" + (automation["repoName"]?.string ?? ""),
            "schedule": automation["scheduleSummary"]?.string ?? "", "prompt": automation["prompt"]?.string ?? "",
            "next": enabled ? Self.time(automation["nextRunAt"]?.int) : "paused",
            "last": Self.time(automation["lastRunAt"]?.int), "lastSession": lastSession, "error": error,
            "csrf": session.csrfToken, "toggle": enabled ? "pause" : "resume", "toggleLabel": enabled ? "Pause" : "Resume",
        ])
    }

    /// "2026-12-02 09:00 UTC", or "never".
    static func time(_ milliseconds: Int64?) -> String {
        guard let milliseconds, milliseconds > 0 else { return "never" }
        let iso = Pages.isoTime(milliseconds)   // 2026-12-02T09:00:00Z
        return String(iso.prefix(10)) + " " + String(iso.dropFirst(11).prefix(5)) + " UTC"
    }

    func create() async throws -> Response {
        let fields = try web.form()
        let parts = (fields["repository"] ?? "").trimmingSpaces.split(separator: "/")
        guard parts.count == 2 else { return try await show(flash: "Repository: owner/name.", status: 400) }
        let kind = fields["kind"] ?? "daily"
        var schedule: [String: JSON] = ["kind": .string(kind)]
        if kind == "interval" {
            schedule["everyMinutes"] = Int64(fields["everyMinutes"] ?? "").map { .int($0) } ?? .null
        } else {
            schedule["time"] = .string(fields["time"] ?? "")
        }
        var body: [String: JSON] = [
            "title": .string((fields["title"] ?? "").trimmingSpaces), "repoOwner": .string(String(parts[0])),
            "repoName": .string(String(parts[1])), "prompt": .string(fields["prompt"] ?? ""), "schedule": .object(schedule),
            "createdBy": .string(session.user.id),
        ]
        let branch = (fields["baseBranch"] ?? "").trimmingSpaces
        if !branch.isEmpty { body["baseBranch"] = .string(branch) }
        if let model = fields["model"], Pages.models.contains(where: { $0.id == model }) { body["model"] = .string(model) }
        do {
            _ = try await client().call("POST", "/automations", body: .object(body))
        } catch let failure as ControlPlaneClient.Failure where (400..<500).contains(failure.status) {
            return try await show(flash: failure.publicMessage, status: failure.status)
        }
        return Page.redirect("/automations")
    }

    /// `run`, `pause`, `resume` or `delete` on one automation.
    func perform(_ action: String, on id: String) async throws -> Response {
        let path = "/automations/" + GitHubOAuth.encode(id)
        switch action {
        case "run":
            let started = try await client().call("POST", path + "/run", body: [:])
            guard let session = started["sessionId"]?.string else { throw HTTPError(502, "the control plane gave no session id") }
            return Page.redirect("/session/" + GitHubOAuth.encode(session))
        case "pause", "resume":
            _ = try await client().call("POST", path + "/" + action, body: [:])
        case "delete":
            _ = try await client().call("DELETE", path)
        default:
            throw HTTPError(404, "no automation action \(action)")
        }
        return Page.redirect("/automations")
    }
}
