@_spi(Runtime) import RuntimeAPI
import RuntimeIO

/// What a `WebSocketConnection` tells its owner. All calls arrive on the connection's loop.
public protocol WebSocketConnectionDelegate: AnyObject {
    /// A whole message (control frames are answered by the connection itself).
    func connection(_ connection: WebSocketConnection, received message: WebSocketMessage)
    /// The peer broke the protocol or sent too much; the connection has answered with the close code.
    /// `connectionClosed` follows.
    func connection(_ connection: WebSocketConnection, failed error: String)
    /// The connection ended. Last call. `code` as `WebSocketIncoming.close` reports it.
    func connectionClosed(_ connection: WebSocketConnection, code: Int, reason: String, wasClean: Bool)
}

/// One WebSocket connection on a loop: frames in and out of a `ByteStream` (TCP or TLS), control frames answered,
/// the close handshake, keep-alive pings. It is the runtime's `WebSocketTransport` for the app's
/// `WebSocket`.
///
/// Idle it holds no receive buffer (the socket receives into the loop's buffer ring) and no parser
/// buffers; what it keeps is a few small objects, which is what lets many hibernated sockets stay open.
///
/// Keep-alive: after `pingInterval` without a frame from the peer it sends a ping; with nothing back for
/// `pongTimeout` more, the peer is gone: the connection closes and reports 1006.
///
/// Threading: loop-bound, except `send` and `close`, which hop to the loop when called elsewhere.
public final class WebSocketConnection: ByteStreamDelegate, WebSocketTransport, EndOfTurnHandler,
    @unchecked Sendable {
    /// Timing of keep-alive and the close handshake.
    public struct Timing: Sendable {
        /// A ping goes out after this long without a frame from the peer.
        public static let defaultPingInterval: Duration = .seconds(30)
        /// After a ping, the peer has this long to send anything before it counts as gone.
        public static let defaultPongTimeout: Duration = .seconds(30)
        /// After our close frame, the peer has this long to answer before the socket is closed anyway.
        public static let defaultCloseTimeout: Duration = .seconds(5)

        public var pingInterval: Duration
        public var pongTimeout: Duration
        public var closeTimeout: Duration

        public init(pingInterval: Duration = defaultPingInterval, pongTimeout: Duration = defaultPongTimeout,
                    closeTimeout: Duration = defaultCloseTimeout) {
            self.pingInterval = pingInterval
            self.pongTimeout = pongTimeout
            self.closeTimeout = closeTimeout
        }
    }

    enum State {
        case open
        /// We sent a close frame and wait for the peer's.
        case closeSent(code: Int, reason: String)
        /// The peer closed, or broke the protocol: nothing more is read, but until the end of the next
        /// loop turn the app's replies to messages it already got still go out; then `frame` (our close)
        /// follows and the connection ends.
        case draining(frame: [UInt8]?, code: Int, reason: String, wasClean: Bool)
        /// Done with frames; the socket is closing.
        case finished
    }

    public let loop: Loop
    let socket: any ByteStream
    let parser: WebSocketFrameParser
    let encoder: WebSocketFrameEncoder
    /// The timing, in loop nanoseconds (three words rather than three Durations: many sockets stay open).
    private let pingInterval: UInt64
    private let pongTimeout: UInt64
    private let closeTimeout: UInt64
    public let subprotocol: String?
    public var delegate: (any WebSocketConnectionDelegate)?
    private var state = State.open
    private var timer: LoopTimer!
    /// When the peer last sent a frame (loop time), for keep-alive.
    private var lastHeard: UInt64
    private var pingOutstanding = false
    private var closeDeadline: UInt64 = 0
    private var reported = false
    private var events: [WebSocketEvent] = []
    private var scratch: [UInt8] = []

    /// Takes over `socket` (its delegate becomes this connection, at `start`); `leftover` are bytes that
    /// arrived after the upgrade request, parsed first.
    public init(socket: any ByteStream, role: WebSocketRole, agreement: WebSocketAgreement, config: WebSocketConfig,
                timing: Timing = Timing()) {
        loop = socket.loop
        self.socket = socket
        parser = WebSocketFrameParser(role: role, limits: config.limits, deflate: agreement.deflate)
        encoder = WebSocketFrameEncoder(role: role, deflate: agreement.deflate,
                                        compression: config.deflate ?? PerMessageDeflateConfig(),
                                        maxFrameBytes: config.maxOutgoingFrameBytes)
        pingInterval = timing.pingInterval.nanoseconds
        pongTimeout = timing.pongTimeout.nanoseconds
        closeTimeout = timing.closeTimeout.nanoseconds
        subprotocol = agreement.subprotocol
        lastHeard = socket.loop.now
        timer = LoopTimer { [weak self] in self?.timerFired() }
    }

    /// Starts reading, after delivering `leftover` (frames that came with the upgrade). Set the delegate
    /// (adopt the connection) before this.
    public func start(leftover: [UInt8] = []) {
        loop.preconditionOnLoop()
        socket.delegate = self
        // Aborted before it started (its object was reset during the upgrade).
        guard case .open = state else { return }
        WebSocketConnections.of(loop).added(self)
        armKeepAlive()
        if !leftover.isEmpty { leftover.withUnsafeBytes { received($0) } }
        if case .open = state { socket.startReading() }
    }

    public var isOpen: Bool {
        if case .open = state { return true }
        return false
    }

    private var canSend: Bool {
        switch state {
        case .open, .draining: true
        case .closeSent, .finished: false
        }
    }

    // MARK: WebSocketTransport

    public func send(_ message: WebSocketMessage) {
        guard loop.inLoop else {
            loop.execute { self.send(message) }
            return
        }
        guard canSend else { return }
        scratch.removeAll(keepingCapacity: true)
        switch message {
        case .text(let text): encoder.appendText(text, to: &scratch)
        case .binary(let bytes): bytes.withUnsafeBytes { encoder.appendMessage(.binary, $0, to: &scratch) }
        }
        socket.write(scratch)
        shrinkScratch()
    }

    /// Sends raw, already-encoded frames (a broadcast encodes once for many connections).
    public func sendEncoded(_ frames: [UInt8]) {
        loop.preconditionOnLoop()
        guard canSend else { return }
        socket.write(frames)
    }

    public func close(code: Int, reason: String) {
        guard loop.inLoop else {
            loop.execute { self.close(code: code, reason: reason) }
            return
        }
        guard case .open = state else { return }
        guard let frame = try? encoder.close(code: WebSocketCloseCode(UInt16(clamping: code)), reason: reason) else { return }
        socket.write(frame)
        state = .closeSent(code: code, reason: reason)
        closeDeadline = loop.now + closeTimeout
        loop.arm(timer, at: closeDeadline)
    }

    /// Closes at once without a handshake (shutdown past its grace, object reset): the peer sees the
    /// connection drop; the delegate gets 1006.
    public func abort() {
        loop.preconditionOnLoop()
        finish(code: 1006, reason: "", wasClean: false)
    }

    // MARK: ByteStreamDelegate

    public func streamReceived(_ stream: any ByteStream, _ bytes: UnsafeRawBufferPointer) {
        received(bytes)
    }

    private func received(_ bytes: UnsafeRawBufferPointer) {
        guard !isFinished, !isDraining else { return }
        lastHeard = loop.now
        pingOutstanding = false
        events.removeAll(keepingCapacity: true)
        do {
            try parser.feed(bytes, into: &events)
        } catch {
            handle(events)
            protocolFailure(error)
            return
        }
        handle(events)
        // Nothing is kept between receives: an idle (hibernated) connection holds no buffers.
        events = []
    }

    private var isFinished: Bool {
        if case .finished = state { return true }
        return false
    }

    private var isDraining: Bool {
        if case .draining = state { return true }
        return false
    }

    private func handle(_ events: [WebSocketEvent]) {
        for event in events {
            if isFinished || isDraining { return }
            switch event {
            case .text(let text):
                if case .open = state { delegate?.connection(self, received: .text(text)) }
            case .binary(let bytes):
                if case .open = state { delegate?.connection(self, received: .binary(bytes)) }
            case .ping(let payload):
                if case .open = state, let pong = try? encoder.pong(payload) { socket.write(pong) }
            case .pong:
                break
            case .close(let code, let reason):
                peerClosed(code: code, reason: reason)
            }
        }
    }

    private func peerClosed(code: WebSocketCloseCode?, reason: String) {
        let reported = code.map { Int($0.rawValue) } ?? 1005
        switch state {
        case .open:
            // Echo the close (with its code, if it had one), then end the TCP connection: the server
            // closes first (RFC 6455 §7.1.1).
            drain(frame: try? encoder.close(code: code, reason: code == nil ? "" : reason), code: reported, reason: reason,
                  wasClean: true)
        case .closeSent:
            finish(code: reported, reason: reason, wasClean: true)
        case .draining, .finished:
            break
        }
    }

    private func protocolFailure(_ error: WebSocketProtocolError) {
        delegate?.connection(self, failed: error.description)
        guard case .open = state else {
            return finish(code: Int(error.closeCode.rawValue), reason: error.reason, wasClean: false)
        }
        drain(frame: try? encoder.close(code: error.closeCode, reason: error.reason),
              code: Int(error.closeCode.rawValue), reason: error.reason, wasClean: false)
    }

    /// Stops reading and lets the app answer what it was given in this turn before our close goes out.
    private func drain(frame: [UInt8]?, code: Int, reason: String, wasClean: Bool) {
        state = .draining(frame: frame, code: code, reason: reason, wasClean: wasClean)
        socket.stopReading()
        // Registered now, it runs at the end of the next turn: after the jobs the delivered messages
        // woke (and their sends), which run at that turn's start.
        loop.atEndOfTurn(self)
    }

    public func endOfTurn() {
        guard case .draining(let frame, let code, let reason, let wasClean) = state else { return }
        if let frame { socket.write(frame) }
        finish(code: code, reason: reason, wasClean: wasClean)
    }

    public func streamReadClosed(_ stream: any ByteStream, error: (any Error)?) {
        finish(code: 1006, reason: "", wasClean: false)
    }

    public func streamClosed(_ stream: any ByteStream) {
        finish(code: 1006, reason: "", wasClean: false)
    }

    /// Ends the connection (flushing what is queued) and reports once.
    private func finish(code: Int, reason: String, wasClean: Bool) {
        if !isFinished {
            state = .finished
            loop.cancel(timer)
            socket.closeAfterFlush()
        }
        guard !reported else { return }
        reported = true
        WebSocketConnections.of(loop).removed(self)
        let delegate = self.delegate
        self.delegate = nil
        delegate?.connectionClosed(self, code: code, reason: reason, wasClean: wasClean)
    }

    // MARK: Timers

    private func armKeepAlive() {
        loop.arm(timer, at: lastHeard + pingInterval)
    }

    private func timerFired() {
        switch state {
        case .finished, .draining:
            return
        case .closeSent:
            if loop.now >= closeDeadline {
                finish(code: 1006, reason: "", wasClean: false)
            } else {
                loop.arm(timer, at: closeDeadline)
            }
        case .open:
            let due = lastHeard + pingInterval
            if pingOutstanding {
                if loop.now >= due + pongTimeout {
                    finish(code: 1006, reason: "", wasClean: false)
                } else {
                    loop.arm(timer, at: due + pongTimeout)
                }
            } else if loop.now >= due {
                pingOutstanding = true
                if let ping = try? encoder.ping() { socket.write(ping) }
                loop.arm(timer, at: due + pongTimeout)
            } else {
                loop.arm(timer, at: due)
            }
        }
    }

    /// Frames are written from a scratch buffer that is not kept: an idle (hibernated) connection
    /// should hold no memory it is not using.
    private func shrinkScratch() {
        scratch = []
    }
}
