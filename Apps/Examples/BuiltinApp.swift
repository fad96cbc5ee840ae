import RuntimeAPI

/// What `runtime serve` runs until `runtime deploy` lands: the hello routes and the counter objects.
public enum BuiltinApp {
    public static func make() -> App {
        App(worker: BuiltinWorker(), objectClasses: ["COUNTER": Counter.self])
    }
}

/// `/counter/...` goes to `CounterWorker`, everything else to `HelloWorker`.
public struct BuiltinWorker: Worker {
    let hello = HelloWorker()
    let counter = CounterWorker()

    public init() {}

    public func fetch(_ request: Request, env: Env, ctx: ExecutionContext) async throws -> Response {
        if request.url.path.hasPrefix("/counter/") {
            return try await counter.fetch(request, env: env, ctx: ctx)
        }
        return try await hello.fetch(request, env: env, ctx: ctx)
    }
}
