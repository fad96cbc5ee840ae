import RuntimeAPI

/// What `runtime serve` runs until `runtime deploy` lands: the hello routes, the counter objects, the
/// chat rooms and a WebSocket echo.
public enum BuiltinApp {
    public static func make() -> App {
        App(worker: BuiltinWorker(), objectClasses: ["COUNTER": Counter.self, "ROOM": ChatRoom.self])
    }
}

/// `/counter/...` goes to `CounterWorker`, `/room/<name>` to the `ChatRoom` of that name, `/ws/echo`
/// to `EchoSocket`, everything else to `HelloWorker`.
public struct BuiltinWorker: Worker {
    let hello = HelloWorker()
    let counter = CounterWorker()

    public init() {}

    public func fetch(_ request: Request, env: Env, ctx: ExecutionContext) async throws -> Response {
        let path = request.url.path
        if path.hasPrefix("/counter/") {
            return try await counter.fetch(request, env: env, ctx: ctx)
        }
        if path.hasPrefix("/room/") {
            return try await RoomRouter.fetch(request, env: env)
        }
        if path == "/ws/echo" {
            return try EchoSocket.accept(request, ctx: ctx)
        }
        return try await hello.fetch(request, env: env, ctx: ctx)
    }
}

/// Routes `/room/<name>[/rest]` to the `ChatRoom` named `<name>` (binding `ROOM`).
enum RoomRouter {
    static func fetch(_ request: Request, env: Env) async throws -> Response {
        let parts = request.url.path.split(separator: "/", omittingEmptySubsequences: true)
        guard parts.count >= 2 else { throw HTTPError(404, "expected /room/<name>") }
        let name = PercentDecoding.decode(parts[1])
        guard !name.isEmpty, name.utf8.count <= 256 else { throw HTTPError(400, "room name: 1 to 256 bytes") }
        var forwarded = request
        forwarded.url.path = "/" + parts.dropFirst(2).joined(separator: "/")
        return try await env.namespace("ROOM").get(name: name).fetch(forwarded)
    }
}

/// `/ws/echo`: a WebSocket on the standard API that sends every message back unchanged.
enum EchoSocket {
    static func accept(_ request: Request, ctx: ExecutionContext) throws -> Response {
        guard request.isWebSocketUpgrade else { throw HTTPError(426, "/ws/echo speaks WebSocket only") }
        let pair = WebSocketPair()
        let server = pair.server
        try server.accept()
        // waitUntil runs on this connection's loop, where the socket lives: no thread hop per message.
        ctx.waitUntil {
            for await event in server.events {
                if case .message(let message) = event { server.send(message) }
            }
        }
        return Response(webSocket: pair.client)
    }
}
