@_spi(Runtime) import RuntimeAPI
import RuntimeIO

/// Where the connection of an accepted WebSocket lives and who hears its events: the object that
/// accepted it for hibernation, or the standard bridge to `WebSocket.events`.
public protocol WebSocketHost: AnyObject, Sendable {
    /// The loop the connection must run on.
    var loop: Loop { get }
    /// Takes the new connection for the app's server end, before it starts (frames that came with the
    /// upgrade are delivered as soon as it does). Called on `loop`.
    func adopt(_ connection: WebSocketConnection, for socket: WebSocket)
    /// The upgrade failed (a bad handshake, or the client left first): forget `socket`. Any thread.
    func upgradeFailed(for socket: WebSocket)
}

/// The host of a socket accepted with `WebSocket.accept()`: events go to `socket.events`, on the loop
/// that accepted the HTTP connection.
public final class StandardWebSocketHost: WebSocketHost, WebSocketConnectionDelegate, @unchecked Sendable {
    public let loop: Loop
    private var socket: WebSocket?

    public init(loop: Loop) { self.loop = loop }

    public func adopt(_ connection: WebSocketConnection, for socket: WebSocket) {
        self.socket = socket
        connection.delegate = self
        socket.runtimeConnect(connection, subprotocol: connection.subprotocol)
    }

    public func upgradeFailed(for socket: WebSocket) {
        socket.runtimeClosed()
        socket.runtimeDeliver(.close(code: 1006, reason: "", wasClean: false))
    }

    public func connection(_ connection: WebSocketConnection, received message: WebSocketMessage) {
        socket?.runtimeDeliver(.message(message))
    }

    public func connection(_ connection: WebSocketConnection, failed error: String) {}

    public func connectionClosed(_ connection: WebSocketConnection, code: Int, reason: String, wasClean: Bool) {
        socket?.runtimeClosed()
        socket?.runtimeDeliver(.close(code: code, reason: reason, wasClean: wasClean))
        socket = nil
    }
}

/// Ends the server end of a pair that will never be connected (the request threw, its response did not
/// carry it, or the client left before the 101): its host forgets it and its events end with 1006.
public func abandonUnconnected(_ socket: WebSocket) {
    switch socket.runtimeAcceptance {
    case .hibernatable(let registration):
        (registration as? any WebSocketHost)?.upgradeFailed(for: socket)
    case .standard:
        socket.runtimeClosed()
        socket.runtimeDeliver(.close(code: 1006, reason: "", wasClean: false))
    case .none:
        break
    }
}
