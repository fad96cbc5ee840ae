import COpenSSL
import RuntimeIO
#if canImport(Glibc)
import Glibc
#endif

/// TLS over a `StreamSocket`, driven by the socket's loop: OpenSSL never touches the descriptor. The
/// SSL object reads ciphertext from one memory BIO and writes ciphertext to another; this stream moves
/// bytes between those BIOs and the socket, so every read and send still goes through io_uring.
///
/// - Reading: ciphertext the socket received goes into the read BIO; `SSL_read` turns it into
///   plaintext, lent to the delegate one record at a time (from a per-thread buffer, so an idle stream
///   holds no read buffer).
/// - Writing: plaintext written during a loop turn is gathered and encrypted once at the end of it (a
///   response head and body become one record, not two); the ciphertext goes to the socket, which
///   sends it as one send.
/// - The handshake runs inside the stream (server: from the owner's first `startReading`; client: once
///   TCP connects). A client's delegate hears `streamConnected` when the handshake is done.
/// - Ends: the peer's close_notify reads as EOF (`streamReadClosed` with no error); TCP ending without
///   one reports `TLSError.truncated`; any TLS failure reports a `TLSError` naming OpenSSL's reason,
///   after which the stream sends OpenSSL's alert and closes by itself. `closeAfterFlush` sends our
///   close_notify; `close` ends at once, without one.
/// - `handOver` moves the SSL object with the descriptor (`DetachedTLSStream`).
///
/// Threading: loop-bound, like its socket. An SSL object is used by one thread at a time; a handed-over
/// one moves to the new loop's thread for good.
public final class TLSStream: ByteStream, ByteStreamDelegate, EndOfTurnHandler {
    enum State {
        /// Server: accepted, waiting for the owner's first `startReading`. Client: TCP connecting.
        case waiting
        case handshaking
        case established
        /// `closeAfterFlush`: our close_notify is queued; the socket flushes, lingers and closes.
        case shuttingDown
        /// TLS failed and the delegate heard why; the socket flushes OpenSSL's alert, lingers, closes.
        case failed
        /// `close()`: the socket is closing.
        case closing
        /// The socket closed, or the stream was handed over. Nothing more happens.
        case gone
    }

    public let loop: Loop
    public let context: TLSContext
    let socket: StreamSocket
    /// Owned by this stream (with its two BIOs) until `streamClosed` frees it or a hand-over takes it.
    var ssl: OpaquePointer?
    /// Held strongly until `streamClosed` has been delivered.
    public var delegate: (any ByteStreamDelegate)?
    var state: State
    /// What the owner asked for; the socket may read anyway (during the handshake).
    var wantsReading = false
    /// Plaintext written this turn, encrypted at its end.
    var staging: [UInt8] = []
    var endOfTurnScheduled = false
    /// `startReading` came while plaintext may wait inside SSL: deliver it at the end of the turn.
    var deliveryPending = false
    /// Set while the delegate is being handed plaintext, so a call it makes does not read re-entrantly.
    var delivering = false
    var handOverCompletion: ((any DetachedStream) -> Void)?
    var handshakeTimer: LoopTimer?
    var closeNotifyReceived = false
    var readClosedReported = false
    /// The most each memory BIO held since it was made (see `TLSLimits.retainedBIOBytes`).
    var readBIOPeak = 0
    var writeBIOPeak = 0
    /// For a client: the name it verifies and, in errors, who the peer was.
    let serverName: String?

    /// Serves TLS on an accepted socket. The handshake starts with the owner's first `startReading()`,
    /// so nothing is lost before the owner has set itself as delegate.
    public convenience init(accepting socket: StreamSocket, context: TLSContext) {
        precondition(context.role == .server, "accepting needs a server TLSContext")
        self.init(socket: socket, context: context, ssl: context.makeConnection(), state: .waiting, serverName: nil)
    }

    init(socket: StreamSocket, context: TLSContext, ssl: OpaquePointer, state: State, serverName: String?) {
        loop = socket.loop
        self.socket = socket
        self.context = context
        self.ssl = ssl
        self.state = state
        self.serverName = serverName
        socket.delegate = self
    }

