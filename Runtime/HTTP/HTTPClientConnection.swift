import RuntimeAPI
import RuntimeIO
import RuntimeTLS

/// One outbound HTTP/1.1 connection over a `ByteStream` (plain TCP, or TLS for https): connects, sends
/// one request at a time, parses the response with `ResponseParser`, streams the body into a
/// `FetchedBody`, and goes back to its pool when the response was read to its end and both sides keep
/// the connection alive.
///
/// Timeouts share one `LoopTimer`: it fires at the earliest of the phase's deadline (connect; the
/// read timeout since the last byte; the pool's idle timeout) and the exchange's total deadline, and
/// re-arms itself when bytes came in the meantime, so receiving never touches the timer heap.
///
/// Threading: loop-bound. `@unchecked Sendable` only so a body reader elsewhere can hold it; every
/// call into it runs on `loop`.
final class HTTPClientConnection: ByteStreamDelegate, @unchecked Sendable {
    enum State {
        /// TCP connecting, then (https) the TLS handshake; the first exchange waits.
        case connecting(ClientExchange, deadline: UInt64)
        /// The request is written; its response head has not come yet.
        case awaitingHead(ClientExchange)
        /// The head was delivered; the body streams into the `FetchedBody`.
        case readingBody(ClientExchange, FetchedBody, ResponseHead)
        /// In the pool, waiting for the next request, since `since`.
        case idle(since: UInt64)
        case closed
    }

    let loop: Loop
    let origin: FetchOrigin
    let pool: ConnectionPool
    private var stream: (any ByteStream)?
    private(set) var state: State
    private var parser: ResponseParser
    /// Received bytes the parser has not consumed yet (a partial head or chunk-size line).
    private var inbound: [UInt8] = []
    private var timer: LoopTimer!
    /// When the last byte arrived (or reading resumed): the read timeout counts from here.
    private var lastActivity: UInt64 = 0
    /// Reading stopped because the body's reader is behind (the read timeout does not run then).
    private var readingPaused = false
    /// Bytes received since the current request was written; none means a pooled connection that
    /// failed was stale, not broken mid-response.
    private var receivedForExchange = 0
    /// Exchanges begun on this connection: from the second on, a failure before any byte means the
    /// server had closed it while it was pooled.
    private var exchangeCount = 0

    private init(pool: ConnectionPool, origin: FetchOrigin, exchange: ClientExchange, connectDeadline: UInt64) {
        self.pool = pool
        loop = pool.loop
        self.origin = origin
        state = .connecting(exchange, deadline: connectDeadline)
        parser = ResponseParser(limits: pool.config.limits)
        timer = LoopTimer { [weak self] in self?.deadlinePassed() }
    }

    /// Opens a connection to `address` for `exchange` and sends it once connected; the exchange hears
    /// of the head or of the failure. Runs on `pool.loop`.
    static func open(pool: ConnectionPool, address: SocketAddress, tls: TLSContext?, exchange: ClientExchange,
                     connectDeadline: UInt64) {
        let origin = exchange.target.origin
        let connection = HTTPClientConnection(pool: pool, origin: origin, exchange: exchange,
                                              connectDeadline: connectDeadline)
        pool.opened(connection)
        connection.armTimer()
        do {
            if let tls {
                connection.stream = try TLSStream.connect(loop: pool.loop, to: address, serverName: origin.host,
                                                          context: tls, delegate: connection)
            } else {
                connection.stream = try StreamSocket.connect(loop: pool.loop, to: address, delegate: connection)
            }
        } catch {
            connection.fail(FetchFailure.connect(error, origin: origin, timeout: exchange.timeouts.connect))
        }
    }

    /// Sends `exchange` on this connection, taken idle from the pool.
    func send(_ exchange: ClientExchange) {
        guard case .idle = state, let stream, stream.isOpen else {
            exchange.reject(StaleConnection(error: .connectionClosed(
                url: exchange.url, reason: "the pooled connection closed before the request was sent")))
            return close()
        }
        begin(exchange, on: stream)
    }

    private func begin(_ exchange: ClientExchange, on stream: any ByteStream) {
        exchangeCount += 1
        receivedForExchange = 0
        state = .awaitingHead(exchange)
        parser.expectResponse(toHEAD: exchange.isHEAD)
        stream.write(exchange.requestBytes)
        resumeReading()
        armTimer()
    }

    // MARK: ByteStreamDelegate

    func streamConnected(_ stream: any ByteStream, error: (any Error)?) {
        guard case .connecting(let exchange, _) = state else { return }
        if let error {
            return fail(FetchFailure.connect(error, origin: origin, timeout: exchange.timeouts.connect))
        }
        begin(exchange, on: stream)
    }

