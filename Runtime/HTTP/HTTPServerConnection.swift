import RuntimeAPI
import RuntimeIO

/// One HTTP/1.1 server connection: parses requests from its socket, hands each complete request to the
/// responder, and writes the response. Requests on one connection are answered strictly in order;
/// bytes of pipelined requests wait in `inbound` until the current response is written.
///
/// Timeouts (one `LoopTimer`, re-armed as the connection moves on): idle between requests, header
/// from the first byte of a request head, request from the end of the head to the end of the response.
///
/// Threading: loop-bound. It is `@unchecked Sendable` only so that the request task, which runs on
/// the same loop (task executor preference), can hold it.
final class HTTPServerConnection: StreamSocketDelegate, @unchecked Sendable {
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
    }

    enum Deadline { case idle, header, request }

    let context: HTTPServerContext
    let socket: StreamSocket
    private var parser: RequestParser
    private var state = State.idle
    private var inbound: [UInt8] = []
    private var body: [UInt8] = []
    private var timer: LoopTimer!
    private var deadline = Deadline.idle
    private var closeAfterResponse = false
    private var responseStarted = false
    private var bodyBytesSent = 0
    private var drainWaiter: CheckedContinuation<Void, Never>?
    private var remote = ""

    init(context: HTTPServerContext, fd: Int32) {
        self.context = context
        socket = StreamSocket(loop: context.loop, fd: fd)
        parser = RequestParser(limits: context.config.limits)
        timer = LoopTimer { [unowned self] in self.deadlinePassed() }
    }

    func start() {
        socket.delegate = self
        remote = socket.remoteAddress()?.description ?? "-"
        arm(.idle)
        socket.startReading()
    }

    private var loop: Loop { context.loop }

    private func arm(_ kind: Deadline) {
        deadline = kind
        let config = context.config
        switch kind {
        case .idle: loop.arm(timer, after: config.idleTimeout)
        case .header: loop.arm(timer, after: config.headerTimeout)
        case .request: loop.arm(timer, after: config.requestTimeout)
        }
    }

    // MARK: Reading

    func socketReceived(_ socket: StreamSocket, _ bytes: UnsafeRawBufferPointer) {
        switch state {
        case .closing:
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

    private var isClosing: Bool {
        if case .closing = state { return true }
        return false
    }

    private func parseInbound() {
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
        let responder = context.responder
        Task(executorPreference: loop) {
            let response = await responder.respond(to: request)
            await self.send(response, for: head, started: started)
        }
    }

    // MARK: Writing

    private func send(_ response: Response, for head: RequestHead, started: UInt64) async {
        guard case .responding = state, socket.isOpen else { return }
        let noBody = ResponseEncoder.statusHasNoBody(response.status)
        let omitBody = noBody || head.method == "HEAD"
        var framing: ResponseEncoder.Framing
        switch response.body {
        case .empty: framing = noBody ? .none : .length(0)
        case .bytes(let bytes): framing = noBody ? .none : .length(bytes.count)
        case .stream:
            if noBody {
                framing = .none
            } else if let length = response.headers["content-length"].flatMap({ Int($0) }), length >= 0 {
                framing = .length(length)
            } else {
                framing = head.versionMinor >= 1 ? .chunked : .close
            }
        }
        if framing == .close { closeAfterResponse = true }
        writeHead(status: response.status, headers: response.headers, framing: framing)
        var failure: String? = nil
        switch response.body {
        case .empty: break
        case .bytes(let bytes):
            if !omitBody {
                socket.write(bytes)
                bodyBytesSent = bytes.count
            }
        case .stream(let produce):
            if !omitBody {
                failure = await stream(produce, chunked: framing == .chunked)
            }
        }
        finishResponse(head: head, status: response.status, started: started, failure: failure)
    }

    private func writeHead(status: Int, headers: Headers, framing: ResponseEncoder.Framing) {
        ResponseEncoder.encodeHead(status: status, headers: headers, framing: framing, close: closeAfterResponse,
                                   date: context.date.current(), into: &context.scratch)
        socket.write(context.scratch)
        context.scratch.removeAll(keepingCapacity: true)
        responseStarted = true
    }

    /// Runs a body producer; returns why it stopped early, or nil.
    private func stream(_ produce: @Sendable (any BodyWriter) async throws -> Void, chunked: Bool) async -> String? {
        let writer = ConnectionBodyWriter(connection: self, chunked: chunked)
        do {
            try await produce(writer)
        } catch {
            // The status is already on the wire; all we can do is cut the body short, which the client
            // sees as a missing last chunk (or a short body) and the close.
            closeAfterResponse = true
            socket.close()
            return "body stream failed: \(error)"
        }
        if chunked, socket.isOpen { socket.write(ResponseEncoder.lastChunk) }
        return nil
    }

    /// Called by `ConnectionBodyWriter` on this loop.
    func writeBodyPart(_ bytes: [UInt8], chunked: Bool) async throws {
        guard socket.isOpen else { throw HTTPError(499, "client closed the connection") }
        guard !bytes.isEmpty else { return }
        if chunked { socket.write(ResponseEncoder.chunkHeader(bytes.count)) }
        socket.write(bytes)
        if chunked { socket.write(ResponseEncoder.crlf) }
        bodyBytesSent += bytes.count
        if socket.queuedBytes >= context.config.sendHighWaterBytes {
            await withCheckedContinuation { drainWaiter = $0 }
            guard socket.isOpen else { throw HTTPError(499, "client closed the connection") }
        }
    }

    private func finishResponse(head: RequestHead, status: Int, started: UInt64, failure: String?) {
        context.responder.requestFinished(AccessRecord(
            method: head.method, target: head.target, status: status, bytesSent: bodyBytesSent,
            durationNanoseconds: loop.now &- started, remoteAddress: remote, error: failure))
        guard case .responding = state else { return }
        if closeAfterResponse || !socket.isOpen {
            state = .closing
            loop.cancel(timer)
            socket.closeAfterFlush()
            return
        }
        state = .idle
        arm(.idle)
        if !inbound.isEmpty { parseInbound() }
        if case .closing = state { return }
        if socket.readState == .stopped { socket.startReading() }
    }

    /// Answers bad input with its status and closes (after flushing and lingering).
    private func fail(_ error: HTTPParseError) {
        writeErrorResponse(status: error.status, message: error.description)
        context.responder.requestFinished(AccessRecord(
            method: "-", target: "-", status: error.status, bytesSent: 0, durationNanoseconds: 0,
            remoteAddress: remote, error: error.description))
    }

    private func writeErrorResponse(status: Int, message: String) {
        closeAfterResponse = true
        state = .closing
        loop.cancel(timer)
        let text = Array((message + "\n").utf8)
        var headers = Headers()
        headers.set("Content-Type", "text/plain; charset=utf-8")
        writeHead(status: status, headers: headers, framing: .length(text.count))
        socket.write(text)
        socket.closeAfterFlush()
    }

    private func deadlinePassed() {
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
        case .closing:
            break
        }
    }

    // MARK: Socket events

    func socketReadClosed(_ socket: StreamSocket, error: IOError?) {
        switch state {
        case .responding where error == nil:
            // The client half-closed after sending its request; it still gets the answer.
            closeAfterResponse = true
        case .closing:
            break
        default:
            socket.close()
        }
    }

    func socketDrained(_ socket: StreamSocket) {
        resumeDrainWaiter()
    }

    func socketClosed(_ socket: StreamSocket) {
        state = .closing
        loop.cancel(timer)
        resumeDrainWaiter()
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

/// The `BodyWriter` a streamed response writes to. Sendable because the producer may run anywhere;
/// every call runs on the connection's loop (task executor preference).
final class ConnectionBodyWriter: BodyWriter, @unchecked Sendable {
    private let connection: HTTPServerConnection
    private let chunked: Bool

    init(connection: HTTPServerConnection, chunked: Bool) {
        self.connection = connection
        self.chunked = chunked
    }

    func write(_ bytes: [UInt8]) async throws {
        let connection = self.connection
        let chunked = self.chunked
        try await withTaskExecutorPreference(connection.context.loop) {
            try await connection.writeBodyPart(bytes, chunked: chunked)
        }
    }
}
