import Synchronization

/// A message on a WebSocket.
public enum WebSocketMessage: Sendable, Equatable {
    case text(String)
    case binary([UInt8])
}

/// What a socket accepted with `accept()` yields from `events`.
public enum WebSocketIncoming: Sendable, Equatable {
    case message(WebSocketMessage)
    /// The connection ended; nothing follows. `code` is 1005 when the peer's close frame carried no
    /// code, 1006 when the connection ended without a close frame (`wasClean` false).
    case close(code: Int, reason: String, wasClean: Bool)
}

/// Where a socket is in its life.
public enum WebSocketReadyState: Sendable, Equatable {
    /// Made, but not connected to a peer yet; what is sent now waits.
    case connecting
    case open
    /// This end sent its close frame and waits for the peer's.
    case closing
    case closed
}

/// Limits of the WebSocket API (the wire limits are the server's).
public enum WebSocketAPILimits {
    /// Largest attachment a socket keeps across hibernation.
    public static let maxAttachmentBytes = 16 * 1024
    /// Tags one hibernatable socket may have.
    public static let maxTags = 10
    /// Longest tag, in UTF-8 bytes.
    public static let maxTagBytes = 256
    /// Longest auto-response request or response, in UTF-8 bytes.
    public static let maxAutoResponseBytes = 2048
    /// Longest close reason a close frame can carry, in UTF-8 bytes.
    public static let maxCloseReasonBytes = 123
}

/// Why a WebSocket call was refused.
public enum WebSocketError: Error, CustomStringConvertible, Equatable {
    case attachmentTooLarge(bytes: Int, limit: Int)
    case tooManyTags(count: Int, limit: Int)
    case tagTooLong(bytes: Int, limit: Int)
    case autoResponseTooLong(bytes: Int, limit: Int)
    /// The socket was accepted already (with `accept()` or `acceptWebSocket`).
    case alreadyAccepted
    /// Only the server end of a `WebSocketPair` can be accepted; the client end goes in the response.
    case notServerEnd
    /// The socket is not one of this object's hibernatable sockets.
    case notHibernatable
    case invalidCloseCode(Int)
    case closeReasonTooLong(bytes: Int, limit: Int)
    /// An outbound connection could not be made; the text says why.
    case connectFailed(String)

    public var description: String {
        switch self {
        case .attachmentTooLarge(let bytes, let limit):
            "websocket: attachment of \(bytes) bytes is over the limit of \(limit)"
        case .tooManyTags(let count, let limit): "websocket: \(count) tags; at most \(limit)"
        case .tagTooLong(let bytes, let limit): "websocket: tag of \(bytes) bytes; at most \(limit)"
        case .autoResponseTooLong(let bytes, let limit):
            "websocket: auto-response text of \(bytes) bytes; at most \(limit)"
        case .alreadyAccepted: "websocket: this socket was accepted already"
        case .notServerEnd: "websocket: only the server end of a WebSocketPair can be accepted"
        case .notHibernatable: "websocket: not one of this object's hibernatable sockets"
        case .invalidCloseCode(let code): "websocket: close code \(code) cannot be sent (use 1000 or 3000-4999)"
        case .closeReasonTooLong(let bytes, let limit): "websocket: close reason of \(bytes) bytes; at most \(limit)"
        case .connectFailed(let reason): "websocket: connect failed: \(reason)"
        }
    }
}

/// One end of a WebSocket, as apps hold it.
///
/// A worker or object answers an upgrade request with a `WebSocketPair`: it keeps `server`, accepts it,
/// and returns `Response(webSocket: pair.client)`. Accepting is either
/// - `server.accept()`: events arrive on `server.events`; the socket lives as long as the connection
///   (inside an object, it keeps the object in memory), or
/// - `state.acceptWebSocket(server, tags:)` in a Durable Object: events arrive as the object's
///   `webSocketMessage` / `webSocketClose` calls, and the object may be evicted while the socket stays
///   open (hibernation); the next message re-creates it.
///
/// `send` and `close` may be called from anywhere. Inside an object's event, a message sent after a
/// storage write leaves only once that write is durable (the output gate), in order with the socket's
/// other messages.
public final class WebSocket: Sendable {
    /// Kept small: a hibernated socket's whole cost is this plus its connection.
    struct Core {
        var state: WebSocketReadyState = .connecting
        var transport: (any WebSocketTransport)?
        var acceptance: WebSocketAcceptance = .none
        var attachment: [UInt8]?
        var tags: [String] = []
        var subprotocol: String?
        var autoResponseTimestamp: Int64?
        /// Only while connecting: what was sent (and closed) before the connection existed.
        var queued: Queued?
        /// Only for sockets accepted with `accept()`.
        var standard: StandardEvents?
    }

