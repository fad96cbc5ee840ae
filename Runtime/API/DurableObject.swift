/// A Durable Object class: an actor with private, transactional storage, of which exactly one instance
/// per id is live at a time. The runtime creates it on first use (and again after eviction) with
/// `init(state:env:)` and runs it on one loop thread; return `state.executor` as the actor's executor:
///
/// ```swift
/// actor Counter: DurableObject {
///     let state: DurableObjectState
///     nonisolated var unownedExecutor: UnownedSerialExecutor { state.executor }
///     init(state: DurableObjectState, env: Env) { self.state = state }
///     func fetch(_ request: Request) async throws -> Response { ... }
/// }
/// ```
///
/// Events (fetch, typed calls, alarms) interleave only where the object's code awaits something; storage
/// calls are synchronous, so a read followed by a write with no `await` between them cannot be
/// interrupted. Every event's writes commit together at the end of the loop turn, and a response
/// produced after a write is released only once that write is durable.
public protocol DurableObject: Actor {
    init(state: DurableObjectState, env: Env)
    /// Handles a request sent with `ObjectStub.fetch`.
    func fetch(_ request: Request) async throws -> Response
    /// Runs when the alarm set with `storage.setAlarm` is due. Throwing retries it with backoff.
    func alarm() async throws
    /// A message on a socket accepted with `state.acceptWebSocket` (the object may have been re-created
    /// for it after hibernation).
    func webSocketMessage(_ socket: WebSocket, _ message: WebSocketMessage) async throws
    /// Such a socket closed: the peer's close code and reason (1005: none given; 1006: the connection
    /// ended without a close frame, `wasClean` false). The runtime has answered the close already.
    func webSocketClose(_ socket: WebSocket, code: Int, reason: String, wasClean: Bool) async throws
    /// Such a socket failed (a protocol error by the peer, a message over the limit); `webSocketClose`
    /// follows.
    func webSocketError(_ socket: WebSocket, _ error: String) async throws
}

extension DurableObject {
    public func fetch(_ request: Request) async throws -> Response {
        throw HTTPError(501, "this object does not handle fetch")
    }

    public func alarm() async throws {}
    public func webSocketMessage(_ socket: WebSocket, _ message: WebSocketMessage) async throws {}
    public func webSocketClose(_ socket: WebSocket, code: Int, reason: String, wasClean: Bool) async throws {}
    public func webSocketError(_ socket: WebSocket, _ error: String) async throws {}
}

/// What the runtime gives an object instance: its id, its storage, its executor, and the input gate.
public final class DurableObjectState: Sendable {
    public let id: ObjectID
    /// This object's storage. Use it only from the object's own code (it runs on the object's loop).
    public let storage: any DurableObjectStorage
    /// The serial executor of the loop the object is pinned to.
    public let executor: UnownedSerialExecutor
    private let gate: any ObjectInputGate

    public init(id: ObjectID, storage: any DurableObjectStorage, executor: UnownedSerialExecutor,
                gate: any ObjectInputGate) {
        self.id = id
        self.storage = storage
        self.executor = executor
        self.gate = gate
    }

    /// Runs `body` while no other event is delivered to this object, even across its awaits (for
    /// initialisation from storage or from the network). If it throws, the object is reset.
    public func blockConcurrencyWhile<T: Sendable>(_ body: @Sendable () async throws -> T) async throws -> T {
        try await gate.blockConcurrencyWhile(body)
    }

    // MARK: Hibernatable WebSockets

    /// Accepts the server end of a `WebSocketPair` for hibernation: its events arrive as
    /// `webSocketMessage` / `webSocketClose` / `webSocketError`, and this object may be evicted while it
    /// stays open. At most `WebSocketAPILimits.maxTags` tags (duplicates ignored).
    public func acceptWebSocket(_ socket: WebSocket, tags: [String] = []) throws {
        try gate.acceptWebSocket(socket, tags: tags)
    }

    /// This object's open hibernatable sockets (closing ones included), or those with `tag`.
    public func getWebSockets(tag: String? = nil) -> [WebSocket] { gate.webSockets(tag: tag) }

