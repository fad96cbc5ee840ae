import RuntimeAPI

/// The web app's entry point: static files, sign-in, and the signed-in pages. Every page but the
/// sign-in ones needs a session (a browser without one is sent to `/sign-in`); every state-changing
/// route checks the session's CSRF token.
struct WebWorker: Worker {
    func fetch(_ request: Request, env: Env, ctx: ExecutionContext) async throws -> Response {
        let web = WebContext(request: request, env: env)
        do {
            return try await route(web)
        } catch let error as any HTTPResponseError {
            return web.errorPage(error.status, error.publicMessage)
        } catch let error as Templates.Missing {
            Log.error("web: \(error)")
            return web.errorPage(500, "internal error")
        } catch {
            Log.error("web: \(request.method) \(request.url.path): \(error)")
            return web.errorPage(500, "internal error")
        }
    }

    private func route(_ web: WebContext) async throws -> Response {
        let request = web.request
        let path = request.url.path
        let method = request.method
        if path.hasPrefix("/static/"), method == "GET" || method == "HEAD" {
            let name = "static/" + path.dropFirst("/static/".count)
            guard !name.contains(".."), let response = web.env.assets.response(name, request: request) else {
                throw HTTPError(404, "no such file")
            }
            return response
        }
        let match = PathMatch(path)
        switch (method, path) {
        case ("GET", "/health"):
            return Page.json(["status": "healthy", "service": "dispatch-web"])
        case ("GET", "/sign-in"): return try await SignIn(web).page()
        case ("GET", "/auth/github"): return try await SignIn(web).startOAuth()
        case ("GET", "/auth/callback/github"): return try await SignIn(web).finishOAuth()
        case ("POST", "/auth/dev"): return try await SignIn(web).finishDevelopment()
        case ("POST", "/auth/sign-out"): return try await SignIn(web).signOut()
        case ("GET", "/access-denied"): return try web.accessDenied()
        default: break
        }

        // Everything below needs a signed-in user.
        guard let session = try await web.currentSession() else {
            if method == "GET" { return Page.redirect("/sign-in?next=" + GitHubOAuth.encode(web.localTarget)) }
            throw HTTPError(401, "sign in first")
        }
        let pages = Pages(web: web, session: session)
        let actions = SessionActions(web: web, session: session)
        if method == "POST" { try web.checkCSRF(session) }
        switch (method, path) {
        case ("GET", "/"): return try await pages.home()
        case ("GET", "/sessions"): return try await pages.sessionList()
        case ("GET", "/session/new"): return try await pages.newSession()
        case ("POST", "/session/new"): return try await actions.create()
        case ("GET", "/secrets"): return try await SecretsPage(web: web, session: session).show()
        case ("POST", "/secrets"): return try await SecretsPage(web: web, session: session).save()
        case ("POST", "/secrets/delete"): return try await SecretsPage(web: web, session: session).delete()
        case ("GET", "/automations"): return try await AutomationsPage(web: web, session: session).show()
        case ("POST", "/automations"): return try await AutomationsPage(web: web, session: session).create()
        default: break
        }
        if method == "GET", let captures = match.match("session/:id") { return try await pages.session(captures["id"]!) }
        if method == "GET", let captures = match.match("automations/:id/edit") {
            return try await AutomationsPage(web: web, session: session).edit(captures["id"]!)
        }
        if method == "POST", let captures = match.match("automations/:id/:action") {
            return try await AutomationsPage(web: web, session: session).perform(captures["action"]!, on: captures["id"]!)
        }
        if method == "POST", let captures = match.match("session/:id/:action") {
            return try await actions.perform(captures["action"]!, on: captures["id"]!)
        }
        if !["GET", "POST", "HEAD"].contains(method) { throw HTTPError(405, "method not allowed") }
        throw HTTPError(404, "no page at \(path)")
    }
}
