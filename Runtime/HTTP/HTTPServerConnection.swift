import RuntimeAPI
import RuntimeIO

/// One HTTP/1.1 server connection: parses requests from its socket, hands each complete request to the
/// responder, and writes the response. Requests on one connection are answered strictly in order;
/// bytes of pipelined requests wait in `inbound` until the current response is written.
///
/// Timeouts (one `LoopTimer`, re-armed as the connection moves on): idle between requests, header
/// from the first byte of a request head, request from the end of the head to the end of the response.
///
/// The stream is plain TCP or TLS (`ByteStream`); nothing here depends on which.
///
/// Threading: loop-bound. It is `@unchecked Sendable` only so that the request task, which runs on
/// the same loop (task executor preference), can hold it.
final class HTTPServerConnection: ByteStreamDelegate, @unchecked Sendable {
    enum State {
        /// Between requests; nothing of the next one has arrived.
        case idle
        /// Part of a request head has arrived.
        case readingHead(started: UInt64)
        case readingBody(RequestHead, started: UInt64)
        /// The responder has the request, or its response is being written.
        case responding(RequestHead, started: UInt64)
        /// The last response is flushing, or the socket is closing.
        case closing
        /// The connection became a WebSocket; the socket belongs to it now.
        case upgraded
    }

    enum Deadline { case idle, header, request }

    let context: HTTPServerContext
    let socket: any ByteStream
    var parser: RequestParser
    var state = State.idle
    var inbound: [UInt8] = []
    var body: [UInt8] = []
    var timer: LoopTimer!
    private var deadline = Deadline.idle
    var closeAfterResponse = false
    var responseStarted = false
    var bodyBytesSent = 0
    var drainWaiter: CheckedContinuation<Void, Never>?
    var remote = ""
    private var requestTaskRunning = false
    private var exchangeWaiter: UnsafeContinuation<Exchange?, Never>?
    private var queuedExchange: Exchange?
    private var socketClosed = false
    /// The peer's EOF came while the socket was being handed to its WebSocket connection.
    var peerLeftDuringUpgrade = false
    /// When the current phase's deadline really is. The timer itself may be set earlier: moving a
    /// deadline later (every request does) leaves the timer alone, and an early firing re-arms it.
    var deadlineAt: UInt64 = 0

    init(context: HTTPServerContext, stream: any ByteStream) {
        self.context = context
        socket = stream
        parser = RequestParser(limits: context.config.limits)
        timer = LoopTimer { [unowned self] in self.deadlinePassed() }
    }

    func start() {
        socket.delegate = self
        remote = socket.remoteAddress()?.description ?? "-"
        arm(.idle)
        socket.startReading()
    }

    var loop: Loop { context.loop }

    func arm(_ kind: Deadline) {
        deadline = kind
        let config = context.config
        let length: Duration
        switch kind {
        case .idle: length = config.idleTimeout
        case .header: length = config.headerTimeout
        case .request: length = config.requestTimeout
        }
        deadlineAt = loop.now + length.nanoseconds
        if !timer.isArmed || timer.deadline > deadlineAt { loop.arm(timer, at: deadlineAt) }
    }

    // MARK: Reading

    func streamReceived(_ stream: any ByteStream, _ bytes: UnsafeRawBufferPointer) {
        switch state {
        case .closing:
            return
        case .upgraded:
            // Frames that came right behind the upgrade, before the socket was handed over.
            inbound.append(contentsOf: bytes)
            return
        case .responding:
            inbound.append(contentsOf: bytes)
            if inbound.count > context.config.maxPipelinedBytes { socket.stopReading() }
            return
        case .idle, .readingHead, .readingBody:
            if inbound.isEmpty {
                let used = parse(bytes)
                if used < bytes.count, !isClosing { inbound.append(contentsOf: bytes[used...]) }
            } else {
                inbound.append(contentsOf: bytes)
                parseInbound()
            }
        }
    }

    var isClosing: Bool {
        switch state {
        case .closing, .upgraded: return true
        default: return false
        }
    }

    var isUpgraded: Bool {
        if case .upgraded = state { return true }
        return false
    }

    func parseInbound() {
        let used = inbound.withUnsafeBytes { parse($0) }
        if isClosing {
            inbound = []
        } else {
            inbound.removeFirst(min(used, inbound.count))
        }
    }

    /// Feeds `buffer` to the parser until it needs more bytes, a request is complete, or the input is
    /// bad. Returns the bytes consumed.
    private func parse(_ buffer: UnsafeRawBufferPointer) -> Int {
        var offset = 0
        while true {
            let slice = UnsafeRawBufferPointer(rebasing: buffer[offset...])
            let step: (consumed: Int, event: RequestEvent?)
            do {
                step = try parser.next(slice)
            } catch {
                fail(error)
                return buffer.count
            }
            switch step.event {
            case nil:
                offset += step.consumed
                noteHeadStarted()
                return offset
            case .head(let head):
                headReceived(head)
            case .body(let range):
                body.append(contentsOf: slice[range])
            case .end:
                offset += step.consumed
                dispatch()
                return offset
            }
            offset += step.consumed
        }
    }

