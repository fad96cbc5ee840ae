import RuntimeAPI

/// `/secrets`: the agent's secrets on the control plane (global, or one repository's with `?repo=`),
/// listed by name, added, replaced and deleted. Values go to the control plane and are never shown.
struct SecretsPage: Sendable {
    let web: WebContext
    let session: AuthStore.Session

    private var templates: Templates { web.templates }
    private func client() throws -> ControlPlaneClient { try ControlPlaneClient(web.env, config: web.config) }

    /// The scope named by a `repo` field: empty for the global secrets, else `owner/name`.
    struct Scope {
        let repo: String
        var isGlobal: Bool { repo.isEmpty }
        var apiPath: String {
            isGlobal ? "/secrets" : "/repos/" + repo.split(separator: "/").map { GitHubOAuth.encode(String($0)) }.joined(separator: "/") + "/secrets"
        }
        var page: String { isGlobal ? "/secrets" : "/secrets?repo=" + GitHubOAuth.encode(repo) }

        init(_ field: String?) throws {
            let text = (field ?? "").trimmingSpaces.lowercased()
            let parts = text.split(separator: "/", omittingEmptySubsequences: false)
            guard text.isEmpty || (parts.count == 2 && parts.allSatisfy({ !$0.isEmpty })) else {
                throw HTTPError(400, "repository: owner/name, or empty for the global secrets")
            }
            repo = text
        }
    }

    func show() async throws -> Response {
        try await show(try Scope(web.request.url.queryValue("repo")))
    }

    private func show(_ scope: Scope, flash: String? = nil, status: Int = 200) async throws -> Response {
        let listed = try await client().call("GET", scope.apiPath)
        let secrets = listed["secrets"]?.array ?? []
        var rows = try secrets.map { secret in
            try templates.render("secret-row", [
                "name": secret["name"]?.string ?? "", "csrf": session.csrfToken, "repo": scope.repo,
                "updated": RelativeTime.describe(milliseconds: secret["updatedAt"]?.int ?? 0),
            ])
        }.joined()
        if secrets.isEmpty { rows = try templates.render("secret-list-empty", [:]) }
        let options = try await client().repositoryOptions(templates)
        let body = try templates.render("secrets", [
            "repo": scope.repo, "scopeLabel": scope.isGlobal ? "every repository" : scope.repo,
            "scopeTitle": scope.isGlobal ? "Global secrets" : "Secrets of " + scope.repo, "count": String(secrets.count),
            "rows": rows, "csrf": session.csrfToken, "repoOptions": options,
            "flash": try flash.map { try templates.render("flash-error", ["message": $0]) } ?? "",
        ])
        return Page.html(status: status, try Layout(web: web).page(title: "Secrets · Dispatch", body: body, session: session))
    }

    func save() async throws -> Response {
        let fields = try web.form()
        let scope = try Scope(fields["repo"])
        let name = (fields["name"] ?? "").trimmingSpaces
        do {
            _ = try await client().call("PUT", scope.apiPath + "/" + GitHubOAuth.encode(name), body: ["value": .string(fields["value"] ?? "")])
        } catch let failure as ControlPlaneClient.Failure where (400..<500).contains(failure.status) {
            return try await show(scope, flash: failure.publicMessage, status: failure.status)
        }
        return Page.redirect(scope.page)
    }

    func delete() async throws -> Response {
        let fields = try web.form()
        let scope = try Scope(fields["repo"])
        do {
            _ = try await client().call("DELETE", scope.apiPath + "/" + GitHubOAuth.encode(fields["name"] ?? ""))
        } catch let failure as ControlPlaneClient.Failure where failure.status == 404 {
            // Deleted already (another tab): the list shows the truth.
        }
        return Page.redirect(scope.page)
    }
}