    /// The tags `socket` was accepted with; throws for a socket that is not this object's.
    public func getTags(_ socket: WebSocket) throws -> [String] {
        guard gate.webSockets(tag: nil).contains(where: { $0 === socket }) else { throw WebSocketError.notHibernatable }
        return socket.tags
    }

    /// Sets (or, with nil, clears) the text the runtime answers on every hibernatable socket of this
    /// object without waking it.
    public func setWebSocketAutoResponse(_ pair: WebSocketAutoResponse?) { gate.setWebSocketAutoResponse(pair) }

    public func getWebSocketAutoResponse() -> WebSocketAutoResponse? { gate.webSocketAutoResponse }

    /// When `socket` last sent the auto-response request (milliseconds since 1970), or nil.
    public func getWebSocketAutoResponseTimestamp(_ socket: WebSocket) -> Int64? {
        socket.runtimeAutoResponseTimestamp
    }
}

/// What the runtime does for one object behind `DurableObjectState`: the input gate and the
/// hibernatable sockets. Implemented by the runtime.
public protocol ObjectInputGate: Sendable {
    func blockConcurrencyWhile<T: Sendable>(_ body: @Sendable () async throws -> T) async throws -> T
    func acceptWebSocket(_ socket: WebSocket, tags: [String]) throws
    func webSockets(tag: String?) -> [WebSocket]
    func setWebSocketAutoResponse(_ pair: WebSocketAutoResponse?)
    var webSocketAutoResponse: WebSocketAutoResponse? { get }
}

/// A Durable Object class binding, as a worker sees it in `env`.
public protocol ObjectNamespace: Sendable {
    /// The binding name.
    var name: String { get }
    /// The same name always gives the same id (in this namespace).
    func idFromName(_ name: String) -> ObjectID
    /// A random id that no other call will return.
    func newUniqueId() -> ObjectID
    /// Parses an id's 64 hex digits; throws `ObjectIDError` for text that is not an id of this namespace.
    func idFromString(_ hex: String) throws -> ObjectID
    /// A stub for sending events to the object; nothing runs until one is sent.
    func get(_ id: ObjectID) -> ObjectStub
}

extension ObjectNamespace {
    public func get(name: String) -> ObjectStub { get(idFromName(name)) }
}

/// Why `idFromString` refused its input.
public enum ObjectIDError: Error, CustomStringConvertible, Equatable {
    case notHex(String)
    case wrongNamespace(String)
    public var description: String {
        switch self {
        case .notHex(let text): "object id \"\(text.prefix(80))\": expected 64 hexadecimal digits"
        case .wrongNamespace(let namespace): "object id is not valid for namespace \(namespace)"
        }
    }
}

/// Sends events to one object. Cheap to create and to copy.
public struct ObjectStub: Sendable {
    public let id: ObjectID
    private let delivery: any ObjectDelivery

    public init(id: ObjectID, delivery: any ObjectDelivery) {
        self.id = id
        self.delivery = delivery
    }

    /// Sends `request` to the object's `fetch`.
    public func fetch(_ request: Request) async throws -> Response {
        try await delivery.fetch(id, request)
    }

    /// Calls into the object directly: `body` runs isolated to the instance (as one event, with the
    /// same gates and durability as a fetch) and its result comes back.
    ///
    /// ```swift
    /// let value = try await stub.run(as: Counter.self) { counter in try counter.increment(by: 1) }
    /// ```
    public func run<Object: DurableObject, Result: Sendable>(
        as type: Object.Type, _ body: @escaping @Sendable (isolated Object) async throws -> Result
    ) async throws -> Result {
        try await delivery.run(id, as: type, body)
    }
}

/// How stubs reach objects; implemented by the runtime.
public protocol ObjectDelivery: Sendable {
    func fetch(_ id: ObjectID, _ request: Request) async throws -> Response
    func run<Object: DurableObject, Result: Sendable>(
        _ id: ObjectID, as type: Object.Type, _ body: @escaping @Sendable (isolated Object) async throws -> Result
    ) async throws -> Result
}
