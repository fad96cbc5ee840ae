import RuntimeAPI

/// Signing in and out: GitHub OAuth when the OAuth app is configured, otherwise (unless turned off) a
/// local development sign-in that takes a login name without a password, labelled as such. Either
/// way the allowlist is checked at every sign-in.
struct SignIn: Sendable {
    let web: WebContext

    init(_ web: WebContext) { self.web = web }

    private var config: WebConfig { web.config }
    /// Longest development login name (GitHub's own limit is 39).
    static let maxLoginBytes = 39
    static let maxNameBytes = 100

    /// The signed-out page: the GitHub button, or the development form.
    func page() async throws -> Response {
        let next = WebContext.safeNext(web.request.url.queryValue("next"))
        if try await web.currentSession() != nil { return Page.redirect(next) }
        var cookies: [String] = []
        let options: String
        if config.oauthConfigured {
            options = try web.templates.render("sign-in-github", ["href": "/auth/github?next=" + GitHubOAuth.encode(next)])
        } else if config.devSignInAllowed {
            let state = try await AuthStore(web.env).beginSignIn(next: next)
            cookies.append(Cookies.set(Cookies.signIn, state, maxAgeSeconds: AuthStore.signInLifetimeMilliseconds / 1000,
                                       secure: web.secure))
            options = try web.templates.render("sign-in-dev", ["state": state])
        } else {
            options = try web.templates.render("sign-in-unconfigured", [:])
        }
        let body = try web.templates.render("sign-in", ["options": options])
        var headers = Headers()
        for cookie in cookies { headers.add("Set-Cookie", cookie) }
        return Page.html(try Layout(web: web).page(title: "Sign in", body: body, session: nil), headers: headers)
    }

    func startOAuth() async throws -> Response {
        guard config.oauthConfigured, let clientID = config.oauthClientID else {
            throw HTTPError(404, "GitHub sign-in is not configured")
        }
        let next = WebContext.safeNext(web.request.url.queryValue("next"))
        let state = try await AuthStore(web.env).beginSignIn(next: next)
        let location = GitHubOAuth(config: config).authorizeURL(clientID: clientID, redirectURI: redirectURI, state: state)
        return Page.redirect(location, status: 302, cookies: [
            Cookies.set(Cookies.signIn, state, maxAgeSeconds: AuthStore.signInLifetimeMilliseconds / 1000, secure: web.secure),
        ])
    }

    var redirectURI: String { config.origin(for: web.request) + "/auth/callback/github" }

    func finishOAuth() async throws -> Response {
        let query = web.request.url
        if let error = query.queryValue("error") {
            throw HTTPError(400, "GitHub sign-in did not complete: \(query.queryValue("error_description") ?? error)")
        }
        guard let code = query.queryValue("code"), !code.isEmpty, code.utf8.count <= 512 else {
            throw HTTPError(400, "the sign-in callback has no code")
        }
        let next = try await consumeState(query.queryValue("state"))
        let identity = try await GitHubOAuth(config: config).identity(code: code, redirectURI: redirectURI)
        let emails = identity.verifiedEmails + (identity.user.email.map { [$0] } ?? [])
        guard config.allowlist.allows(login: identity.user.login, emails: emails, organizations: identity.organizations) else {
            return denied()
        }
        return try await open(identity.user, githubToken: identity.accessToken, expiresAt: identity.expiresAt, next: next)
    }

    func finishDevelopment() async throws -> Response {
        guard config.devSignInAllowed else { throw HTTPError(404, "the development sign-in is off") }
        let fields = try web.form()
        let next = try await consumeState(fields["state"])
        let login = (fields["login"] ?? "").lowercased()
        guard !login.isEmpty, login.utf8.count <= Self.maxLoginBytes,
              login.allSatisfy({ $0.isASCII && ($0.isLetter || $0.isNumber || $0 == "-") }) else {
            throw HTTPError(400, "login: 1 to \(Self.maxLoginBytes) letters, digits or '-'")
        }
        var name = fields["name"] ?? ""
        if name.isEmpty { name = login }
        guard name.utf8.count <= Self.maxNameBytes else { throw HTTPError(400, "name: at most \(Self.maxNameBytes) bytes") }
        // The allowlist applies to development sign-ins too: a listed login, or no list.
        guard config.allowlist.allows(login: login, emails: []) else { return denied() }
        let user = AuthStore.User(id: "dev:" + login, login: login, name: name, email: "\(login)@localhost", avatarURL: nil)
        return try await open(user, githubToken: nil, expiresAt: nil, next: next)
    }

    func signOut() async throws -> Response {
        if let token = Cookies.value(Cookies.session, in: web.request) {
            if let session = try await AuthStore(web.env).session(token: token) { try web.checkCSRF(session) }
            try await AuthStore(web.env).signOut(token: token)
        }
        return Page.redirect("/sign-in", cookies: [Cookies.clear(Cookies.session, secure: web.secure)])
    }

    /// The state must match this browser's sign-in cookie and a live, unused row.
    private func consumeState(_ state: String?) async throws -> String {
        guard let state, !state.isEmpty, let cookie = Cookies.value(Cookies.signIn, in: web.request),
              Crypto.constantTimeEqual(Array(state.utf8), Array(cookie.utf8)) else {
            throw HTTPError(400, "this sign-in was not started in this browser; start again from the sign-in page")
        }
        guard let next = try await AuthStore(web.env).finishSignIn(state: state) else {
            throw HTTPError(400, "this sign-in expired or was already used; start again from the sign-in page")
        }
        return WebContext.safeNext(next)
    }

    private func open(_ user: AuthStore.User, githubToken: String?, expiresAt: Int64?, next: String) async throws -> Response {
        let token = try await AuthStore(web.env).signIn(user, githubToken: githubToken, githubTokenExpiresAt: expiresAt)
        Log.info("web: \(user.login) signed in")
        return Page.redirect(next, cookies: [
            Cookies.set(Cookies.session, token, maxAgeSeconds: AuthStore.sessionLifetimeMilliseconds / 1000, secure: web.secure),
            Cookies.clear(Cookies.signIn, secure: web.secure),
        ])
    }

    private func denied() -> Response {
        Page.redirect("/access-denied", cookies: [Cookies.clear(Cookies.signIn, secure: web.secure)])
    }
}