    func streamReceived(_ stream: any ByteStream, _ bytes: UnsafeRawBufferPointer) {
        lastActivity = loop.now
        receivedForExchange += bytes.count
        if case .idle = state {
            // A server may say nothing between responses; anything it says is a protocol error.
            return close()
        }
        if inbound.isEmpty {
            let consumed = parse(bytes)
            if consumed < bytes.count, isParsing {
                inbound.append(contentsOf: UnsafeRawBufferPointer(rebasing: bytes[consumed...]))
            }
        } else {
            inbound.append(contentsOf: bytes)
            let pending = inbound
            inbound = []
            let consumed = pending.withUnsafeBytes { parse($0) }
            if consumed < pending.count, isParsing { inbound = Array(pending[consumed...]) }
        }
    }

    func streamReadClosed(_ stream: any ByteStream, error: (any Error)?) {
        switch state {
        case .connecting(let exchange, _):
            fail(FetchFailure.connect(error ?? FetchError.connectionClosed(url: exchange.url, reason: "closed while connecting"),
                                      origin: origin, timeout: exchange.timeouts.connect))
        case .awaitingHead(let exchange):
            let during = receivedForExchange == 0 ? "before sending a response" : "in the middle of the response head"
            let failure = FetchFailure.read(error, url: exchange.url, during: during)
            if exchangeCount > 1, receivedForExchange == 0 {
                state = .closed
                exchange.reject(StaleConnection(error: failure))
                return close()
            }
            fail(failure)
        case .readingBody(let exchange, let body, _):
            // The end of a body framed by the close. TLS without close_notify cannot be told from a
            // truncation there, and many servers end that way, so it counts as the end too.
            if error == nil || Self.isTruncation(error) {
                do throws(HTTPParseError) {
                    if case .end = try parser.finishAtClose() {
                        body.finish()
                        state = .closed
                        return close()
                    }
                } catch {}
            }
            fail(FetchFailure.read(error, url: exchange.url, during: "before the body was complete"))
        case .idle:
            close()
        case .closed:
            break
        }
    }

    func streamClosed(_ stream: any ByteStream) {
        if case .closed = state {} else {
            fail(.connectionClosed(url: origin.description, reason: "the connection closed"))
        }
        loop.cancel(timer)
        self.stream = nil
        pool.closed(self)
    }

    private static func isTruncation(_ error: (any Error)?) -> Bool {
        if case .truncated = error as? TLSError { return true }
        return false
    }

    // MARK: Parsing

    private var isParsing: Bool {
        switch state {
        case .awaitingHead, .readingBody: true
        case .connecting, .idle, .closed: false
        }
    }

    /// Runs the parser over `bytes` while a response is in progress; returns how many it consumed.
    private func parse(_ bytes: UnsafeRawBufferPointer) -> Int {
        var offset = 0
        while isParsing {
            let rest = UnsafeRawBufferPointer(rebasing: bytes[offset...])
            let step: (consumed: Int, event: ResponseEvent?)
            do throws(HTTPParseError) {
                step = try parser.next(rest)
            } catch {
                fail(FetchFailure.parse(error, url: currentURL))
                return bytes.count
            }
            offset += step.consumed
            guard let event = step.event else {
                if step.consumed == 0 { return offset }
                continue
            }
            switch event {
            case .head(let head):
                headArrived(head)
            case .body(let range):
                if case .readingBody(_, let body, _) = state {
                    body.append(UnsafeRawBufferPointer(rebasing: rest[range]))
                    discardOrPause(body)
                }
            case .end:
                bodyEnded(leftover: offset < bytes.count)
            }
        }
        return offset
    }

    private func headArrived(_ head: ResponseHead) {
        guard case .awaitingHead(let exchange) = state else { return }
        guard head.status != 101 else {
            return fail(.malformedResponse(url: exchange.url,
                                           reason: "101 Switching Protocols answers a request that asked for no upgrade"))
        }
        let body = FetchedBody(connection: self, maxPieceBytes: pool.config.maxBodyPieceBytes)
        state = .readingBody(exchange, body, head)
        exchange.deliver(FetchedHead(head: head, body: body))
    }

    /// The response is complete: back to the pool when both sides allow it, closed otherwise.
    private func bodyEnded(leftover: Bool) {
        guard case .readingBody(_, let body, let head) = state else { return }
        body.finish()
        state = .idle(since: loop.now)
        guard head.keepAlive, !leftover, let stream, stream.isOpen, pool.checkIn(self) else { return close() }
        resumeReading()
        armTimer()
    }