    /// Connects to `address` and runs the client handshake, verifying the server's certificate for
    /// `serverName` (a DNS name, sent as SNI too, or an IP address). `delegate` hears
    /// `streamConnected` once the handshake is done or failed (a `TLSError` says why, an `IOError` when
    /// TCP did not connect). Throws an `IOError` when no socket can be made, a `TLSError` for a name
    /// OpenSSL refuses.
    public static func connect(loop: Loop, to address: SocketAddress, serverName: String, context: TLSContext,
                               delegate: any ByteStreamDelegate) throws -> TLSStream {
        precondition(context.role == .client, "connecting needs a client TLSContext")
        let ssl = context.makeConnection()
        do {
            try expectServer(named: serverName, on: ssl)
        } catch {
            SSL_free(ssl)
            throw error
        }
        let socket: StreamSocket
        do {
            socket = try StreamSocket.connect(loop: loop, to: address, delegate: nil)
        } catch {
            SSL_free(ssl)
            throw error
        }
        let stream = TLSStream(socket: socket, context: context, ssl: ssl, state: .waiting, serverName: serverName)
        stream.delegate = delegate
        return stream
    }

    /// SNI and the name the certificate must carry. An IP address is matched against the certificate's
    /// IP entries and never sent as SNI (RFC 6066 §3 allows only host names there).
    private static func expectServer(named name: String, on ssl: OpaquePointer) throws(TLSError) {
        var probe = in6_addr()
        let isAddress = inet_pton(AF_INET, name, &probe) == 1 || inet_pton(AF_INET6, name, &probe) == 1
        OpenSSLErrors.clear()
        if isAddress {
            guard X509_VERIFY_PARAM_set1_ip_asc(SSL_get0_param(ssl), name) == 1 else {
                throw TLSError.configuration("cannot verify IP address \"\(name)\": \(OpenSSLErrors.drain().text)")
            }
            return
        }
        guard copenssl_set_host_name(ssl, name) == 1 else {
            throw TLSError.configuration("server name \"\(name)\" refused for SNI: \(OpenSSLErrors.drain().text)")
        }
        SSL_set_hostflags(ssl, UInt32(X509_CHECK_FLAG_NO_PARTIAL_WILDCARDS))
        guard SSL_set1_host(ssl, name) == 1 else {
            throw TLSError.configuration("cannot verify host name \"\(name)\": \(OpenSSLErrors.drain().text)")
        }
    }

    // MARK: ByteStream

    public var isOpen: Bool {
        switch state {
        case .waiting, .handshaking, .established: true
        case .shuttingDown, .failed, .closing, .gone: false
        }
    }

    /// Plaintext not yet encrypted plus ciphertext the socket has not sent.
    public var queuedBytes: Int { staging.count + socket.queuedBytes }

    public var readState: StreamReadState { wantsReading ? .armed : .stopped }

    public func remoteAddress() -> SocketAddress? { socket.remoteAddress() }

    /// The ALPN protocol the handshake settled on ("http/1.1"), or nil when none was.
    public var negotiatedProtocol: String? {
        guard let ssl else { return nil }
        var name: UnsafePointer<UInt8>? = nil
        var length: UInt32 = 0
        SSL_get0_alpn_selected(ssl, &name, &length)
        guard let name, length > 0 else { return nil }
        return String(decoding: UnsafeBufferPointer(start: name, count: Int(length)), as: UTF8.self)
    }

    /// "TLSv1.3", "TLSv1.2", ... once the handshake is done.
    public var protocolVersion: String? {
        guard let ssl, state == .established else { return nil }
        return String(cString: SSL_get_version(ssl))
    }

    public func startReading() {
        wantsReading = true
        switch state {
        case .waiting where context.role == .server:
            beginHandshake()
        case .established:
            socket.startReading()
            // Records already decrypted (or received) while reading was off wait inside SSL; the socket
            // may bring nothing new to trigger them, and delivering here would call the owner back
            // inside its own call.
            deliveryPending = true
            scheduleEndOfTurn()
        default:
            break
        }
    }

    public func stopReading() {
        wantsReading = false
        if state == .established { socket.stopReading() }
    }

    public func write(_ bytes: UnsafeRawBufferPointer) {
        guard isOpen, bytes.count > 0 else { return }
        staging.append(contentsOf: bytes)
        scheduleEndOfTurn()
    }

    public func write(_ bytes: [UInt8]) {
        guard isOpen, !bytes.isEmpty else { return }
        staging.append(contentsOf: bytes)
        scheduleEndOfTurn()
    }

