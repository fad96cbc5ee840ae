/// A stateless request handler: the Workers `fetch` entry point. The runtime calls `fetch` on the
/// loop thread that accepted the connection; many calls may be in flight at once, so a worker
/// keeps no mutable state of its own (state belongs in Durable Objects).
public protocol Worker: Sendable {
    func fetch(_ request: Request, env: Env, ctx: ExecutionContext) async throws -> Response
}

/// What the runtime binds for an app: plain variables now, more bindings as they land.
public struct Env: Sendable {
    /// Plain-text variables from the app's configuration.
    public var vars: [String: String]
    public init(vars: [String: String] = [:]) { self.vars = vars }
}

/// Per-request context. `waitUntil` lets work outlive the response: the runtime keeps the
/// process alive for it (within the shutdown grace period) and logs its failure.
public struct ExecutionContext: Sendable {
    private let schedule: @Sendable (@escaping @Sendable () async throws -> Void) -> Void

    /// Made by the runtime; `schedule` starts and tracks the work.
    public init(schedule: @escaping @Sendable (@escaping @Sendable () async throws -> Void) -> Void) {
        self.schedule = schedule
    }

    /// Runs `work` after (or while) the response is sent.
    public func waitUntil(_ work: @escaping @Sendable () async throws -> Void) { schedule(work) }
}
