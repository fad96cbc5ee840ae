import RuntimeAPI

/// A chat room on hibernatable WebSockets: every text message a member sends goes to every member (the
/// sender too). The room may be evicted while members stay connected; the next message re-creates it.
///
/// - `GET /?user=<id>` with `Upgrade: websocket`: join; the socket is tagged with the user id, and the
///   id is its attachment.
/// - `GET /members[?user=<id>]`: how many sockets are open (with that tag), as `{"members":N}`.
/// - Text `ping` is answered `pong` by the runtime itself, without waking the room.
/// - Text `/whoami` is answered (to the sender only) with the socket's attachment; `/count [user]` with
///   the member count; `/remember <text>` stores the text, then confirms (after the write is durable);
///   `/recall` answers with what was stored.
public actor ChatRoom: DurableObject {
    let state: DurableObjectState
    public nonisolated var unownedExecutor: UnownedSerialExecutor { state.executor }

    /// Longest user id accepted in the query.
    static let maxUserBytes = 128

    public init(state: DurableObjectState, env: Env) {
        self.state = state
        state.setWebSocketAutoResponse(try? WebSocketAutoResponse(request: "ping", response: "pong"))
    }

    public func fetch(_ request: Request) async throws -> Response {
        let user = request.url.queryValue("user") ?? "anonymous"
        switch (request.method, request.url.path) {
        case ("GET", "/") where request.isWebSocketUpgrade:
            guard !user.isEmpty, user.utf8.count <= Self.maxUserBytes else {
                throw HTTPError(400, "user: 1 to \(Self.maxUserBytes) bytes")
            }
            let pair = WebSocketPair()
            try state.acceptWebSocket(pair.server, tags: [user])
            try pair.server.serializeAttachment(user)
            return Response(webSocket: pair.client)
        case ("GET", "/"):
            throw HTTPError(426, "join with a WebSocket upgrade")
        case ("GET", "/members"):
            let count = state.getWebSockets(tag: request.url.queryValue("user")).count
            return Response(text: "{\"members\":\(count)}\n", contentType: "application/json")
        default:
            throw HTTPError(404, "room: no route for \(request.method) \(request.url.path)")
        }
    }

    public func webSocketMessage(_ socket: WebSocket, _ message: WebSocketMessage) async throws {
        guard case .text(let text) = message else { return }
        if text == "/whoami" {
            socket.send(socket.deserializeAttachmentString() ?? "")
        } else if text == "/count" || text.hasPrefix("/count ") {
            let tag = text == "/count" ? nil : String(text.dropFirst("/count ".count))
            socket.send(String(state.getWebSockets(tag: tag).count))
        } else if text.hasPrefix("/remember ") {
            try state.storage.put("remembered", string: String(text.dropFirst("/remember ".count)))
            socket.send("remembered")
        } else if text == "/recall" {
            socket.send(try state.storage.getString("remembered") ?? "")
        } else {
            for member in state.getWebSockets() { member.send(text) }
        }
    }
}