    func scheduleEndOfTurn() {
        guard !endOfTurnScheduled else { return }
        endOfTurnScheduled = true
        loop.atEndOfTurn(self)
    }

    public func endOfTurn() {
        endOfTurnScheduled = false
        // Before the handshake is done, plaintext waits in `staging`; `handshakeFinished` sends it.
        guard state == .established else { return }
        encryptStaged()
        if deliveryPending {
            deliveryPending = false
            deliverPlaintext()
        }
    }

    public func closeAfterFlush() {
        switch state {
        case .established:
            encryptStaged()
            guard state == .established, let ssl else { return }
            // Our close_notify; the peer's answer is not awaited (the socket lingers, then closes).
            OpenSSLErrors.clear()
            _ = SSL_shutdown(ssl)
            OpenSSLErrors.clear()
            flushCiphertext()
        case .waiting, .handshaking:
            break
        case .shuttingDown, .failed, .closing, .gone:
            return
        }
        state = .shuttingDown
        cancelHandshakeTimer()
        socket.closeAfterFlush()
    }

    /// Ends at once, without close_notify (like a reset for the TLS layer; peers reading then see a
    /// truncated stream). Does nothing after a TLS failure, whose alert is already on its way out and
    /// whose socket closes by itself.
    public func close() {
        switch state {
        case .waiting, .handshaking, .established, .shuttingDown:
            state = .closing
            cancelHandshakeTimer()
            socket.close()
        case .failed, .closing, .gone:
            return
        }
    }

    public func handOver(_ completion: @escaping (any DetachedStream) -> Void) {
        precondition(handOverCompletion == nil, "TLS stream handed over twice")
        guard state == .established else { return }
        handOverCompletion = completion
        wantsReading = false
        encryptStaged()
        guard state == .established else { return }
        socket.detach { [self] fd in finishHandOver(fd: fd) }
    }

    private func finishHandOver(fd: Int32) {
        guard let ssl, let completion = handOverCompletion else { preconditionFailure("hand-over without a session") }
        let detached = DetachedTLSStream(fd: fd, ssl: ssl, context: context, serverName: serverName,
                                         closeNotifyReceived: closeNotifyReceived)
        self.ssl = nil
        handOverCompletion = nil
        state = .gone
        cancelHandshakeTimer()
        delegate = nil
        completion(detached)
    }

    // MARK: ByteStreamDelegate (the socket)

    // Public only because the protocol is; the stream's own socket is the one caller.

    public func streamReceived(_ stream: any ByteStream, _ bytes: UnsafeRawBufferPointer) {
        guard state == .handshaking || state == .established, let ssl, let input = SSL_get_rbio(ssl) else { return }
        let written = BIO_write(input, bytes.baseAddress, Int32(bytes.count))
        precondition(written == Int32(bytes.count), "memory BIO refused \(bytes.count) bytes (out of memory?)")
        readBIOPeak = max(readBIOPeak, Int(BIO_ctrl_pending(input)))
        if state == .handshaking { continueHandshake() } else { deliverPlaintext() }
    }

    public func streamReadClosed(_ stream: any ByteStream, error: (any Error)?) {
        switch state {
        case .handshaking:
            let reason = error.map { "\($0)" } ?? "the peer closed the connection during the handshake"
            fail(.handshakeFailed(peer: peerName, reason: reason))
        case .established:
            guard !closeNotifyReceived else { return }
            reportReadClosed(error ?? TLSError.truncated(peer: peerName))
        default:
            break
        }
    }

    public func streamDrained(_ stream: any ByteStream) {
        guard state == .established, staging.isEmpty else { return }
        delegate?.streamDrained(self)
    }

    public func streamConnected(_ stream: any ByteStream, error: (any Error)?) {
        guard state == .waiting else { return }
        if let error {
            state = .closing
            socket.close()
            delegate?.streamConnected(self, error: error)
            return
        }
        beginHandshake()
    }

    public func streamClosed(_ stream: any ByteStream) {
        state = .gone
        cancelHandshakeTimer()
        if let ssl { SSL_free(ssl) }
        ssl = nil
        let delegate = self.delegate
        self.delegate = nil
        delegate?.streamClosed(self)
    }

    /// Who the peer is, for errors: the server name a client verifies, or the client's address.
    var peerName: String {
        if let serverName { return serverName }
        return socket.remoteAddress()?.description ?? "the peer"
    }
}
