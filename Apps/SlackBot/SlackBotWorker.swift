import RuntimeAPI

/// The Slack bot's entry point (reference §3). Routes, under PATH_PREFIX (`/slack`) or without it
/// (the control plane's service binding calls `/callbacks/complete` bare):
///
/// | route | what |
/// |---|---|
/// | `GET /health` | `{status, service: "dispatch-slack-bot", repoCount}` |
/// | `POST /events` | the Slack Events API |
/// | `POST /interactions` | Block Kit actions |
/// | `POST /callbacks/complete` | the control plane's completion callback |
struct SlackBotWorker: Worker {
    func fetch(_ request: Request, env: Env, ctx: ExecutionContext) async throws -> Response {
        let config = BotConfig(env)
        let path = config.routePath(request.url.path)
        do {
            switch (request.method, path) {
            case ("GET", "/health"):
                return await health(env, config: config)
            case ("POST", "/events"):
                return try await EventsEndpoint(env: env, config: config, ctx: ctx).handle(request)
            case ("POST", "/interactions"):
                return try await InteractionsEndpoint(env: env, config: config, ctx: ctx).handle(request)
            case ("POST", "/callbacks/complete"):
                return try await CompletionEndpoint(env: env, config: config).handle(request)
            case (_, "/health"), (_, "/events"), (_, "/interactions"), (_, "/callbacks/complete"):
                return Reply.error(405, "method not allowed")
            default:
                return Reply.error(404, "no route for \(request.method) \(request.url.path)")
            }
        } catch let error as any HTTPResponseError {
            if error.status >= 500 { Log.warn("\(request.method) \(path): \(error.status) \(error.publicMessage)") }
            return Reply.error(error.status, error.publicMessage)
        } catch ControlPlaneError.notConfigured {
            return Reply.error(503, BotConfig.internalSecretMissing)
        } catch {
            Log.error("\(request.method) \(path): \(error)")
            return Reply.error(500, "internal error")
        }
    }

    /// Always answers; `repoCount` is 0 when the repository list cannot be had.
    private func health(_ env: Env, config: BotConfig) async -> Response {
        var count = 0
        do {
            let directory = RepoDirectory(controlPlane: try ControlPlaneClient(env, config: config), kv: try BotStore(env).kv)
            count = try await directory.list().count
        } catch {
            Log.warn("health: no repository list: \(error)")
        }
        return Reply.json(["status": "healthy", "service": "dispatch-slack-bot", "repoCount": .int(Int64(count))])
    }
}