    final class Queued: @unchecked Sendable {
        var messages: [WebSocketMessage] = []
        var close: (code: Int, reason: String)?
    }

    /// The event stream of a standard socket, and the object its event accepted it in (told when it
    /// ends). The stream outlives the close: events delivered before anyone read `events` stay readable.
    /// Guarded by the socket's `core` lock.
    final class StandardEvents: @unchecked Sendable {
        let stream: AsyncStream<WebSocketIncoming>
        var continuation: AsyncStream<WebSocketIncoming>.Continuation?
        var keptOpenBy: (any OutputGateScope)?
        init(keptOpenBy: (any OutputGateScope)?) {
            (stream, continuation) = AsyncStream<WebSocketIncoming>.makeStream()
            self.keptOpenBy = keptOpenBy
        }
    }

    let core = Mutex(Core())
    /// For the client end of a pair: the server end it belongs with.
    let serverEnd: WebSocket?
    /// False for the client end of a pair (the one the response carries).
    public let isServerEnd: Bool

    init(serverEnd: WebSocket?) {
        self.serverEnd = serverEnd
        isServerEnd = serverEnd == nil
    }

    public var readyState: WebSocketReadyState { core.withLock { $0.state } }
    /// The subprotocol the handshake agreed on, once connected.
    public var subprotocol: String? { core.withLock { $0.subprotocol } }
    /// The tags given to `acceptWebSocket`.
    public var tags: [String] { core.withLock { $0.tags } }

    // MARK: Sending

    public func send(_ text: String) { send(.text(text)) }
    public func send(_ bytes: [UInt8]) { send(.binary(bytes)) }

    public func send(_ message: WebSocketMessage) {
        if let gate = OutputGate.current {
            gate.release { self.transmit(message) }
        } else {
            transmit(message)
        }
    }

    /// Starts the close handshake with `code` (1000, or 3000-4999 for apps) and `reason`.
    public func close(code: Int = 1000, reason: String = "") throws {
        guard code == 1000 || (3000...4999).contains(code) else { throw WebSocketError.invalidCloseCode(code) }
        let bytes = reason.utf8.count
        guard bytes <= WebSocketAPILimits.maxCloseReasonBytes else {
            throw WebSocketError.closeReasonTooLong(bytes: bytes, limit: WebSocketAPILimits.maxCloseReasonBytes)
        }
        if let gate = OutputGate.current {
            gate.release { self.transmitClose(code: code, reason: reason) }
        } else {
            transmitClose(code: code, reason: reason)
        }
    }

    private func transmit(_ message: WebSocketMessage) {
        let transport: (any WebSocketTransport)? = core.withLock { core in
            switch core.state {
            case .connecting:
                if core.queued == nil { core.queued = Queued() }
                core.queued!.messages.append(message)
                return nil
            case .open: return core.transport
            case .closing, .closed: return nil
            }
        }
        transport?.send(message)
    }

    private func transmitClose(code: Int, reason: String) {
        let transport: (any WebSocketTransport)? = core.withLock { core in
            switch core.state {
            case .connecting:
                if core.queued == nil { core.queued = Queued() }
                core.queued!.close = (code, reason)
                return nil
            case .open:
                core.state = .closing
                return core.transport
            case .closing, .closed: return nil
            }
        }
        transport?.close(code: code, reason: reason)
    }

    // MARK: Attachments

    /// Keeps `bytes` with the socket (at most `WebSocketAPILimits.maxAttachmentBytes`), across
    /// hibernation, until it closes.
    public func serializeAttachment(_ bytes: [UInt8]) throws {
        guard bytes.count <= WebSocketAPILimits.maxAttachmentBytes else {
            throw WebSocketError.attachmentTooLarge(bytes: bytes.count, limit: WebSocketAPILimits.maxAttachmentBytes)
        }
        core.withLock { $0.attachment = bytes }
    }

    public func serializeAttachment(_ text: String) throws { try serializeAttachment(Array(text.utf8)) }

    /// What `serializeAttachment` kept, or nil.
    public func deserializeAttachment() -> [UInt8]? { core.withLock { $0.attachment } }

    public func deserializeAttachmentString() -> String? {
        deserializeAttachment().map { String(decoding: $0, as: UTF8.self) }
    }

    // MARK: Standard accept

