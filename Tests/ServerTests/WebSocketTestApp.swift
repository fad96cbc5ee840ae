import Foundation
import RuntimeAPI
import Synchronization
#if canImport(Glibc)
import Glibc
#endif

// The app the WebSocket end-to-end tests serve (WebSocketFixtures.swift starts it; the client side is
// Tests/Python/ws_driver.py, see WebSocketDriver.swift).

/// The worker of the WebSocket tests:
/// - `/hello`: plain HTTP, to show the server still serves.
/// - `/echo[?tag=t&protocol=p&delay=ms]`: a socket on the standard API (`accept()` + `events`) that sends
///   every message back; `/close <code> <reason>` makes it close with that code; `/subprotocol` answers
///   with the agreed subprotocol. `protocol` is set as the response's Sec-WebSocket-Protocol; `delay`
///   holds the response back that long after accepting. Its close event is recorded in `log` under
///   `tag`. It accepts every request, upgrade or not, so the server's own handshake check is what
///   answers a bad one.
/// - `/echo-then-throw`: accepts a socket on the standard API and reads its events (recording the close
///   under tag `thrown`), then fails the request with a 400.
/// - `/unaccepted`: answers with a pair's client end without accepting the server end.
/// - `/server-end`: answers with the server end of a pair.
/// - `/room/<name>/...`: the `WebSocketTestRoom` named `<name>` (binding `ROOM`); the upgrade carries the
///   accepting loop's thread as `X-Accepted-On`.
struct WebSocketTestWorker: Worker {
    let log: SocketEventLog

    func fetch(_ request: Request, env: Env, ctx: ExecutionContext) async throws -> Response {
        let path = request.url.path
        switch path {
        case "/hello":
            return Response(text: "hello\n")
        case "/echo":
            return try await echo(request, ctx: ctx)
        case "/echo-then-throw":
            let pair = WebSocketPair()
            let socket = pair.server
            try socket.accept()
            let log = self.log
            ctx.waitUntil {
                for await event in socket.events {
                    if case .close(let code, let reason, let wasClean) = event {
                        log.record("thrown", "\(code) \(wasClean) \(reason)")
                    }
                }
            }
            throw HTTPError(400, "accepted, then changed its mind")
        case "/unaccepted":
            return Response(webSocket: WebSocketPair().client)
        case "/server-end":
            return Response(webSocket: WebSocketPair().server)
        default:
            guard path.hasPrefix("/room/") else { throw HTTPError(404, "test worker: no route for \(path)") }
            let parts = path.split(separator: "/", omittingEmptySubsequences: true)
            var forwarded = request
            forwarded.url.path = "/" + parts.dropFirst(2).joined(separator: "/")
            forwarded.headers.set("X-Accepted-On", currentThreadID())
            return try await env.namespace("ROOM").get(name: String(parts[1])).fetch(forwarded)
        }
    }

    private func echo(_ request: Request, ctx: ExecutionContext) async throws -> Response {
        let pair = WebSocketPair()
        let socket = pair.server
        try socket.accept()
        let tag = request.url.queryValue("tag") ?? ""
        let log = self.log
        if let delay = request.url.queryValue("delay").flatMap({ Int($0) }) {
            try await Task.sleep(for: .milliseconds(delay))
        }
        ctx.waitUntil {
            for await event in socket.events {
                switch event {
                case .message(.text(let text)) where text.hasPrefix("/close "):
                    let (code, reason) = parseClose(text)
                    try socket.close(code: code, reason: reason)
                case .message(.text("/subprotocol")):
                    socket.send(socket.subprotocol ?? "none")
                case .message(let message):
                    socket.send(message)
                case .close(let code, let reason, let wasClean):
                    log.record(tag, "\(code) \(wasClean) \(reason)")
                }
            }
        }
        var headers: Headers = ["X-Echo": "yes"]
        if let chosen = request.url.queryValue("protocol") { headers.set("Sec-WebSocket-Protocol", chosen) }
        return Response(webSocket: pair.client, headers: headers)
    }
}

