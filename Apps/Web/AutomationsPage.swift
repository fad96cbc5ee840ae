import RuntimeAPI

/// `/automations`: the control plane's automations (a prompt that starts a session on a schedule),
/// listed with their next and last runs, created and edited in a form, run now, paused, resumed and deleted.
struct AutomationsPage: Sendable {
    let web: WebContext
    let session: AuthStore.Session

    private var templates: Templates { web.templates }
    private func client() throws -> ControlPlaneClient { try ControlPlaneClient(web.env, config: web.config) }

    func show(flash: String? = nil, status: Int = 200, draft: [String: String]? = nil) async throws -> Response {
        let automations = try await client().call("GET", "/automations")["automations"]?.array ?? []
        var rows = try automations.map(row).joined()
        if automations.isEmpty { rows = try templates.render("automation-list-empty", [:]) }
        let body = try templates.render("automations", [
            "count": String(automations.count), "rows": rows,
            "form": try await form(action: "/automations", heading: "New automation", button: "Create automation",
                                   fields: draft ?? Self.newFields(model: web.config.defaultModel)),
            "flash": try flashHTML(flash),
        ])
        return Page.html(status: status, try Layout(web: web).page(title: "Automations · Dispatch", body: body, session: session))
    }

    /// `/automations/:id/edit`: the automation's form, filled in.
    func edit(_ id: String, flash: String? = nil, status: Int = 200, draft: [String: String]? = nil) async throws -> Response {
        let fields: [String: String]
        if let draft {
            fields = draft
        } else {
            fields = Self.fields(of: try await client().call("GET", "/automations/" + GitHubOAuth.encode(id)))
        }
        let body = try templates.render("automation-edit", [
            "form": try await form(action: "/automations/\(GitHubOAuth.encode(id))/edit", heading: fields["title"] ?? "",
                                   button: "Save changes", fields: fields),
            "flash": try flashHTML(flash),
        ])
        return Page.html(status: status, try Layout(web: web).page(title: "Edit automation · Dispatch", body: body, session: session))
    }

    private func flashHTML(_ message: String?) throws -> String {
        try message.map { try templates.render("flash-error", ["message": $0]) } ?? ""
    }

    /// The create/edit form with `fields` (the form's own names) filled in.
    private func form(action: String, heading: String, button: String, fields: [String: String]) async throws -> String {
        let kind = fields["kind"] ?? "daily"
        let kinds = try Self.kinds.map { choice in
            try templates.render("option", ["value": choice.value, "label": choice.label, "selected": choice.value == kind ? "selected" : ""])
        }.joined()
        var values = Self.newFields(model: web.config.defaultModel).merging(fields) { $1 }
        values["action"] = action
        values["heading"] = heading
        values["button"] = button
        values["csrf"] = session.csrfToken
        values["kinds"] = kinds
        values["repoOptions"] = try await client().repositoryOptions(templates)
        let model = fields["model"].flatMap { $0.isEmpty ? nil : $0 } ?? web.config.defaultModel
        values["models"] = try Pages.modelOptions(templates, selected: model)
        return try templates.render("automation-form", values)
    }

    static let kinds: [(value: String, label: String)] = [
        ("daily", "daily at"), ("weekdays", "on weekdays at"), ("interval", "every N minutes"),
    ]

    /// An empty form's values.
    static func newFields(model: String) -> [String: String] {
        ["title": "", "repository": "", "baseBranch": "", "prompt": "", "kind": "daily", "time": "09:00", "everyMinutes": "60",
         "model": model, "currentModel": ""]
    }

    /// The form's values for a stored automation (the control plane's JSON).
    static func fields(of automation: JSON) -> [String: String] {
        let schedule = automation["schedule"]
        let model = automation["model"]?.string ?? ""
        return [
            "title": automation["title"]?.string ?? "", "repository": repository(of: automation),
            "baseBranch": automation["baseBranch"]?.string ?? "", "prompt": automation["prompt"]?.string ?? "",
            "kind": schedule?["kind"]?.string ?? "daily", "time": schedule?["time"]?.string ?? "09:00",
            "everyMinutes": schedule?["everyMinutes"]?.int.map { String($0) } ?? "60",
            // The form keeps a model it does not list (one set through the API) when it is the current one.
            "model": model, "currentModel": model,
        ]
    }

    /// "owner/name".
    static func repository(of automation: JSON) -> String {
        (automation["repoOwner"]?.string ?? "") + "/" + (automation["repoName"]?.string ?? "")
    }

    private func row(_ automation: JSON) throws -> String {
        let enabled = automation["enabled"]?.bool ?? false
        let lastSession = try automation["lastSessionId"]?.string.map { try templates.render("automation-last-session", ["id": $0]) } ?? ""
        let error = try automation["lastError"]?.string.map { try templates.render("automation-error", ["message": $0]) } ?? ""
        return try templates.render("automation-row", [
            "id": automation["id"]?.string ?? "", "title": automation["title"]?.string ?? "",
            "state": enabled ? "active" : "paused",
            "repository": Self.repository(of: automation),
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
        let body: [String: JSON]
        switch Self.body(from: fields) {
        case .failure(let problem): return try await show(flash: problem.message, status: 400, draft: fields)
        case .success(var made):
            made["createdBy"] = .string(session.user.id)
            body = made
        }
        do {
            _ = try await client().call("POST", "/automations", body: .object(body))
        } catch let failure as ControlPlaneClient.Failure where (400..<500).contains(failure.status) {
            return try await show(flash: failure.publicMessage, status: failure.status, draft: fields)
        }
        return Page.redirect("/automations")
    }

    /// The edit form's POST: replaces the automation on the control plane.
    func update(_ id: String) async throws -> Response {
        let fields = try web.form()
        switch Self.body(from: fields) {
        case .failure(let problem): return try await edit(id, flash: problem.message, status: 400, draft: fields)
        case .success(let body):
            do {
                _ = try await client().call("PUT", "/automations/" + GitHubOAuth.encode(id), body: .object(body))
            } catch let failure as ControlPlaneClient.Failure where (400..<500).contains(failure.status) && failure.status != 404 {
                return try await edit(id, flash: failure.publicMessage, status: failure.status, draft: fields)
            }
            return Page.redirect("/automations")
        }
    }

    struct FormProblem: Error { let message: String }

    /// The control plane's automation body from the form (the control plane checks the values).
    static func body(from fields: [String: String]) -> Result<[String: JSON], FormProblem> {
        let parts = (fields["repository"] ?? "").trimmingSpaces.split(separator: "/")
        guard parts.count == 2 else { return .failure(FormProblem(message: "Repository: owner/name.")) }
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
        ]
        let branch = (fields["baseBranch"] ?? "").trimmingSpaces
        if !branch.isEmpty { body["baseBranch"] = .string(branch) }
        if let model = fields["model"], !model.isEmpty,
           Pages.models.contains(where: { $0.id == model }) || model == fields["currentModel"] {
            body["model"] = .string(model)
        }
        return .success(body)
    }

    /// `edit` (the form's POST), `run`, `pause`, `resume` or `delete` on one automation.
    func perform(_ action: String, on id: String) async throws -> Response {
        let path = "/automations/" + GitHubOAuth.encode(id)
        switch action {
        case "edit":
            return try await update(id)
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