    /// Accepts the server end of a pair for the standard API: its events arrive on `events`.
    public func accept() throws {
        guard isServerEnd else { throw WebSocketError.notServerEnd }
        let scope = OutputGate.current
        try core.withLock { core in
            guard case .none = core.acceptance else { throw WebSocketError.alreadyAccepted }
            core.acceptance = .standard
            core.standard = StandardEvents(keptOpenBy: scope)
        }
        // Inside an object, its events keep running in the instance: it must not be evicted meanwhile.
        scope?.socketOpened()
        UpgradeTracker.current?.note(self)
    }

    /// Messages, then one `.close`, for a socket accepted with `accept()`; empty otherwise.
    public var events: AsyncStream<WebSocketIncoming> {
        core.withLock { $0.standard?.stream } ?? AsyncStream { $0.finish() }
    }
}

extension WebSocket {
    /// Opens a WebSocket to `url` (`ws://host[:port]/path`) and returns it connected, accepted for the
    /// standard API: read `events`, `send`, `close`. `protocols` are offered as Sec-WebSocket-Protocol;
    /// `headers` go along with the upgrade request. Inside an object the socket keeps the object in
    /// memory until it closes. Throws `WebSocketError.connectFailed` with the reason.
    public static func connect(to url: String, headers: Headers = Headers(), protocols: [String] = []) async throws
        -> WebSocket {
        guard let connector = WebSocketConnector.installed else {
            throw WebSocketError.connectFailed("no WebSocket client is installed in this process")
        }
        return try await connector.connect(url: url, headers: headers, protocols: protocols)
    }
}

/// The two ends of a new WebSocket: keep and accept `server`, return `client` in the response.
public struct WebSocketPair: Sendable {
    public let client: WebSocket
    public let server: WebSocket

    public init() {
        server = WebSocket(serverEnd: nil)
        client = WebSocket(serverEnd: server)
    }
}

/// A request text the runtime answers itself, without waking the object (e.g. "ping" → "pong").
public struct WebSocketAutoResponse: Sendable, Equatable {
    public let request: String
    public let response: String

    public init(request: String, response: String) throws {
        for text in [request, response] where text.utf8.count > WebSocketAPILimits.maxAutoResponseBytes {
            throw WebSocketError.autoResponseTooLong(bytes: text.utf8.count, limit: WebSocketAPILimits.maxAutoResponseBytes)
        }
        self.request = request
        self.response = response
    }
}

// MARK: - Runtime hooks

/// The runtime's end of a connected socket. Implemented by the runtime; `send` and `close` may be
/// called from any thread.
public protocol WebSocketTransport: AnyObject, Sendable {
    func send(_ message: WebSocketMessage)
    func close(code: Int, reason: String)
}

/// How the server end of a pair was accepted.
@_spi(Runtime) public enum WebSocketAcceptance: Sendable {
    case none
    case standard
    /// By an object, for hibernation; the value is the runtime's registration.
    case hibernatable(any AnyObject & Sendable)
}

/// Holds outgoing messages until the writes before them are durable. The runtime sets it for the
/// duration of each object event.
@_spi(Runtime) public protocol OutputGateScope: AnyObject, Sendable {
    /// Runs `action` now if every write so far is durable, otherwise once it is, in call order.
    func release(_ action: @escaping @Sendable () -> Void)
    /// A socket was accepted with `accept()` during the event: keep the object in memory until
    /// `socketEnded`.
    func socketOpened()
    func socketEnded()
}

/// Makes outbound connections for `WebSocket.connect(to:)`; implemented and installed by the runtime.
public protocol WebSocketConnecting: Sendable {
    func connect(url: String, headers: Headers, protocols: [String]) async throws -> WebSocket
    /// True when the calling thread is one of this connector's loops.
    var isOnCallingThread: Bool { get }
}

@_spi(Runtime) public enum WebSocketConnector {
    /// Every installed connector, newest last (a process normally has one; tests run several servers).
    private static let installedConnectors = Mutex<[any WebSocketConnecting & AnyObject]>([])
    /// The connector `WebSocket.connect` uses: the one whose loop is calling (the app's own runtime),
    /// else the newest one still installed.
    public static var installed: (any WebSocketConnecting)? {
        installedConnectors.withLock { connectors in
            connectors.last { $0.isOnCallingThread } ?? connectors.last
        }
    }
    public static func install(_ connector: any WebSocketConnecting & AnyObject) {
        installedConnectors.withLock { $0.append(connector) }
    }
    public static func uninstall(_ connector: any WebSocketConnecting & AnyObject) {
        installedConnectors.withLock { $0.removeAll { $0 === connector } }
    }
}

