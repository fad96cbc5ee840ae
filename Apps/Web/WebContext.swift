import RuntimeAPI

/// One request as the web app handles it: the request, the app's env and config, the templates, and
/// the signed-in session once looked up.
struct WebContext: Sendable {
    let request: Request
    let env: Env
    let config: WebConfig
    let templates: Templates
    /// A form POST's fields, parsed once: the CSRF check and the handler both read them.
    private let parsedForm: Result<[String: String], any Error>?

    init(request: Request, env: Env) {
        self.request = request
        self.env = env
        config = WebConfig(env)
        templates = Templates(assets: env.assets)
        parsedForm = request.method == "POST" && Form.isForm(request) ? Result { try Form.fields(request) } : nil
    }

    /// The request's form fields (`Form.fields`, with its errors).
    func form() throws -> [String: String] {
        if let parsedForm { return try parsedForm.get() }
        return try Form.fields(request)
    }

    var secure: Bool { config.isSecure(request) }

    /// The path and query of this request, for coming back after sign-in.
    var localTarget: String { request.url.path + (request.url.query.map { "?" + $0 } ?? "") }

    func currentSession() async throws -> AuthStore.Session? {
        guard let token = Cookies.value(Cookies.session, in: request) else { return nil }
        return try await AuthStore(env).session(token: token)
    }

    /// State-changing requests must carry the session's CSRF token (form field `_csrf` or header
    /// `X-CSRF-Token`) and, when the browser sends an Origin, come from this app's origin.
    func checkCSRF(_ session: AuthStore.Session) throws {
        if let origin = request.headers["origin"], origin != "null", origin != config.origin(for: request) {
            throw HTTPError(403, "cross-origin request refused")
        }
        var presented = request.headers["x-csrf-token"]
        if presented == nil, Form.isForm(request) {
            presented = try form()["_csrf"]
        }
        guard let presented, Crypto.constantTimeEqual(Array(presented.utf8), Array(session.csrfToken.utf8)) else {
            throw HTTPError(403, "missing or wrong CSRF token; reload the page and try again")
        }
    }

    /// `next` values are only ever local paths (no open redirect to another site).
    static func safeNext(_ next: String?) -> String {
        guard let next, next.hasPrefix("/"), !next.hasPrefix("//"), !next.hasPrefix("/\\"), next.utf8.count <= 1024,
              !next.contains(where: { $0.isNewline }) else { return "/" }
        return next
    }

    func accessDenied() throws -> Response {
        let body = try templates.render("access-denied", [:])
        return try Page.html(status: 403, Layout(web: self).page(title: "Access denied", body: body, session: nil))
    }

    func errorPage(_ status: Int, _ message: String) -> Response {
        let accepts = request.headers["accept"] ?? ""
        if request.method != "GET" && !accepts.contains("text/html") || accepts.contains("application/json") {
            return Page.json(["error": .string(message)], status: status)
        }
        let body = (try? templates.render("error", ["status": String(status), "message": message]))
            ?? "<h1>\(status)</h1><p>\(HTML.escape(message))</p>"
        let page = (try? Layout(web: self).page(title: "Error \(status)", body: body, session: nil)) ?? body
        return Page.html(status: status, page)
    }
}

/// Responses the pages use.
enum Page {
    static func html(status: Int = 200, _ html: String, headers: Headers = Headers()) -> Response {
        var headers = headers
        headers.set("Content-Type", "text/html; charset=utf-8")
        headers.set("Cache-Control", "no-store")
        headers.set("X-Frame-Options", "DENY")
        headers.set("X-Content-Type-Options", "nosniff")
        headers.set("Referrer-Policy", "same-origin")
        return Response(status: status, headers: headers, body: .bytes(Array(html.utf8)))
    }

    static func json(_ value: JSON, status: Int = 200) -> Response {
        Response(status: status, headers: ["Content-Type": "application/json", "Cache-Control": "no-store"], body: .bytes(value.bytes))
    }

    /// 303 See Other: after a form post the browser GETs `location`.
    static func redirect(_ location: String, status: Int = 303, cookies: [String] = []) -> Response {
        var headers: Headers = ["Location": location, "Cache-Control": "no-store"]
        for cookie in cookies { headers.add("Set-Cookie", cookie) }
        return Response(status: status, headers: headers)
    }
}
