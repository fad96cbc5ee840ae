import RuntimeAPI
import RuntimeIO

/// Everything the HTTP connections of one loop share: configuration, the responder, the cached Date
/// header, a scratch buffer for response heads, and the set of open connections (for graceful shutdown).
///
/// Threading: loop-bound; one per loop.
public final class HTTPServerContext {
    public let loop: Loop
    public let config: HTTPServerConfig
    public let responder: any HTTPResponder
    let date = HTTPDate()
    var scratch: [UInt8] = []
    private var connections: [ObjectIdentifier: HTTPServerConnection] = [:]
    /// Set once shutdown begins: new requests get `Connection: close`.
    public private(set) var draining = false
    /// Called (on the loop) whenever the last connection of a draining context closes.
    public var onDrained: (() -> Void)?

    public init(loop: Loop, config: HTTPServerConfig, responder: any HTTPResponder) {
        self.loop = loop
        self.config = config
        self.responder = responder
        scratch.reserveCapacity(1024)
    }

    public var openConnections: Int { connections.count }

    /// Starts serving plain HTTP on an accepted descriptor.
    public func accept(fd: Int32) {
        accept(stream: StreamSocket(loop: loop, fd: fd))
    }

    /// Starts serving HTTP on an accepted stream of this loop (a `TLSStream` for https); the connection
    /// becomes its delegate.
    public func accept(stream: any ByteStream) {
        let connection = HTTPServerConnection(context: self, stream: stream)
        connections[ObjectIdentifier(connection)] = connection
        connection.start()
    }

    /// Closes idle connections now and lets busy ones finish their current request.
    public func beginDraining() {
        draining = true
        for connection in Array(connections.values) { connection.drain() }
        if connections.isEmpty { onDrained?() }
    }

    /// Closes every connection at once (the grace period ran out).
    public func closeAll() {
        for connection in Array(connections.values) { connection.abort(reason: "shutdown grace period over") }
    }

    /// The connection became a WebSocket: it no longer counts as an HTTP connection.
    func upgraded(_ connection: HTTPServerConnection) { closed(connection) }

    func closed(_ connection: HTTPServerConnection) {
        connections[ObjectIdentifier(connection)] = nil
        if draining, connections.isEmpty { onDrained?() }
    }
}
