import Foundation
import RuntimeIO

/// One REST call of `bench session`'s setup, under the control plane's base path.
struct SessionRESTCall: Sendable {
    let method: String
    /// Below `--url`'s path, e.g. "/sessions/abc/ws-token".
    let path: String
    /// JSON text; empty for none.
    let body: [UInt8]

    var label: String { "\(method) \(path)" }
}

/// What a REST call came to.
enum SessionRESTOutcome: Sendable {
    case answered(status: Int, body: [UInt8])
    /// No complete answer: connect failed, the connection broke, or `SessionBenchLimits.restTimeout` passed.
    case failed(String)

    var bodyText: String {
        guard case .answered(_, let body) = self else { return "" }
        return String(String(decoding: body.prefix(300), as: UTF8.self).trimmingCharacters(in: .whitespacesAndNewlines))
    }
}

/// The control plane's REST API, called the way the web app calls it: every request carries a fresh
/// service token made with `INTERNAL_CALLBACK_SECRET`. Up to `SessionBenchLimits.restConnections` calls run
/// at once, one keep-alive connection each; the rest wait in order.
///
/// Threading: loop-bound; `@unchecked Sendable` only so the run can hand it to its loop.
final class SessionRESTClient: @unchecked Sendable {
    let loop: Loop
    let target: TargetURL
    let secret: String
    private var connections: [SessionRESTConnection] = []
    private var idle: [SessionRESTConnection] = []
    private var waiting: [(SessionRESTCall, (SessionRESTOutcome) -> Void)] = []
    private var nextWaiting = 0

    init(loop: Loop, target: TargetURL, secret: String) {
        self.loop = loop
        self.target = target
        self.secret = secret
    }

    /// Queues `call`; `completion` runs on the loop with its outcome.
    func send(_ call: SessionRESTCall, completion: @escaping (SessionRESTOutcome) -> Void) {
        waiting.append((call, completion))
        dispatch()
    }

    /// The request's bytes, with a token made now (a token is good for 5 minutes, so never made early).
    func requestBytes(_ call: SessionRESTCall) -> [UInt8] {
        let base = target.path == "/" ? "" : target.path
        var head = "\(call.method) \(base)\(call.path) HTTP/1.1\r\nHost: \(target.hostHeader)\r\nUser-Agent: bench\r\n"
            + "Authorization: \(SessionServiceToken.header(secret: secret))\r\nContent-Length: \(call.body.count)\r\n"
        if !call.body.isEmpty { head += "Content-Type: application/json\r\n" }
        return Array((head + "\r\n").utf8) + call.body
    }

    /// A connection finished its call and can take the next.
    func connectionFree(_ connection: SessionRESTConnection) {
        idle.append(connection)
        dispatch()
    }

    /// Closes every connection.
    func close() {
        for connection in connections { connection.close() }
        connections = []
        idle = []
    }

    private func dispatch() {
        while nextWaiting < waiting.count {
            let connection: SessionRESTConnection
            if let free = idle.popLast() {
                connection = free
            } else if connections.count < SessionBenchLimits.restConnections {
                connection = SessionRESTConnection(client: self)
                connections.append(connection)
            } else {
                return
            }
            let (call, completion) = waiting[nextWaiting]
            nextWaiting += 1
            if nextWaiting == waiting.count {
                waiting.removeAll(keepingCapacity: true)
                nextWaiting = 0
            }
            connection.perform(call, completion: completion)
        }
    }
}
