import RuntimeHTTP
import RuntimeIO

/// One client connection of the load: connect, send a request, read the whole response, record the
/// latency, repeat while the run lasts. A connection that fails or is closed by the server counts an
/// error and reconnects.
///
/// Threading: loop-bound; `@unchecked Sendable` only so the run can hand the list to its loop to stop.
final class LoadConnection: StreamSocketDelegate, @unchecked Sendable {
    let loop: Loop
    let target: TargetURL
    /// Makes the next request's bytes (the same bytes every time for `bench http`; a different object per
    /// request for `bench object`).
    let nextRequest: () -> [UInt8]
    let stats: LoopStats
    private var socket: StreamSocket?
    private var parser = ResponseParser()
    private var pending: [UInt8] = []
    private var sentAt: UInt64 = 0
    private var awaitingResponse = false
    private(set) var stopped = false

    init(loop: Loop, target: TargetURL, stats: LoopStats, nextRequest: @escaping () -> [UInt8]) {
        self.loop = loop
        self.target = target
        self.nextRequest = nextRequest
        self.stats = stats
    }

    func start() {
        guard !stopped else { return }
        do {
            socket = try StreamSocket.connect(loop: loop, to: target.address, delegate: self)
        } catch {
            stats.errors += 1
            stats.lastError = "\(error)"
        }
    }

    func stop() {
        stopped = true
        socket?.close()
    }

    func socketConnected(_ socket: StreamSocket, error: IOError?) {
        if let error {
            fail("\(error)")
            return
        }
        socket.startReading()
        sendRequest()
    }

    private func sendRequest() {
        guard !stopped, let socket else { return }
        parser = ResponseParser()
        parser.expectResponse(toHEAD: false)
        awaitingResponse = true
        sentAt = MonotonicClock.now()
        socket.write(nextRequest())
    }

    func socketReceived(_ socket: StreamSocket, _ bytes: UnsafeRawBufferPointer) {
        if pending.isEmpty {
            let used = consume(bytes)
            if used < bytes.count, awaitingResponse { pending.append(contentsOf: bytes[used...]) }
        } else {
            pending.append(contentsOf: bytes)
            let used = pending.withUnsafeBytes { consume($0) }
            pending.removeFirst(min(used, pending.count))
        }
    }

    /// Parses what arrived; returns the bytes used.
    private func consume(_ buffer: UnsafeRawBufferPointer) -> Int {
        var offset = 0
        while awaitingResponse {
            let slice = UnsafeRawBufferPointer(rebasing: buffer[offset...])
            do {
                let step = try parser.next(slice)
                offset += step.consumed
                switch step.event {
                case nil: return offset
                case .head(let head): stats.recordStatus(head.status)
                case .body: break
                case .end:
                    awaitingResponse = false
                    stats.record(latencyNanoseconds: MonotonicClock.now() - sentAt)
                    sendRequest()
                    return offset
                }
            } catch {
                fail("bad response: \(error)")
                return buffer.count
            }
        }
        return offset
    }

    func socketReadClosed(_ socket: StreamSocket, error: IOError?) {
        if awaitingResponse || error != nil {
            fail(error.map { "\($0)" } ?? "server closed the connection mid-response")
        } else {
            socket.close()
        }
    }

    func socketClosed(_ socket: StreamSocket) {
        guard self.socket === socket else { return }
        self.socket = nil
        pending = []
        awaitingResponse = false
        if !stopped { start() }
    }

    private func fail(_ message: String) {
        if !stopped {
            stats.errors += 1
            stats.lastError = message
        }
        awaitingResponse = false
        socket?.close()
    }
}
