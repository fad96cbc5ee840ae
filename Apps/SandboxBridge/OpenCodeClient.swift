import Foundation
import RuntimeAPI
import RuntimeHTTP

/// OpenCode's HTTP API (`opencode serve`), as far as the bridge uses it. Every request names the
/// workspace as `?directory=`, so events and prompts reach the same OpenCode instance whichever directory
/// `opencode serve` started in.
struct OpenCodeClient: Sendable {
    let baseURL: String
    let directory: String
    let http: HTTPClient

    enum Failure: Error, CustomStringConvertible {
        /// OpenCode answered, with a status the call does not accept.
        case status(Int, method: String, path: String, body: String)
        /// OpenCode answered something that is not what the call expects.
        case unexpected(method: String, path: String, reason: String)

        var description: String {
            switch self {
            case .status(let status, let method, let path, let body):
                "OpenCode answered \(method) \(path) with \(status)\(body.isEmpty ? "" : ": \(body)")"
            case .unexpected(let method, let path, let reason): "OpenCode \(method) \(path): \(reason)"
            }
        }
    }

    static let requestTimeouts = FetchTimeouts(connect: BridgeLimits.openCodeConnectTimeout,
                                               read: BridgeLimits.openCodeRequestTimeout,
                                               total: BridgeLimits.openCodeRequestTimeout)

    func url(_ path: String) -> String {
        let allowed = CharacterSet(charactersIn: "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-._~/")
        return baseURL + path + "?directory=" + (directory.addingPercentEncoding(withAllowedCharacters: allowed) ?? directory)
    }

    /// A path segment made of an id from outside, percent-encoded.
    static func segment(_ id: String) -> String {
        let allowed = CharacterSet(charactersIn: "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-._~")
        return id.addingPercentEncoding(withAllowedCharacters: allowed) ?? id
    }

    /// Sends a request and reads the whole answer. Throws `Failure.status` unless the status is in `accept`,
    /// and `FetchError` when OpenCode cannot be reached.
    @discardableResult
    func call(_ method: String, _ path: String, body: JSONValue? = nil, accept: Set<Int> = [200, 204],
              timeouts: FetchTimeouts = OpenCodeClient.requestTimeouts) async throws -> (status: Int, body: [UInt8]) {
        var headers: Headers = ["Accept": "application/json"]
        if body != nil { headers.add("Content-Type", "application/json") }
        let request = FetchRequest(url(path), method: method, headers: headers, body: body?.bytes ?? [],
                                   redirect: .error, timeouts: timeouts)
        let response = try await http.fetch(request)
        let bytes = try await response.bodyBytes(limit: BridgeLimits.maxOpenCodeResponseBytes)
        guard accept.contains(response.status) else {
            let text = String(decoding: bytes.prefix(300), as: UTF8.self)
            throw Failure.status(response.status, method: method, path: path, body: text)
        }
        return (response.status, bytes)
    }

    func json(_ method: String, _ path: String, body: JSONValue? = nil) async throws -> JSONValue {
        let (_, bytes) = try await call(method, path, body: body, accept: [200])
        do {
            return try JSONValue.parse(bytes)
        } catch {
            throw Failure.unexpected(method: method, path: path, reason: "\(error)")
        }
    }

    /// `GET /session/{id}`: true when OpenCode still has the session, false on 404.
    func sessionExists(_ id: String) async throws -> Bool {
        let (status, _) = try await call("GET", "/session/\(Self.segment(id))", accept: [200, 404])
        return status == 200
    }

    /// `POST /session {}`: the new session's id.
    func createSession() async throws -> String {
        let session = try await json("POST", "/session", body: [:])
        guard let id = session["id"]?.nonEmptyString else {
            throw Failure.unexpected(method: "POST", path: "/session", reason: "no id in \(session.text.prefix(200))")
        }
        return id
    }

    /// `POST /session/{id}/prompt_async`, which answers 200 or 204 once the prompt is queued.
    func promptAsync(session: String, body: JSONValue) async throws {
        try await call("POST", "/session/\(Self.segment(session))/prompt_async", body: body)
    }

    /// `POST /session/{id}/abort`: ends the session's running turn.
    func abort(session: String) async throws {
        try await call("POST", "/session/\(Self.segment(session))/abort", body: [:])
    }

    /// `GET /session/{id}/message`: `[{info, parts}]`.
    func messages(session: String) async throws -> [JSONValue] {
        let list = try await json("GET", "/session/\(Self.segment(session))/message")
        guard let items = list.array else {
            throw Failure.unexpected(method: "GET", path: "/session/\(session)/message", reason: "not a JSON array")
        }
        return items
    }

    /// `POST /question/{requestId}/reply {answers}`.
    func replyToQuestion(requestID: String, answers: JSONValue) async throws {
        try await call("POST", "/question/\(Self.segment(requestID))/reply", body: ["answers": answers])
    }

    /// `GET /event`: the response once its head is in, its body the event stream. `client` should be one
    /// of the caller's own, closed when the caller is done: closing is the only way to end a stream that
    /// is waiting for OpenCode's next event.
    func openEvents(on client: HTTPClient, timeout: Duration) async throws -> Response {
        let request = FetchRequest(url("/event"), headers: ["Accept": "text/event-stream"], redirect: .error,
                                   timeouts: FetchTimeouts(connect: BridgeLimits.openCodeConnectTimeout, read: timeout,
                                                           total: timeout + .seconds(60)))
        let response = try await client.fetch(request)
        guard response.status == 200 else {
            let text = String(decoding: (try? await response.bodyBytes(limit: 300)) ?? [], as: UTF8.self)
            throw Failure.status(response.status, method: "GET", path: "/event", body: text)
        }
        return response
    }
}