/// "/close 3001 some reason" → (3001, "some reason").
func parseClose(_ text: String) -> (Int, String) {
    let parts = text.split(separator: " ", maxSplits: 2, omittingEmptySubsequences: false)
    let code = parts.count > 1 ? Int(parts[1]) ?? 1000 : 1000
    return (code, parts.count > 2 ? String(parts[2]) : "")
}

/// Which thread runs this code (its pthread id): on a loop thread, which loop.
func currentThreadID() -> String { "thread-" + String(UInt(pthread_self())) }

/// Close events of standard sockets, by tag; any thread.
final class SocketEventLog: Sendable {
    private let entries = Mutex<[String: [String]]>([:])

    func record(_ tag: String, _ line: String) { entries.withLock { $0[tag, default: []].append(line) } }
    func lines(_ tag: String) -> [String] { entries.withLock { $0[tag] ?? [] } }
}

/// What a room socket carries across hibernation, as JSON.
struct Seat: Codable, Equatable {
    var user: String
    var seat: Int
    var acceptedOn: String
    /// `webSocketClose` waits this long (milliseconds) before it records the close.
    var closeDelay: Int?
}

/// A room on hibernatable WebSockets, for the tests (compare `ChatRoom` in the built-in app).
///
/// - `GET /?user=u&seat=n[&protocol=p&delay=ms&closedelay=ms]`: joins, tagged `u`, with a `Seat`
///   attachment; answers `delay` ms after accepting, and `webSocketClose` takes `closedelay` ms before
///   it records the close.
/// - `GET /accept-then-throw`: accepts a socket for hibernation, then fails the request with a 400.
/// - `GET /standard`: a socket on the standard API, echoing, whose events run in the instance.
/// - `GET /instance`: this instance's random id.
/// - `GET /closes`, `/errors`: the `webSocketClose` / `webSocketError` calls so far, one line each
///   (`<seat> <code> <wasClean> <reason>` / `<seat> <error>`), kept in storage.
/// - `GET /recall`: what `/remember` stored.
/// - Text messages: `/whoami` (the attachment), `/tagged <tag>` (seats of `getWebSockets(tag:)`, sorted,
///   comma-separated), `/tags` (`getTags`), `/count`, `/remember <x>` (stores, then answers
///   `remembered <x>`), `/recall`, `/close <code> <reason>`, `/autots` (the auto-response timestamp),
///   `/where` (`object=<thread> accepted=<thread>`), `/doomed` (a write that fails at commit, then a
///   reply); any other text goes to every member. Binary messages come back to the sender.
/// - `ping` is answered `pong` by the runtime (set in `init`), without waking the room.
actor WebSocketTestRoom: DurableObject {
    let state: DurableObjectState
    nonisolated var unownedExecutor: UnownedSerialExecutor { state.executor }

    /// Tells instances apart: a new one after every eviction.
    let instance = UUID().uuidString

    init(state: DurableObjectState, env: Env) {
        self.state = state
        state.setWebSocketAutoResponse(try? WebSocketAutoResponse(request: "ping", response: "pong"))
    }

    func fetch(_ request: Request) async throws -> Response {
        switch request.url.path {
        case "/":
            // Accepted whether or not the request asks for an upgrade: the server's handshake check decides.
            let seat = Seat(user: request.url.queryValue("user") ?? "anonymous",
                            seat: Int(request.url.queryValue("seat") ?? "") ?? 0,
                            acceptedOn: request.headers["x-accepted-on"] ?? "",
                            closeDelay: request.url.queryValue("closedelay").flatMap { Int($0) })
            let pair = WebSocketPair()
            try state.acceptWebSocket(pair.server, tags: [seat.user])
            try pair.server.serializeAttachment(try Self.encode(seat))
            if let delay = request.url.queryValue("delay").flatMap({ Int($0) }) {
                try await Task.sleep(for: .milliseconds(delay))
            }
            var headers = Headers()
            if let chosen = request.url.queryValue("protocol") { headers.set("Sec-WebSocket-Protocol", chosen) }
            return Response(webSocket: pair.client, headers: headers)
        case "/accept-then-throw":
            let pair = WebSocketPair()
            try state.acceptWebSocket(pair.server, tags: ["doomed"])
            throw HTTPError(400, "accepted, then changed its mind")
        case "/standard":
            // The standard API inside an object: the events run in this instance, which must stay in memory.
            let pair = WebSocketPair()
            let socket = pair.server
            try socket.accept()
            Task {
                for await event in socket.events {
                    if case .message(let message) = event { socket.send(message) }
                }
            }
            return Response(webSocket: pair.client)
        case "/instance":
            return Response(text: instance)
        case "/closes":
            return Response(text: try state.storage.getString("closes") ?? "")
        case "/errors":
            return Response(text: try state.storage.getString("errors") ?? "")
        case "/recall":
            return Response(text: try state.storage.getString("remembered") ?? "")
        default:
            throw HTTPError(404, "test room: no route for \(request.url.path)")
        }
    }

    func webSocketMessage(_ socket: WebSocket, _ message: WebSocketMessage) async throws {
        guard case .text(let text) = message else {
            socket.send(message)
            return
        }
        let command = text.split(separator: " ", maxSplits: 1).first.map(String.init) ?? ""
        let argument = text.split(separator: " ", maxSplits: 1).dropFirst().first.map(String.init) ?? ""
        switch command {
        case "/whoami":
            socket.send(socket.deserializeAttachmentString() ?? "")
        case "/tagged":
            let seats = state.getWebSockets(tag: argument).compactMap { Self.seat(of: $0)?.seat }.sorted()
            socket.send(seats.map(String.init).joined(separator: ","))
        case "/tags":
            socket.send(try state.getTags(socket).joined(separator: ","))
        case "/count":
            socket.send(String(state.getWebSockets().count))
        case "/remember":
            try state.storage.put("remembered", string: argument)
            socket.send("remembered \(argument)")
        case "/recall":
            socket.send(try state.storage.getString("remembered") ?? "")
        case "/close":
            let (code, reason) = parseClose(text)
            try socket.close(code: code, reason: reason)
        case "/autots":
            socket.send(state.getWebSocketAutoResponseTimestamp(socket).map { String($0) } ?? "none")
        case "/doomed":
            // A write SQLite accepts now and refuses at COMMIT (a deferred foreign key without its parent):
            // the reply behind it must never leave, and the object is reset.
            try state.storage.sql.exec("CREATE TABLE IF NOT EXISTS parent (id INTEGER PRIMARY KEY)")
            try state.storage.sql.exec(
                "CREATE TABLE IF NOT EXISTS child (parent INTEGER REFERENCES parent(id) DEFERRABLE INITIALLY DEFERRED)")
            try state.storage.sql.exec("INSERT INTO child (parent) VALUES (42)")
            socket.send("doomed reply")
        case "/where":
            socket.send("object=\(currentThreadID()) accepted=\(Self.seat(of: socket)?.acceptedOn ?? "")")
        default:
            for member in state.getWebSockets() { member.send(text) }
        }
    }

    func webSocketClose(_ socket: WebSocket, code: Int, reason: String, wasClean: Bool) async throws {
        if let delay = Self.seat(of: socket)?.closeDelay { try await Task.sleep(for: .milliseconds(delay)) }
        try append("closes", "\(Self.seat(of: socket)?.seat ?? -1) \(code) \(wasClean) \(reason)")
    }

    func webSocketError(_ socket: WebSocket, _ error: String) async throws {
        try append("errors", "\(Self.seat(of: socket)?.seat ?? -1) \(error)")
    }

    private func append(_ key: String, _ line: String) throws {
        try state.storage.put(key, string: (try state.storage.getString(key) ?? "") + line + "\n")
    }

    static func encode(_ seat: Seat) throws -> [UInt8] {
        let encoder = JSONEncoder()
        encoder.outputFormatting = .sortedKeys
        return Array(try encoder.encode(seat))
    }

    static func seat(of socket: WebSocket) -> Seat? {
        socket.deserializeAttachment().flatMap { try? JSONDecoder().decode(Seat.self, from: Data($0)) }
    }
}
