import CURing
#if canImport(Glibc)
import Glibc
#endif

/// Socket-typed callbacks for owners that only ever hold a plain `StreamSocket` (the bench's clients,
/// tests). Owners that may hold any `ByteStream` (TLS or not) implement `ByteStreamDelegate` instead; a
/// `StreamSocketDelegate` is one, through the forwarding below. All calls arrive on the socket's loop.
public protocol StreamSocketDelegate: ByteStreamDelegate {
    /// Bytes arrived. They are lent for this call only: copy what must be kept.
    func socketReceived(_ socket: StreamSocket, _ bytes: UnsafeRawBufferPointer)
    /// The peer finished sending (EOF) or the connection failed while reading.
    func socketReadClosed(_ socket: StreamSocket, error: IOError?)
    /// Every queued byte was handed to the kernel.
    func socketDrained(_ socket: StreamSocket)
    /// A connect finished; `error` is nil on success.
    func socketConnected(_ socket: StreamSocket, error: IOError?)
    /// The descriptor is closed and every operation on it has completed. Last call.
    func socketClosed(_ socket: StreamSocket)
}

extension StreamSocketDelegate {
    public func socketDrained(_ socket: StreamSocket) {}
    public func socketConnected(_ socket: StreamSocket, error: IOError?) {}

    public func streamReceived(_ stream: any ByteStream, _ bytes: UnsafeRawBufferPointer) {
        socketReceived(Self.socket(stream), bytes)
    }
    public func streamReadClosed(_ stream: any ByteStream, error: (any Error)?) {
        socketReadClosed(Self.socket(stream), error: error as? IOError)
    }
    public func streamDrained(_ stream: any ByteStream) { socketDrained(Self.socket(stream)) }
    public func streamConnected(_ stream: any ByteStream, error: (any Error)?) {
        socketConnected(Self.socket(stream), error: error as? IOError)
    }
    public func streamClosed(_ stream: any ByteStream) { socketClosed(Self.socket(stream)) }

    private static func socket(_ stream: any ByteStream) -> StreamSocket {
        guard let socket = stream as? StreamSocket else {
            preconditionFailure("a StreamSocketDelegate hears only from a StreamSocket; implement ByteStreamDelegate to own \(type(of: stream))")
        }
        return socket
    }
}

/// A connected TCP socket driven by one loop: multishot receive from the loop's buffer ring, sends that
/// resume after partial writes, and a close that waits for every in-flight operation before the
/// descriptor goes away (io_uring may still be using it until then).
///
/// Threading: loop-bound. Create and use it on its loop only.
public final class StreamSocket: ByteStream, IOHandler, EndOfTurnHandler {
    public typealias ReadState = StreamReadState
    enum CloseState { case open, lingering, closing, closed }

    public let loop: Loop
    public let fd: Int32
    /// Held strongly until `socketClosed` has been delivered, then released (breaking the cycle with an
    /// owner that holds the socket).
    public var delegate: (any ByteStreamDelegate)?
    public private(set) var id: HandlerID!
    public private(set) var readState = ReadState.stopped
    private var closeState = CloseState.open
    private var wantsReading = false
    private var inFlight: SendBuffer?
    private var staging: SendBuffer?
    /// Where a client socket is connecting, in memory the kernel reads until the completion (sockets
    /// that never connect, the accepted ones, carry no room for it).
    private var connecting: UnsafeMutablePointer<sockaddr_storage>?
    private var operationsInFlight = 0
    private var flushScheduled = false
    private var lingerTimer: LoopTimer?
    /// Set by `detach`: who gets the descriptor once nothing is in flight.
    private var detachCompletion: ((Int32) -> Void)?

    /// Limits of a lingering close: after our last byte we keep reading (and discarding) so the kernel does
    /// not answer unread data with a reset that would destroy the response we just sent.
    public static let lingerTimeout: Duration = .seconds(2)

    public init(loop: Loop, fd: Int32) {
        self.loop = loop
        self.fd = fd
        id = loop.register(self)
    }