    private func noteHeadStarted() {
        guard case .idle = state, !parser.isIdle else { return }
        state = .readingHead(started: loop.now)
        arm(.header)
    }

    private func headReceived(_ head: RequestHead) {
        let started: UInt64
        if case .readingHead(let time) = state { started = time } else { started = loop.now }
        state = .readingBody(head, started: started)
        arm(.request)
        if head.expectsContinue, head.framing != .none {
            socket.write(Self.continueResponse)
        }
    }

    static let continueResponse: [UInt8] = Array("HTTP/1.1 100 Continue\r\n\r\n".utf8)

    private func dispatch() {
        guard case .readingBody(let head, let started) = state else { preconditionFailure("dispatch without a head") }
        state = .responding(head, started: started)
        closeAfterResponse = closeAfterResponse || !head.keepAlive || context.draining
        responseStarted = false
        bodyBytesSent = 0
        let request = Request(
            method: head.method,
            url: URLParts(target: head.target, hostHeader: head.headers["host"], scheme: context.config.scheme),
            headers: head.headers, body: body, remoteAddress: remote)
        body = []
        let exchange = Exchange(request: request, head: head, started: started)
        if let waiter = exchangeWaiter {
            exchangeWaiter = nil
            waiter.resume(returning: exchange)
        } else if requestTaskRunning {
            precondition(queuedExchange == nil, "one request at a time per connection")
            queuedExchange = exchange
        } else {
            requestTaskRunning = true
            startRequestTask(first: exchange)
        }
    }

    /// A request ready for the responder, with what writing its response needs.
    struct Exchange {
        let request: Request
        let head: RequestHead
        let started: UInt64
    }

    /// One task per connection answers its requests in order, parking between them; creating a task per
    /// request would cost more than the rest of a small request's handling.
    private func startRequestTask(first: Exchange) {
        let responder = context.responder
        Task(executorPreference: loop.taskExecutor) {
            await responder.serveConnection {
                var next: Exchange? = first
                while let exchange = next {
                    let response = await responder.respond(to: exchange.request)
                    // The worker may have called an object on another loop; come back before touching
                    // this connection.
                    await self.loop.hopHere()
                    await self.send(response, for: exchange.head, started: exchange.started)
                    next = await self.nextExchange()
                }
            }
        }
    }

    /// The next request on this connection, or nil once the connection has closed.
    private nonisolated(nonsending) func nextExchange() async -> Exchange? {
        if let queued = queuedExchange {
            queuedExchange = nil
            return queued
        }
        if socketClosed || isUpgraded {
            requestTaskRunning = false
            return nil
        }
        // The body may run a moment later than this call (Swift may hop executors first, even back to
        // this same loop), so it checks again for a request that arrived in between.
        return await withUnsafeContinuation { continuation in
            loop.preconditionOnLoop()
            if let queued = queuedExchange {
                queuedExchange = nil
                continuation.resume(returning: queued)
            } else if socketClosed {
                continuation.resume(returning: nil)
            } else {
                exchangeWaiter = continuation
            }
        }
    }

    private func deadlinePassed() {
        if loop.now < deadlineAt {
            loop.arm(timer, at: deadlineAt)
            return
        }
        switch state {
        case .idle:
            socket.close()
        case .readingHead, .readingBody:
            writeErrorResponse(status: 408, message: "request timeout: the request did not arrive in time")
        case .responding(let head, let started):
            if responseStarted {
                socket.close()
            } else {
                writeErrorResponse(status: 503, message: "the request deadline passed before a response was ready")
            }
            context.responder.requestFinished(AccessRecord(
                method: head.method, target: head.target, status: responseStarted ? 0 : 503, bytesSent: bodyBytesSent,
                durationNanoseconds: loop.now &- started, remoteAddress: remote, error: "request timeout"))
        case .closing, .upgraded:
            break
        }
    }

    // MARK: Socket events

    func streamReadClosed(_ stream: any ByteStream, error: (any Error)?) {
        switch state {
        case .upgraded:
            peerLeftDuringUpgrade = true
        case .responding where error == nil:
            // The client half-closed after sending its request; it still gets the answer.
            closeAfterResponse = true
        case .closing:
            break
        default:
            socket.close()
        }
    }

    func streamDrained(_ stream: any ByteStream) {
        resumeDrainWaiter()
    }

    func streamClosed(_ stream: any ByteStream) {
        state = .closing
        socketClosed = true
        loop.cancel(timer)
        resumeDrainWaiter()
        if let waiter = exchangeWaiter {
            exchangeWaiter = nil
            waiter.resume(returning: nil)
        }
        context.closed(self)
    }

    private func resumeDrainWaiter() {
        let waiter = drainWaiter
        drainWaiter = nil
        waiter?.resume()
    }

    // MARK: Shutdown

    /// Graceful shutdown: an idle connection closes now; a busy one after its current response.
    func drain() {
        closeAfterResponse = true
        switch state {
        case .idle: socket.close()
        case .readingHead: socket.close()
        default: break
        }
    }

    func abort(reason: String) { socket.close() }
}