    // MARK: Flow control

    /// After bytes went to `body`: drop a discarded body's connection once it read too much away, or
    /// stop reading while the reader is behind.
    private func discardOrPause(_ body: FetchedBody) {
        if body.discarding {
            if body.discardedBytes > pool.config.maxDiscardBytes { close() }
            return
        }
        if body.queuedBytes >= pool.config.bodyHighWaterBytes, !readingPaused {
            readingPaused = true
            stream?.stopReading()
        }
    }

    /// The reader took bytes or waits for some: read again once what is queued fell below half the
    /// high-water mark (so reading does not flap on every piece).
    func bodyWasRead(_ body: FetchedBody) {
        guard case .readingBody(_, let current, _) = state, current === body, readingPaused,
              body.queuedBytes < pool.config.bodyHighWaterBytes / 2 else { return }
        resumeReading()
    }

    /// The reader dropped the body before its end: read the rest away to keep the connection (a short
    /// redirect body, a response the app did not want) up to `maxDiscardBytes`, or close.
    func bodyAbandoned(_ body: FetchedBody) {
        guard case .readingBody(_, let current, let head) = state, current === body, !body.discarding else { return }
        body.startDiscarding()
        switch head.framing {
        case .contentLength(let length) where length - body.receivedBytes > pool.config.maxDiscardBytes:
            close()
        case .untilClose:
            close()
        default:
            resumeReading()
        }
    }

    private func resumeReading() {
        guard let stream else { return }
        readingPaused = false
        lastActivity = loop.now
        if stream.readState != .armed { stream.startReading() }
    }

    // MARK: Deadlines

    private var currentURL: String {
        switch state {
        case .connecting(let exchange, _), .awaitingHead(let exchange), .readingBody(let exchange, _, _): exchange.url
        case .idle, .closed: origin.description
        }
    }

    /// The earliest moment something may be due, or nil when nothing is.
    private var nextDeadline: UInt64? {
        let readDeadline = { (exchange: ClientExchange) -> UInt64 in
            self.readingPaused ? exchange.totalDeadline
                : min(exchange.totalDeadline, self.lastActivity + exchange.timeouts.read.nanoseconds)
        }
        switch state {
        case .connecting(let exchange, let deadline): return min(deadline, exchange.totalDeadline)
        case .awaitingHead(let exchange): return readDeadline(exchange)
        case .readingBody(let exchange, _, _): return readDeadline(exchange)
        case .idle(let since): return since + pool.config.idleTimeout.nanoseconds
        case .closed: return nil
        }
    }

    private func armTimer() {
        guard let deadline = nextDeadline else { return loop.cancel(timer) }
        loop.arm(timer, at: deadline)
    }

    private func deadlinePassed() {
        let now = loop.now
        guard let deadline = nextDeadline else { return }
        guard now >= deadline else { return armTimer() }
        switch state {
        case .connecting(let exchange, let connectDeadline):
            if now >= exchange.totalDeadline, exchange.totalDeadline <= connectDeadline {
                fail(.totalTimeout(url: exchange.url, after: exchange.timeouts.total))
            } else {
                fail(.connectTimeout(host: origin.host, port: Int(origin.port), after: exchange.timeouts.connect))
            }
        case .awaitingHead(let exchange), .readingBody(let exchange, _, _):
            if now >= exchange.totalDeadline {
                fail(.totalTimeout(url: exchange.url, after: exchange.timeouts.total))
            } else {
                fail(.readTimeout(url: exchange.url, after: exchange.timeouts.read))
            }
        case .idle:
            close()
        case .closed:
            break
        }
    }

    // MARK: Ending

    /// Reports `error` to whoever waits (the exchange for a head, the body's reader) and closes.
    func fail(_ error: FetchError) {
        switch state {
        case .connecting(let exchange, _), .awaitingHead(let exchange):
            state = .closed
            exchange.reject(error)
        case .readingBody(_, let body, _):
            state = .closed
            body.fail(error)
        case .idle, .closed:
            break
        }
        close()
    }

    /// Closes the stream now; the pool forgets the connection once it is gone.
    func close() {
        switch state {
        case .connecting, .awaitingHead, .readingBody:
            return fail(.connectionClosed(url: currentURL, reason: "the client closed the connection"))
        case .idle, .closed:
            break
        }
        state = .closed
        pool.removeIdle(self)
        loop.cancel(timer)
        inbound = []
        if let stream { stream.close() } else { pool.closed(self) }
    }
}
