@_spi(Runtime) import RuntimeAPI
import RuntimeIO
import RuntimeWebSocket

/// Upgrading to WebSocket: the worker answered with `Response(webSocket: pair.client)` after accepting
/// `pair.server`. The handshake is checked here; on success the 101 goes out and the socket is handed
/// to a `WebSocketConnection` on the loop of whoever accepted it (the object's loop for a hibernatable
/// socket, this loop otherwise).
extension HTTPServerConnection {
    /// Headers of the worker's 101 that the handshake itself decides; the worker's copies are dropped.
    static let handshakeHeaderNames: Set<String> = [
        "upgrade", "connection", "sec-websocket-accept", "sec-websocket-protocol", "sec-websocket-extensions",
        "content-length", "transfer-encoding", "date",
    ]

    func upgrade(_ response: Response, client: WebSocket, head: RequestHead, started: UInt64) {
        guard case .responding = state, socket.isOpen else {
            // The client left (or reset) while the app prepared the 101.
            if let server = client.runtimeServerEnd { abandonUnconnected(server) }
            return
        }
        guard let server = client.runtimeServerEnd else {
            return refuseUpgrade(head: head, started: started, status: 500,
                                 message: "the response carries the server end of a WebSocketPair; return pair.client")
        }
        let host: any WebSocketHost
        switch server.runtimeAcceptance {
        case .none:
            return refuseUpgrade(head: head, started: started, status: 500,
                                 message: "the worker returned a WebSocket it did not accept")
        case .standard:
            host = StandardWebSocketHost(loop: loop)
        case .hibernatable(let registration):
            guard let objectHost = registration as? any WebSocketHost else {
                return refuseUpgrade(head: head, started: started, status: 500, message: "unknown WebSocket acceptance")
            }
            host = objectHost
        }
        let chosen = response.headers["sec-websocket-protocol"].map { [$0] } ?? []
        let upgrade: WebSocketUpgrade
        do {
            upgrade = try WebSocketHandshake.accept(method: head.method, versionMinor: head.versionMinor,
                                                    headers: head.headers, subprotocols: chosen,
                                                    deflate: context.config.webSocket.deflate)
        } catch {
            host.upgradeFailed(for: server)
            return writeHandshakeRefusal(error, head: head, started: started)
        }
        var headers = upgrade.responseHeaders
        for field in response.headers where !Self.handshakeHeaderNames.contains(field.name.lowercased()) {
            headers.add(field.name, field.value)
        }
        var bytes = Array("HTTP/1.1 101 Switching Protocols\r\n".utf8)
        for field in headers { bytes += Array("\(field.name): \(field.value)\r\n".utf8) }
        bytes += [13, 10]
        socket.write(bytes)
        state = .upgraded
        loop.cancel(timer)
        context.responder.requestFinished(AccessRecord(
            method: head.method, target: head.target, status: 101, bytesSent: 0,
            durationNanoseconds: loop.now &- started, remoteAddress: remote, error: nil, app: response.runtimeApp))
        context.upgraded(self)

        let agreement = upgrade.agreement
        let config = context.config.webSocket
        let timing = context.config.webSocketTiming
        if host.loop === loop {
            let leftover = inbound
            inbound = []
            let connection = WebSocketConnection(socket: socket, role: .server, agreement: agreement, config: config,
                                                 timing: timing)
            // The host first: frames that came right behind the upgrade are delivered by `start`.
            host.adopt(connection, for: server)
            connection.start(leftover: leftover)
            return
        }
        // Another loop owns the socket from now on: let this one finish with it first. A TLS session
        // travels with its descriptor.
        socket.handOver { [self] detached in
            let leftover = inbound
            inbound = []
            let peerLeft = peerLeftDuringUpgrade
            let target = host.loop
            target.execute {
                let moved = detached.attach(to: target)
                let connection = WebSocketConnection(socket: moved, role: .server, agreement: agreement,
                                                     config: config, timing: timing)
                host.adopt(connection, for: server)
                connection.start(leftover: leftover)
                if peerLeft { connection.streamReadClosed(moved, error: nil) }
            }
        }
    }

    /// The handshake was bad: 400 or 426 (with `Sec-WebSocket-Version: 13`), and the connection closes.
    private func writeHandshakeRefusal(_ error: WebSocketHandshakeError, head: RequestHead, started: UInt64) {
        closeAfterResponse = true
        state = .closing
        loop.cancel(timer)
        let text = Array((error.description + "\n").utf8)
        var headers = error.responseHeaders
        headers.set("Content-Type", "text/plain; charset=utf-8")
        headers.set("Content-Length", String(text.count))
        var bytes = Array("HTTP/1.1 \(error.status) \(error.reasonPhrase)\r\n".utf8)
        for field in headers { bytes += Array("\(field.name): \(field.value)\r\n".utf8) }
        bytes += Array("Connection: close\r\n\r\n".utf8)
        socket.write(bytes + text)
        socket.closeAfterFlush()
        context.responder.requestFinished(AccessRecord(
            method: head.method, target: head.target, status: error.status, bytesSent: text.count,
            durationNanoseconds: loop.now &- started, remoteAddress: remote, error: error.description))
    }

    private func refuseUpgrade(head: RequestHead, started: UInt64, status: Int, message: String) {
        writeErrorResponse(status: status, message: message)
        context.responder.requestFinished(AccessRecord(
            method: head.method, target: head.target, status: status, bytesSent: 0,
            durationNanoseconds: loop.now &- started, remoteAddress: remote, error: message))
    }
}
