import RuntimeAPI

/// The built-in app `runtime serve` runs until deploy exists: a greeting, an echo, and a streamed
/// body, enough to exercise the server end to end.
///
/// - `GET /`            "Hello from the runtime!"
/// - `POST /echo`       the request body back, with its length in `X-Body-Length`
/// - `GET /stream?n=N`  N lines, streamed in chunks
/// - `GET /slow?ms=N`   answers after N milliseconds (for shutdown and timeout tests)
/// - `GET /headers`     the request headers as text
public struct HelloWorker: Worker {
    public init() {}

    public func fetch(_ request: Request, env: Env, ctx: ExecutionContext) async throws -> Response {
        switch (request.method, request.url.path) {
        case ("GET", "/"), ("HEAD", "/"):
            return Response(text: "Hello from the runtime!\n")
        case ("POST", "/echo"), ("PUT", "/echo"):
            var headers = Headers()
            headers.set("Content-Type", request.headers["content-type"] ?? "application/octet-stream")
            headers.set("X-Body-Length", String(request.body.count))
            return Response(status: 200, headers: headers, body: .bytes(request.body))
        case ("GET", "/stream"):
            let lines = min(Int(request.url.queryValue("n") ?? "") ?? 10, 1_000_000)
            return Response(headers: ["Content-Type": "text/plain"]) { writer in
                for line in 0..<lines {
                    try await writer.write("line \(line)\n")
                }
            }
        case ("GET", "/slow"):
            let milliseconds = min(Int(request.url.queryValue("ms") ?? "") ?? 1000, 60_000)
            try await Task.sleep(for: .milliseconds(milliseconds))
            return Response(text: "slept \(milliseconds) ms\n")
        case ("GET", "/headers"):
            let text = request.headers.map { "\($0.name): \($0.value)\n" }.joined()
            return Response(text: text)
        default:
            throw HTTPError(404, "no route for \(request.method) \(request.url.path)")
        }
    }
}
