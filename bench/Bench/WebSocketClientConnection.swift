import RuntimeHTTP
import RuntimeIO
import RuntimeWebSocket

/// What a `WebSocketClientConnection` tells its owner. Every call arrives on the connection's loop.
protocol WebSocketClientDelegate: AnyObject {
    /// The server accepted the upgrade; messages may be sent from now on.
    func clientOpened(_ client: WebSocketClientConnection)
    /// A whole text message arrived. (Binary messages are dropped: the bench sends only text.)
    func client(_ client: WebSocketClientConnection, receivedText text: String)
    /// The connection failed, before or after the upgrade; `clientClosed` follows.
    func client(_ client: WebSocketClientConnection, failed failure: WebSocketClientFailure)
    /// The socket is closed and the connection is done. Last call.
    func clientClosed(_ client: WebSocketClientConnection)
}

/// One client WebSocket connection of the bench, on our own IO layer: TCP from `StreamSocket`, the upgrade
/// request written by hand with `WebSocketClientHandshake`'s headers, the 101 read with `ResponseParser`,
/// then frames through `WebSocketFrameParser` and `WebSocketFrameEncoder` (masked, as a client must).
/// Answers pings; a close frame from the server is answered and reported as a failure, because the bench
/// never expects one while it runs.
///
/// One-shot: after `clientClosed` it is done; reconnecting means a new connection.
/// Threading: loop-bound. Create and use it on its loop only.
final class WebSocketClientConnection: StreamSocketDelegate {
    private enum State {
        /// `start` not called yet.
        case idle
        /// TCP connect in flight.
        case connecting
        /// The upgrade request is sent; reading the response head (progress in `responseParser`).
        case upgrading
        /// Speaking WebSocket.
        case open
        /// Closing (our close frame sent, or failing); nothing more reaches the delegate but `clientClosed`.
        case closing
        /// `clientClosed` was delivered.
        case closed
    }

    let loop: Loop
    let url: WebSocketURL
    /// More header fields for the upgrade request (`bench session`'s bridges authenticate with them).
    let extraHeaders: [(name: String, value: String)]
    /// Held strongly until `clientClosed` has been delivered, then released (breaking the cycle with an
    /// owner that holds this connection).
    private var delegate: (any WebSocketClientDelegate)?
    private var state = State.idle
    private var socket: StreamSocket?
    private let handshake = WebSocketClientHandshake()
    private var responseParser = ResponseParser()
    /// The response head so far, when it arrived in more than one read.
    private var headBytes: [UInt8] = []
    private let frames = WebSocketFrameParser(role: .client,
                                              limits: WebSocketLimits(maxMessageBytes: WebSocketBenchLimits.maxMessageBytes))
    private let encoder = WebSocketFrameEncoder(role: .client)
    /// Scratch for encoding, reused so a send allocates nothing once it has grown.
    private var outgoing: [UInt8] = []
    private var handshakeTimer: LoopTimer?

    init(loop: Loop, url: WebSocketURL, extraHeaders: [(name: String, value: String)] = [],
         delegate: any WebSocketClientDelegate) {
        self.loop = loop
        self.url = url
        self.extraHeaders = extraHeaders
        self.delegate = delegate
    }

    var isOpen: Bool {
        if case .open = state { return true }
        return false
    }

    /// Connects and upgrades. Every outcome reaches the delegate on a later loop turn, never inside this
    /// call, so an owner may start the next connection from its callbacks without recursing.
    func start() {
        guard case .idle = state else { preconditionFailure("a WebSocketClientConnection starts once") }
        state = .connecting
        let timer = LoopTimer { [weak self] in
            self?.fail(.handshakeTimeout(WebSocketBenchLimits.handshakeTimeout))
        }
        handshakeTimer = timer
        loop.arm(timer, after: WebSocketBenchLimits.handshakeTimeout)
        do {
            socket = try StreamSocket.connect(loop: loop, to: url.address, delegate: self)
        } catch {
            // No socket, so no socketClosed will come: deliver both callbacks ourselves, next turn.
            loop.cancel(timer)
            state = .closing
            let deliver = LoopTimer { [self] in
                delegate?.client(self, failed: .socket(error))
                finish()
            }
            handshakeTimer = deliver
            loop.arm(deliver, after: .zero)
        }
    }

    /// Sends one text message. Ignored unless open.
    func send(text: String) {
        guard case .open = state, let socket else { return }
        encoder.appendText(text, to: &outgoing)
        socket.write(outgoing)
        outgoing.removeAll(keepingCapacity: true)
    }

    /// Sends one text message whose UTF-8 bytes are `bytes` (read only during the call). Ignored unless open.
    func send(textBytes bytes: UnsafeRawBufferPointer) {
        guard case .open = state, let socket else { return }
        encoder.appendMessage(.text, bytes, to: &outgoing)
        socket.write(outgoing)
        outgoing.removeAll(keepingCapacity: true)
    }

    /// Closes cleanly: a close frame (1000) when open, then the socket once the server has answered or
    /// `StreamSocket.lingerTimeout` passed. Before the upgrade it just drops the connection.
    func close() {
        switch state {
        case .idle:
            state = .closing
            finish()
        case .connecting, .upgrading:
            state = .closing
            socket?.close()
        case .open:
            state = .closing
            if let frame = try? encoder.close(code: .normalClosure) { socket?.write(frame) }
            socket?.closeAfterFlush()
        case .closing, .closed:
            break
        }
    }

    // MARK: StreamSocketDelegate