/// Sockets accepted while one request is being answered, so the runtime can end those the response
/// does not carry (the app threw, or returned something else): otherwise they would wait for a
/// connection that never comes. The runtime sets one around each worker and object `fetch`.
@_spi(Runtime) public final class UpgradeTracker: Sendable {
    @TaskLocal public static var current: UpgradeTracker?

    private let accepted = Mutex<[WebSocket]>([])
    /// The tracker of the request this one runs inside (a worker's, around an object's fetch).
    private let parent: UpgradeTracker?
    /// Ends a socket no response carries; the runtime's (hibernatable sockets have a host to tell).
    private let abandon: @Sendable (WebSocket) -> Void

    public init(abandon: @escaping @Sendable (WebSocket) -> Void) {
        parent = UpgradeTracker.current
        self.abandon = abandon
    }

    public func note(_ socket: WebSocket) { accepted.withLock { $0.append(socket) } }

    /// The request was answered with `response` (nil: it threw). Sockets it does not carry are ended;
    /// the one it carries passes to the enclosing request, whose response must carry it in turn.
    public func settle(_ response: Response?) {
        let sockets = accepted.withLock { list in
            defer { list = [] }
            return list
        }
        let carried = response?.webSocket?.runtimeServerEnd
        for socket in sockets {
            if socket === carried {
                parent?.note(socket)
            } else {
                abandon(socket)
            }
        }
    }
}

@_spi(Runtime) public enum OutputGate {
    @TaskLocal public static var current: (any OutputGateScope)?
}

@_spi(Runtime) extension WebSocket {
    /// The server end a client end belongs with (what the runtime connects).
    public var runtimeServerEnd: WebSocket? { serverEnd }

    public var runtimeAcceptance: WebSocketAcceptance { core.withLock { $0.acceptance } }

    /// Marks the server end accepted by an object for hibernation, with its tags.
    public func runtimeAcceptHibernatable(_ registration: any AnyObject & Sendable, tags: [String]) throws {
        guard isServerEnd else { throw WebSocketError.notServerEnd }
        guard tags.count <= WebSocketAPILimits.maxTags else {
            throw WebSocketError.tooManyTags(count: tags.count, limit: WebSocketAPILimits.maxTags)
        }
        for tag in tags where tag.utf8.count > WebSocketAPILimits.maxTagBytes {
            throw WebSocketError.tagTooLong(bytes: tag.utf8.count, limit: WebSocketAPILimits.maxTagBytes)
        }
        var unique: [String] = []
        for tag in tags where !unique.contains(tag) { unique.append(tag) }
        try core.withLock { core in
            guard case .none = core.acceptance else { throw WebSocketError.alreadyAccepted }
            core.acceptance = .hibernatable(registration)
            core.tags = unique
        }
    }

    /// Connects this end to the runtime's transport: queued messages (and a queued close) go out now,
    /// ahead of anything sent later.
    public func runtimeConnect(_ transport: any WebSocketTransport, subprotocol: String?) {
        core.withLock { core in
            guard core.state == .connecting else { return }
            core.state = core.queued?.close == nil ? .open : .closing
            core.transport = transport
            core.subprotocol = subprotocol
            // Under the lock, so a send from another thread cannot overtake them.
            if let queued = core.queued {
                for message in queued.messages { transport.send(message) }
                if let close = queued.close { transport.close(code: close.code, reason: close.reason) }
            }
            core.queued = nil
        }
    }

    /// Delivers an event of a standard socket to `events`.
    public func runtimeDeliver(_ event: WebSocketIncoming) {
        let (continuation, keeper) = core.withLock { core -> (AsyncStream<WebSocketIncoming>.Continuation?, (any OutputGateScope)?) in
            guard let standard = core.standard else { return (nil, nil) }
            guard case .close = event else { return (standard.continuation, nil) }
            defer {
                standard.continuation = nil
                standard.keptOpenBy = nil
            }
            return (standard.continuation, standard.keptOpenBy)
        }
        continuation?.yield(event)
        if case .close = event {
            continuation?.finish()
            keeper?.socketEnded()
        }
    }

    /// The connection ended: nothing more can be sent.
    public func runtimeClosed() {
        core.withLock { core in
            core.state = .closed
            core.transport = nil
            core.queued = nil
        }
    }

    /// When the socket last sent the auto-response request (milliseconds since 1970).
    public var runtimeAutoResponseTimestamp: Int64? {
        get { core.withLock { $0.autoResponseTimestamp } }
        set { core.withLock { $0.autoResponseTimestamp = newValue } }
    }
}
