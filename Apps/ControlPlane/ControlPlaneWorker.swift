import RuntimeAPI

/// The control plane's entry point (reference §1.1, §1.2): CORS, the service HMAC gate, and the REST
/// routes, each handed to the session's object or the session index. WebSocket upgrades to
/// `/sessions/:id/ws` go straight to the session object, which authenticates them itself (§1.7, §1.8).
struct ControlPlaneWorker: Worker {
    func fetch(_ request: Request, env: Env, ctx: ExecutionContext) async throws -> Response {
        let config = Config(env)
        var path = request.url.path
        if !config.pathPrefix.isEmpty, path.hasPrefix(config.pathPrefix) { path.removeFirst(config.pathPrefix.count) }
        if path.isEmpty { path = "/" }
        let match = PathMatch(path)

        if request.method == "OPTIONS" { return Reply.preflight() }
        if request.isWebSocketUpgrade {
            guard let captures = match.match("sessions/:id/ws") else { return Reply.error(404, "no WebSocket route here") }
            return try await Sessions.stub(env, captures["id"]!).fetch(Self.forwarded(request, path: "/ws"))
        }
        if request.method == "GET", path == "/health" {
            return Reply.json(["status": "healthy", "service": "dispatch-control-plane"])
        }

        do {
            try await authenticate(request, match: match, env: env)
            let api = RestAPI(env: env, config: config, ctx: ctx)
            return try await api.route(request, match)
        } catch let error as any HTTPResponseError {
            return Reply.error(error.status, error.publicMessage)
        } catch let error as StorageError {
            if case .objectReset = error { return Reply.error(503, "the session restarted; try again") }
            Log.error("storage error on \(path): \(error)")
            return Reply.error(500, "internal error")
        } catch {
            Log.error("error on \(path): \(error)")
            return Reply.error(500, "internal error")
        }
    }

    /// Every route but `/health` needs the service token; `POST /sessions/:id/pr` also takes the
    /// session's sandbox token (the agent's PR tool calls it from inside the sandbox).
    private func authenticate(_ request: Request, match: PathMatch, env: Env) async throws {
        guard let secret = env.secrets["INTERNAL_CALLBACK_SECRET"], !secret.isEmpty else {
            throw HTTPError(503, "INTERNAL_CALLBACK_SECRET is not set (runtime secret put control-plane INTERNAL_CALLBACK_SECRET)")
        }
        let header = request.headers["authorization"]
        do {
            try InternalToken.verify(header: header, secret: secret)
            return
        } catch let failure {
            if request.method == "POST", let captures = match.match("sessions/:id/pr"),
               let bearer = header, bearer.hasPrefix("Bearer ") {
                let token = String(bearer.dropFirst("Bearer ".count))
                let valid = try await Sessions.stub(env, captures["id"]!).run(as: SessionObject.self) {
                    $0.verifySandboxToken(token)
                }
                if valid { return }
            }
            throw HTTPError(401, "unauthorized: \(failure)")
        }
    }

    /// The request as the session object sees it: same method, headers and body, its own path.
    static func forwarded(_ request: Request, path: String) -> Request {
        var forwarded = request
        forwarded.url.path = path
        return forwarded
    }
}

/// Reaching a session's object.
enum Sessions {
    /// Longest external session id accepted.
    static let maxIDBytes = 128

    static func stub(_ env: Env, _ id: String) throws -> ObjectStub {
        guard !id.isEmpty, id.utf8.count <= maxIDBytes,
              id.utf8.allSatisfy({ ($0 >= 0x30 && $0 <= 0x39) || ($0 >= 0x61 && $0 <= 0x7a) || $0 == 0x2d || $0 == 0x5f }) else {
            throw HTTPError(404, "no such session")
        }
        return try env.namespace("SESSION").get(name: id)
    }
}
