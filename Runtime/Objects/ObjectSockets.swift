@_spi(Runtime) import RuntimeAPI
import RuntimeIO
import RuntimeWebSocket

/// One object's hibernatable WebSockets: kept by its loop, not by the object, so they stay open while
/// the object is evicted. A message, close or error re-creates the object (if it is not in memory) and
/// delivers the event; the auto-response is answered here without waking it.
///
/// What a socket costs while its object hibernates: its connection (socket, codec state, timer) and
/// this entry (the app's `WebSocket` with its tags and attachment); no receive buffer.
///
/// Threading: loop-bound (the object's loop), except `upgradeFailed`, which hops there.
final class ObjectSockets: WebSocketHost, @unchecked Sendable {
    let loop: Loop
    let namespace: ObjectNamespaceRuntime
    let id: ObjectID
    unowned let loopObjects: LoopObjects
    private(set) var entries: [Entry] = []
    var autoResponse: WebSocketAutoResponse?

    /// One accepted socket; its connection arrives once the 101 is out.
    final class Entry: WebSocketConnectionDelegate {
        let socket: WebSocket
        var connection: WebSocketConnection?
        unowned let owner: ObjectSockets
        var closed = false

        init(socket: WebSocket, owner: ObjectSockets) {
            self.socket = socket
            self.owner = owner
        }

        func connection(_ connection: WebSocketConnection, received message: WebSocketMessage) {
            owner.received(message, on: self)
        }

        func connection(_ connection: WebSocketConnection, failed error: String) {
            owner.deliver(on: self) { instance, socket in try await instance.webSocketError(socket, error) }
        }

        func connectionClosed(_ connection: WebSocketConnection, code: Int, reason: String, wasClean: Bool) {
            owner.closed(self, code: code, reason: reason, wasClean: wasClean)
        }
    }

    init(loop: Loop, namespace: ObjectNamespaceRuntime, id: ObjectID, loopObjects: LoopObjects) {
        self.loop = loop
        self.namespace = namespace
        self.id = id
        self.loopObjects = loopObjects
    }

    var key: String { namespace.name + "/" + id.hex }

    /// Registers the server end of a pair the object accepted.
    func accept(_ socket: WebSocket, tags: [String]) throws {
        loop.preconditionOnLoop()
        try socket.runtimeAcceptHibernatable(self, tags: tags)
        entries.append(Entry(socket: socket, owner: self))
    }

    /// Open (or still connecting, or closing) sockets, or those with `tag`.
    func sockets(tag: String?) -> [WebSocket] {
        entries.compactMap { entry in
            guard !entry.closed else { return nil }
            if let tag, !entry.socket.tags.contains(tag) { return nil }
            return entry.socket
        }
    }

    var openCount: Int { entries.count }

    // MARK: WebSocketHost

    func adopt(_ connection: WebSocketConnection, for socket: WebSocket) {
        loop.preconditionOnLoop()
        guard let entry = entries.first(where: { $0.socket === socket }) else {
            // The object was reset while the upgrade was under way.
            connection.abort()
            return
        }
        entry.connection = connection
        connection.delegate = entry
        socket.runtimeConnect(connection, subprotocol: connection.subprotocol)
    }

    func upgradeFailed(for socket: WebSocket) {
        loop.execute { [self] in
            socket.runtimeClosed()
            remove { $0.socket === socket }
        }
    }

    // MARK: Events

    private func received(_ message: WebSocketMessage, on entry: Entry) {
        if case .text(let text) = message, let autoResponse, text == autoResponse.request {
            entry.connection?.send(.text(autoResponse.response))
            entry.socket.runtimeAutoResponseTimestamp = WallClock.milliseconds()
            return
        }
        deliver(on: entry) { instance, socket in try await instance.webSocketMessage(socket, message) }
    }

    private func closed(_ entry: Entry, code: Int, reason: String, wasClean: Bool) {
        entry.closed = true
        entry.socket.runtimeClosed()
        deliver(on: entry) { instance, socket in
            try await instance.webSocketClose(socket, code: code, reason: reason, wasClean: wasClean)
        }
        remove { $0 === entry }
    }

    /// Runs one event for the object (re-creating it if it hibernated), in arrival order.
    private func deliver(on entry: Entry,
                         _ body: @escaping @Sendable (any DurableObject, WebSocket) async throws -> Void) {
        let socket = entry.socket
        let host = loopObjects.host(namespace, id)
        host.notePendingEvent()
        Task(executorPreference: loop.taskExecutor) {
            do {
                try await host.deliver(counted: true) { instance in try await body(instance, socket) }
            } catch {
                host.logEventError("websocket event", error)
            }
        }
    }

    private func remove(where match: (Entry) -> Bool) {
        entries.removeAll(where: match)
        if entries.isEmpty { loopObjects.socketsEmptied(self) }
    }

    /// The object was reset: its sockets close too, since messages it sent may have been dropped.
    func closeAll(code: Int, reason: String) {
        for entry in entries {
            entry.connection?.close(code: code, reason: reason)
        }
    }
}
