import Foundation
import RuntimeAPI
import RuntimeCrypto
import RuntimeIO
import RuntimeWebSocket

/// The service HMAC bearer (reference §1.15), made the way the web app and the Slack bot make it.
enum ServiceToken {
    static func header(secret: String, at milliseconds: Int64 = Int64(Date().timeIntervalSince1970 * 1000)) -> String {
        let stamp = String(milliseconds)
        return "Bearer " + stamp + "." + Hex.encode(Digest.hmacSHA256(key: Array(secret.utf8), Array(stamp.utf8)))
    }
}

/// WebSocket clients for tests, on a loop of their own.
final class TestSockets: @unchecked Sendable {
    let group: LoopGroup
    let client: WebSocketClient

    init() throws {
        group = try LoopGroup(count: 1, namePrefix: "dispatch-test-ws")
        client = WebSocketClient(loops: group.loops)
    }

    func connect(_ url: String, headers: Headers = Headers()) async throws -> SessionSocket {
        SessionSocket(try await client.connect(url: url, headers: headers, protocols: []))
    }

    /// The HTTP status of an upgrade the server refuses (nil when it accepts).
    func refusal(_ url: String, headers: Headers = Headers()) async throws -> Int? {
        do {
            let socket = try await client.connectReportingStatus(url: url, headers: headers, protocols: [])
            try? socket.close()
            return nil
        } catch WebSocketClientError.upgradeRefused(_, let status) {
            return status
        }
    }

    func stop() {
        group.stop()
        group.join()
    }
}

/// One client socket whose every message is recorded in arrival order, so a test can wait for one and
/// compare sequences across clients.
final class SessionSocket: @unchecked Sendable {
    let socket: WebSocket
    private let lock = NSLock()
    private var received: [[String: Any]] = []
    private var closedWith: (code: Int, reason: String)?
    private var reader: Task<Void, Never>?

    init(_ socket: WebSocket) {
        self.socket = socket
        reader = Task { [self] in
            for await event in socket.events {
                switch event {
                case .message(.text(let text)):
                    let object = (try? JSONSerialization.jsonObject(with: Data(text.utf8))) as? [String: Any]
                    record(object ?? ["type": "<not json>", "text": text])
                case .message(.binary):
                    record(["type": "<binary>"])
                case .close(let code, let reason, _):
                    lock.withLock { closedWith = (code, reason) }
                }
            }
        }
    }

    private func record(_ message: [String: Any]) { lock.withLock { received.append(message) } }

    func send(_ object: [String: Any]) throws {
        socket.send(String(decoding: try JSONSerialization.data(withJSONObject: object), as: UTF8.self))
    }

    func sendText(_ text: String) { socket.send(text) }

    var messages: [[String: Any]] { lock.withLock { received } }
    var types: [String] { messages.compactMap { $0["type"] as? String } }
    var close: (code: Int, reason: String)? { lock.withLock { closedWith } }

    struct Timeout: Error, CustomStringConvertible {
        let description: String
    }

    /// The first message after index `after` that matches, waiting up to `timeout`.
    @discardableResult
    func next(_ type: String, after: Int = 0, timeout: Duration = .seconds(20),
              where matches: ([String: Any]) -> Bool = { _ in true }) async throws -> [String: Any] {
        let deadline = ContinuousClock.now + timeout
        while true {
            let all = messages
            if let found = all.dropFirst(after).first(where: { ($0["type"] as? String) == type && matches($0) }) { return found }
            if ContinuousClock.now > deadline {
                let errors = all.filter { ($0["type"] as? String ?? "").contains("error") }.suffix(3)
                throw Timeout(description: "no \(type) within \(timeout); got \(all.compactMap { $0["type"] as? String }.suffix(30)); errors: \(errors)")
            }
            try await Task.sleep(for: .milliseconds(10))
        }
    }

    /// Waits for the socket to close and returns its code.
    func waitForClose(timeout: Duration = .seconds(20)) async throws -> (code: Int, reason: String) {
        let deadline = ContinuousClock.now + timeout
        while ContinuousClock.now < deadline {
            if let close { return close }
            try await Task.sleep(for: .milliseconds(10))
        }
        throw Timeout(description: "the socket did not close within \(timeout)")
    }

    /// A sandbox event of `eventType` relayed as `sandbox_event`.
    @discardableResult
    func event(_ eventType: String, after: Int = 0, timeout: Duration = .seconds(20),
               where matches: ([String: Any]) -> Bool = { _ in true }) async throws -> [String: Any] {
        let wrapper = try await next("sandbox_event", after: after, timeout: timeout) { message in
            guard let event = message["event"] as? [String: Any], event["type"] as? String == eventType else { return false }
            return matches(event)
        }
        return wrapper["event"] as! [String: Any]
    }

    func shutdown() {
        try? socket.close()
        reader?.cancel()
    }
}
