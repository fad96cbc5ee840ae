import RuntimeAPI

/// Routes `/counter/<name>[/...]` to the Counter object named `<name>` (binding `COUNTER`).
public struct CounterWorker: Worker {
    public init() {}

    public func fetch(_ request: Request, env: Env, ctx: ExecutionContext) async throws -> Response {
        let parts = request.url.path.split(separator: "/", omittingEmptySubsequences: true)
        guard parts.count >= 2, parts[0] == "counter" else { throw HTTPError(404, "expected /counter/<name>") }
        let name = PercentDecoding.decode(parts[1])
        guard !name.isEmpty, name.utf8.count <= 256 else { throw HTTPError(400, "counter name: 1 to 256 bytes") }
        var forwarded = request
        forwarded.url.path = "/" + parts.dropFirst(2).joined(separator: "/")
        let stub = try env.namespace("COUNTER").get(name: name)
        return try await stub.fetch(forwarded)
    }
}