    /// Makes a non-blocking TCP socket for `address`'s family and starts connecting it. The connect
    /// completes on a later loop turn at the earliest, so a delegate may also be set right after this
    /// call (a wrapping stream does, being made around the socket).
    public static func connect(loop: Loop, to address: SocketAddress,
                               delegate: (any ByteStreamDelegate)?) throws(IOError) -> StreamSocket {
        let fd = try syscallRetrying("socket") { Glibc.socket(address.family, Int32(SOCK_STREAM.rawValue) | Int32(SOCK_CLOEXEC.rawValue), 0) }
        var one: Int32 = 1
        setsockopt(fd, Int32(IPPROTO_TCP), TCP_NODELAY, &one, socklen_t(MemoryLayout<Int32>.size))
        let stream = StreamSocket(loop: loop, fd: fd)
        stream.delegate = delegate
        stream.submitConnect(to: address)
        return stream
    }

    /// The kernel reads the address when the SQE is submitted, which is later than this call, so it lives
    /// in memory of our own until the completion.
    private func submitConnect(to address: SocketAddress) {
        let memory = UnsafeMutablePointer<sockaddr_storage>.allocate(capacity: 1)
        memory.initialize(to: address.storage)
        connecting = memory
        let sqe = loop.nextSQE()
        memory.withMemoryRebound(to: sockaddr.self, capacity: 1) { pointer in
            io_uring_prep_connect(sqe, fd, pointer, address.length)
        }
        io_uring_sqe_set_data64(sqe, id.token(.connect).userData)
        operationsInFlight += 1
    }