    func socketConnected(_ socket: StreamSocket, error: IOError?) {
        guard case .connecting = state else { return }
        if let error {
            fail(.connect(error))
            return
        }
        state = .upgrading
        responseParser.expectResponse(toHEAD: false)
        var request = "GET \(url.requestTarget) HTTP/1.1\r\nHost: \(url.hostHeader)\r\n"
        for field in handshake.requestHeaders { request += "\(field.name): \(field.value)\r\n" }
        for field in extraHeaders { request += "\(field.name): \(field.value)\r\n" }
        request += "User-Agent: bench\r\n\r\n"
        socket.write(Array(request.utf8))
        socket.startReading()
    }

    func socketReceived(_ socket: StreamSocket, _ bytes: UnsafeRawBufferPointer) {
        switch state {
        case .upgrading:
            if headBytes.isEmpty {
                upgrade(bytes)
            } else {
                headBytes.append(contentsOf: bytes)
                let pending = headBytes
                headBytes = []
                pending.withUnsafeBytes { upgrade($0) }
            }
        case .open:
            consumeFrames(bytes, from: 0)
        case .idle, .connecting, .closing, .closed:
            break
        }
    }

    func socketReadClosed(_ socket: StreamSocket, error: IOError?) {
        switch state {
        case .connecting, .upgrading: fail(.closedBeforeUpgrade(error))
        case .open: fail(.connectionLost(error))
        case .idle, .closing, .closed: socket.close()
        }
    }

    func socketClosed(_ socket: StreamSocket) {
        guard self.socket === socket else { return }
        self.socket = nil
        if case .closing = state {} else {
            // Closed under us without a read error first (a failed send closes the socket itself).
            delegate?.client(self, failed: isOpen ? .connectionLost(nil) : .closedBeforeUpgrade(nil))
        }
        finish()
    }

    // MARK: Parsing

    private enum HeadOutcome {
        /// The head is not complete: keep the bytes from `keepFrom` and parse again when more arrive.
        case needMore(keepFrom: Int)
        /// The 101 was accepted; it took this many bytes, and frames follow.
        case upgraded(headBytes: Int)
        /// The connection failed.
        case failed
    }

    /// Reads the response head at the start of `buffer`, then any frames after it.
    private func upgrade(_ buffer: UnsafeRawBufferPointer) {
        switch consumeHead(buffer) {
        case .needMore(let keepFrom): headBytes = Array(buffer[keepFrom...])
        case .upgraded(let used): consumeFrames(buffer, from: used)
        case .failed: break
        }
    }

    private func consumeHead(_ buffer: UnsafeRawBufferPointer) -> HeadOutcome {
        var offset = 0
        while true {
            let step: (consumed: Int, event: ResponseEvent?)
            do throws(HTTPParseError) {
                step = try responseParser.next(UnsafeRawBufferPointer(rebasing: buffer[offset...]))
            } catch {
                fail(.badResponse(error))
                return .failed
            }
            offset += step.consumed
            guard let event = step.event else {
                // An interim 1xx was skipped: go on after it. Otherwise the head is not complete yet.
                if step.consumed > 0 { continue }
                return .needMore(keepFrom: offset)
            }
            guard case .head(let head) = event else { continue }
            do throws(WebSocketClientHandshakeError) {
                _ = try handshake.validate(status: head.status, headers: head.headers)
            } catch {
                fail(.upgradeRefused(error))
                return .failed
            }
            state = .open
            if let handshakeTimer { loop.cancel(handshakeTimer) }
            delegate?.clientOpened(self)
            return .upgraded(headBytes: offset)
        }
    }

    /// Parses frames from `buffer[start...]` and delivers them, while the connection stays open.
    private func consumeFrames(_ buffer: UnsafeRawBufferPointer, from start: Int) {
        var offset = start
        while case .open = state, offset < buffer.count {
            let step: (consumed: Int, event: WebSocketEvent?)
            do throws(WebSocketProtocolError) {
                step = try frames.next(UnsafeRawBufferPointer(rebasing: buffer[offset...]))
            } catch {
                if let frame = try? encoder.close(code: error.closeCode, reason: error.reason) { socket?.write(frame) }
                fail(.protocolViolation(error), flushFirst: true)
                return
            }
            offset += step.consumed
            guard let event = step.event else { return }
            switch event {
            case .text(let text): delegate?.client(self, receivedText: text)
            case .binary: break
            case .ping(let payload): if let pong = try? encoder.pong(payload) { socket?.write(pong) }
            case .pong: break
            case .close(let code, let reason):
                if let frame = try? encoder.close(code: code ?? .normalClosure) { socket?.write(frame) }
                fail(.closedByServer(code: code, reason: reason), flushFirst: true)
            }
        }
    }

    // MARK: Ending

    /// Reports `failure` and closes; `flushFirst` lets a close frame already written go out first.
    private func fail(_ failure: WebSocketClientFailure, flushFirst: Bool = false) {
        switch state {
        case .closing, .closed, .idle: return
        case .connecting, .upgrading, .open: break
        }
        state = .closing
        if let handshakeTimer { loop.cancel(handshakeTimer) }
        delegate?.client(self, failed: failure)
        if flushFirst { socket?.closeAfterFlush() } else { socket?.close() }
    }

    private func finish() {
        if let handshakeTimer { loop.cancel(handshakeTimer) }
        handshakeTimer = nil
        state = .closed
        let owner = delegate
        delegate = nil
        owner?.clientClosed(self)
    }
}
