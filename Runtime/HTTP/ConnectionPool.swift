import RuntimeIO

/// One loop's outbound connections: the idle ones by origin, kept for reuse (at most
/// `HTTPClientConfig.maxIdlePerOrigin` each, the most recently used first), and every open one, so
/// shutdown can close them.
///
/// Threading: loop-bound; made by the client for its loop and used only there (`@unchecked Sendable` so
/// the client's closures can carry it to the loop).
final class ConnectionPool: @unchecked Sendable {
    let loop: Loop
    let config: HTTPClientConfig
    private var idle: [FetchOrigin: [HTTPClientConnection]] = [:]
    private var open: [ObjectIdentifier: HTTPClientConnection] = [:]
    /// Fetched body bytes received and not yet read by the app, over this loop's connections.
    var bufferedBodyBytes = 0
    /// Connections made since the start.
    private(set) var connectionsOpened = 0
    /// Set at shutdown: nothing is pooled any more.
    private var closing = false

    init(loop: Loop, config: HTTPClientConfig) {
        self.loop = loop
        self.config = config
    }

    /// An idle connection to `origin`, taken out of the pool, or nil.
    func takeIdle(_ origin: FetchOrigin) -> HTTPClientConnection? {
        guard var list = idle[origin], let connection = list.popLast() else { return nil }
        idle[origin] = list.isEmpty ? nil : list
        return connection
    }

    /// Offers a connection whose response is complete; false when it should close instead (the pool
    /// for its origin is full, or the client is shutting down).
    func checkIn(_ connection: HTTPClientConnection) -> Bool {
        guard !closing else { return false }
        var list = idle[connection.origin] ?? []
        guard list.count < config.maxIdlePerOrigin else { return false }
        list.append(connection)
        idle[connection.origin] = list
        return true
    }

    func removeIdle(_ connection: HTTPClientConnection) {
        guard var list = idle[connection.origin], let index = list.firstIndex(where: { $0 === connection }) else { return }
        list.remove(at: index)
        idle[connection.origin] = list.isEmpty ? nil : list
    }

    func opened(_ connection: HTTPClientConnection) {
        open[ObjectIdentifier(connection)] = connection
        connectionsOpened += 1
    }

    func closed(_ connection: HTTPClientConnection) {
        open[ObjectIdentifier(connection)] = nil
    }

    var openCount: Int { open.count }
    var idleCount: Int { idle.values.reduce(0) { $0 + $1.count } }

    /// Closes every connection, busy ones included (their fetches fail), and pools nothing from now on.
    func closeAll() {
        closing = true
        for connection in Array(open.values) { connection.close() }
        idle = [:]
    }
}