    /// The peer's address (getpeername), or nil when the socket is not connected.
    public func remoteAddress() -> SocketAddress? {
        var storage = sockaddr_storage()
        var length = socklen_t(MemoryLayout<sockaddr_storage>.size)
        let result = withUnsafeMutablePointer(to: &storage) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { getpeername(fd, $0, &length) }
        }
        return result == 0 ? SocketAddress(storage: storage, length: length) : nil
    }

    /// Bytes queued and not yet taken by the kernel.
    public var queuedBytes: Int { (inFlight?.unsent ?? 0) + (staging?.count ?? 0) }
    public var isOpen: Bool { closeState == .open }

    // MARK: Reading

    /// Starts (or resumes) delivering received bytes.
    public func startReading() {
        wantsReading = true
        armReceive()
    }

    /// Stops delivering bytes until `startReading()`; data waits in the kernel (TCP flow control
    /// pushes back on the peer).
    public func stopReading() {
        wantsReading = false
        guard readState == .armed else { return }
        readState = .cancelling
        let sqe = loop.nextSQE()
        io_uring_prep_cancel64(sqe, id.token(.receive).userData, 0)
        io_uring_sqe_set_data64(sqe, id.token(.cancel).userData)
        operationsInFlight += 1
    }

    private func armReceive() {
        guard readState == .stopped, closeState == .open || closeState == .lingering else { return }
        let sqe = loop.nextSQE()
        io_uring_prep_recv_multishot(sqe, fd, nil, 0, 0)
        sqe.pointee.flags |= UInt8(curing_sqe_buffer_select)
        sqe.pointee.buf_group = UInt16(loop.receiveBuffers.group)
        io_uring_sqe_set_data64(sqe, id.token(.receive).userData)
        readState = .armed
        operationsInFlight += 1
    }

    // MARK: Writing

    /// Queues bytes. Everything written during one loop turn goes out in one send at the end of the
    /// turn (or after the send in flight completes), so small writes do not become small packets.
    public func write(_ bytes: UnsafeRawBufferPointer) {
        guard closeState == .open, bytes.count > 0 else { return }
        if staging == nil { staging = loop.sendBuffers.take() }
        staging!.append(bytes)
        if inFlight == nil, !flushScheduled {
            flushScheduled = true
            loop.atEndOfTurn(self)
        }
    }

    public func endOfTurn() {
        flushScheduled = false
        if inFlight == nil, closeState == .open || closeState == .lingering { submitSend() }
        finishDetachIfIdle()
    }

    public func write(_ bytes: [UInt8]) {
        bytes.withUnsafeBytes { write($0) }
    }

    private func submitSend() {
        if inFlight == nil {
            guard let next = staging, next.count > 0 else { return }
            inFlight = next
            staging = nil
        }
        let buffer = inFlight!
        let sqe = loop.nextSQE()
        io_uring_prep_send(sqe, fd, buffer.base + buffer.sent, buffer.unsent, Int32(MSG_NOSIGNAL))
        io_uring_sqe_set_data64(sqe, id.token(.send).userData)
        operationsInFlight += 1
    }

    // MARK: Handing over

    /// Hands the descriptor to another owner (a WebSocket connection, possibly on another loop): stops
    /// reading, lets queued bytes go out and every operation in flight complete, unregisters, and then
    /// calls `completion` with the descriptor, which the caller owns from then on (this socket never
    /// closes it). Bytes that arrive before the receive stops still reach the delegate; so does the
    /// peer's EOF. Nothing is delivered after `completion`.
    public func detach(_ completion: @escaping (Int32) -> Void) {
        precondition(detachCompletion == nil, "socket detached twice")
        guard closeState == .open else { return }
        detachCompletion = completion
        wantsReading = false
        if readState == .armed {
            readState = .cancelling
            let sqe = loop.nextSQE()
            io_uring_prep_cancel64(sqe, id.token(.receive).userData, 0)
            io_uring_sqe_set_data64(sqe, id.token(.cancel).userData)
            operationsInFlight += 1
        }
        finishDetachIfIdle()
    }

    /// `detach` for owners that see only a `ByteStream`: the descriptor travels in a `DetachedSocket`.
    public func handOver(_ completion: @escaping (any DetachedStream) -> Void) {
        detach { fd in completion(DetachedSocket(fd: fd)) }
    }

    private func finishDetachIfIdle() {
        guard let completion = detachCompletion, closeState == .open, operationsInFlight == 0, inFlight == nil,
              (staging?.count ?? 0) == 0 else { return }
        detachCompletion = nil
        closeState = .closed
        if let staging { loop.sendBuffers.give(staging) }
        staging = nil
        loop.unregister(id)
        delegate = nil
        completion(fd)
    }

    // MARK: Closing

    /// Sends what is queued, half-closes, reads and discards whatever the peer still sends for up to
    /// `lingerTimeout`, then closes. Use after a response that ends the connection.
    public func closeAfterFlush() {
        guard closeState == .open else { return }
        closeState = .lingering
        if queuedBytes == 0 { beginLinger() }
    }

    private func beginLinger() {
        Glibc.shutdown(fd, Int32(SHUT_WR))
        let timer = LoopTimer { [weak self] in self?.close() }
        lingerTimer = timer
        loop.arm(timer, after: Self.lingerTimeout)
        wantsReading = true
        armReceive()
    }

    /// Closes now: cancels the receive, drops unsent bytes, and closes the descriptor once the kernel is
    /// done with every operation. `socketClosed` follows.
    public func close() {
        guard closeState == .open || closeState == .lingering else { return }
        closeState = .closing
        if let lingerTimer { loop.cancel(lingerTimer) }
        wantsReading = false
        if readState == .armed {
            readState = .cancelling
            let sqe = loop.nextSQE()
            io_uring_prep_cancel64(sqe, id.token(.receive).userData, 0)
            io_uring_sqe_set_data64(sqe, id.token(.cancel).userData)
            operationsInFlight += 1
        }
        if inFlight != nil || connecting != nil {
            // A pending send or connect ends promptly once the socket is shut down.
            Glibc.shutdown(fd, Int32(SHUT_RDWR))
        }
        finishCloseIfIdle()
    }

    private func finishCloseIfIdle() {
        guard closeState == .closing, operationsInFlight == 0 else { return }
        let sqe = loop.nextSQE()
        io_uring_prep_close(sqe, fd)
        io_uring_sqe_set_data64(sqe, id.token(.close).userData)
        operationsInFlight += 1
    }

    // MARK: Completions

    public func ioCompleted(_ operation: IOOperation, result: Int32, flags: UInt32,
                            buffer: UnsafeRawBufferPointer?) {
        switch operation {
        case .receive: receiveCompleted(result: result, flags: flags, buffer: buffer)
        case .send: sendCompleted(result: result)
        case .connect: connectCompleted(result: result)
        case .cancel: operationsInFlight -= 1
        case .close: closeCompleted()
        default: preconditionFailure("unexpected \(operation) on a stream socket")
        }
        finishCloseIfIdle()
        finishDetachIfIdle()
    }

    private func receiveCompleted(result: Int32, flags: UInt32, buffer: UnsafeRawBufferPointer?) {
        let more = flags & curing_cqe_f_more != 0
        if !more {
            operationsInFlight -= 1
            readState = .stopped
        }
        if result > 0, let buffer {
            if closeState == .open { delegate?.streamReceived(self, buffer) }
        } else if result == 0 {
            if closeState == .lingering { close() } else if closeState == .open {
                wantsReading = false
                delegate?.streamReadClosed(self, error: nil)
            }
            return
        } else if result == -ENOBUFS {
            // Every buffer was lent out in this turn; they are back now, so re-arm below.
        } else if result == -ECANCELED {
            // Cancelled by stopReading, close or detach; re-armed below only when reading was asked for
            // again before the cancel completed (startReading finds the receive still cancelling).
        } else if result < 0 {
            if closeState == .lingering { close() } else if closeState == .open {
                wantsReading = false
                delegate?.streamReadClosed(self, error: IOError(errno: -result, "recv"))
            }
            return
        }
        if !more, wantsReading, detachCompletion == nil { armReceive() }
    }

    private func sendCompleted(result: Int32) {
        operationsInFlight -= 1
        guard let buffer = inFlight else { return }
        if result < 0 {
            inFlight = nil
            loop.sendBuffers.give(buffer)
            if let staging { loop.sendBuffers.give(staging) }
            staging = nil
            if closeState == .open {
                delegate?.streamReadClosed(self, error: IOError(errno: -result, "send"))
            }
            close()
            return
        }
        buffer.sent += Int(result)
        if buffer.unsent > 0 {
            if closeState == .open || closeState == .lingering { submitSend() }
            return
        }
        inFlight = nil
        loop.sendBuffers.give(buffer)
        if staging != nil, closeState == .open || closeState == .lingering {
            submitSend()
            return
        }
        if closeState == .lingering {
            beginLinger()
        } else if closeState == .open {
            delegate?.streamDrained(self)
        }
    }

    private func connectCompleted(result: Int32) {
        operationsInFlight -= 1
        connecting?.deinitialize(count: 1)
        connecting?.deallocate()
        connecting = nil
        guard closeState == .open else { return }
        delegate?.streamConnected(self, error: result < 0 ? IOError(errno: -result, "connect") : nil)
    }

    private func closeCompleted() {
        operationsInFlight -= 1
        closeState = .closed
        if let inFlight { loop.sendBuffers.give(inFlight) }
        if let staging { loop.sendBuffers.give(staging) }
        inFlight = nil
        staging = nil
        loop.unregister(id)
        delegate?.streamClosed(self)
        delegate = nil
    }
}

/// A plain socket's descriptor between two loops (see `ByteStream.handOver`).
public final class DetachedSocket: DetachedStream, @unchecked Sendable {
    private var fd: Int32?

    public init(fd: Int32) { self.fd = fd }

    /// Closes the descriptor if nobody attached it.
    deinit { if let fd { Glibc.close(fd) } }

    /// Takes the descriptor out, for an owner that wraps it itself (TLS keeps its session beside it).
    public func take() -> Int32 {
        guard let fd else { preconditionFailure("detached socket attached twice") }
        self.fd = nil
        return fd
    }

    public func attach(to loop: Loop) -> any ByteStream { StreamSocket(loop: loop, fd: take()) }
}
