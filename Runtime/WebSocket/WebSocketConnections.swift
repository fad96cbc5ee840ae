import RuntimeIO
import Synchronization

/// The open WebSocket connections of one loop, so shutdown can say goodbye to each (close 1001) and
/// stats can count them.
///
/// Threading: each registry is loop-bound; `of(_:)` may be called from any thread.
public final class WebSocketConnections: @unchecked Sendable {
    public let loop: Loop
    private var open: [ObjectIdentifier: WebSocketConnection] = [:]

    private static let registries = Mutex<[ObjectIdentifier: WebSocketConnections]>([:])

    /// The registry of `loop`, made on first use.
    public static func of(_ loop: Loop) -> WebSocketConnections {
        registries.withLock { registries in
            if let existing = registries[ObjectIdentifier(loop)] { return existing }
            let made = WebSocketConnections(loop: loop)
            registries[ObjectIdentifier(loop)] = made
            return made
        }
    }

    /// Drops the registry of a loop that is going away.
    public static func forget(_ loop: Loop) {
        _ = registries.withLock { $0.removeValue(forKey: ObjectIdentifier(loop)) }
    }

    private init(loop: Loop) { self.loop = loop }

    public var count: Int { open.count }

    func added(_ connection: WebSocketConnection) { open[ObjectIdentifier(connection)] = connection }
    func removed(_ connection: WebSocketConnection) { open[ObjectIdentifier(connection)] = nil }

    /// Starts the close handshake on every connection (shutdown: 1001 "going away").
    public func closeAll(code: Int, reason: String) {
        for connection in Array(open.values) { connection.close(code: code, reason: reason) }
    }

    /// Drops every connection at once (the grace period ran out).
    public func abortAll() {
        for connection in Array(open.values) { connection.abort() }
    }
}
