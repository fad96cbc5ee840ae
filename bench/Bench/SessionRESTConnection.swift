import RuntimeHTTP
import RuntimeIO

/// One keep-alive connection of `SessionRESTClient`: one call at a time, the answer read with
/// `ResponseParser`. A call on a reused connection that the server closed before answering a byte (an idle
/// keep-alive connection it let go) is sent once more on a new connection.
///
/// Threading: loop-bound.
final class SessionRESTConnection: StreamSocketDelegate {
    private unowned let client: SessionRESTClient
    private var socket: StreamSocket?
    private var connected = false
    private var parser = ResponseParser()
    private var pending: [UInt8] = []
    private var call: SessionRESTCall?
    private var completion: ((SessionRESTOutcome) -> Void)?
    private var status = 0
    private var body: [UInt8] = []
    private var receivedAny = false
    /// The call went out on a connection that had carried one before.
    private var reused = false
    private var retried = false
    private var keepAlive = true
    private var closing = false
    private lazy var timer = LoopTimer { [weak self] in
        self?.finish(.failed("no answer within \(SessionBenchLimits.restTimeout)"), reusable: false)
    }

    init(client: SessionRESTClient) {
        self.client = client
    }

    func perform(_ call: SessionRESTCall, completion: @escaping (SessionRESTOutcome) -> Void) {
        self.call = call
        self.completion = completion
        retried = false
        client.loop.arm(timer, after: SessionBenchLimits.restTimeout)
        send()
    }

    private func send() {
        guard let call else { return }
        status = 0
        body = []
        receivedAny = false
        parser = ResponseParser()
        parser.expectResponse(toHEAD: call.method == "HEAD")
        if let socket, connected {
            reused = true
            socket.write(client.requestBytes(call))
            return
        }
        reused = false
        guard socket == nil else { return }  // a connect is already in flight; socketConnected sends
        do {
            socket = try StreamSocket.connect(loop: client.loop, to: client.target.address, delegate: self)
        } catch {
            finish(.failed("\(error)"), reusable: false)
        }
    }

    func close() {
        closing = true
        socket?.close()
    }

    // MARK: StreamSocketDelegate

    func socketConnected(_ socket: StreamSocket, error: IOError?) {
        if let error {
            finish(.failed("\(error)"), reusable: false)
            return
        }
        connected = true
        socket.startReading()
        if let call { socket.write(client.requestBytes(call)) }
    }

    func socketReceived(_ socket: StreamSocket, _ bytes: UnsafeRawBufferPointer) {
        receivedAny = true
        guard call != nil, self.socket === socket else { return }
        // `consume` may end the call and start the next one on this connection, so it never runs inside
        // an access to `pending`.
        if pending.isEmpty {
            let used = consume(bytes)
            if used < bytes.count, call != nil, self.socket === socket { pending = Array(bytes[used...]) }
        } else {
            var joined = pending
            pending = []
            joined.append(contentsOf: bytes)
            let used = joined.withUnsafeBytes { consume($0) }
            if used < joined.count, call != nil, self.socket === socket { pending = Array(joined[used...]) }
        }
    }

    private func consume(_ buffer: UnsafeRawBufferPointer) -> Int {
        var offset = 0
        while call != nil {
            let slice = UnsafeRawBufferPointer(rebasing: buffer[offset...])
            do {
                let step = try parser.next(slice)
                offset += step.consumed
                switch step.event {
                case nil: return offset
                case .head(let head):
                    status = head.status
                    keepAlive = head.keepAlive
                case .body(let range):
                    guard body.count + range.count <= SessionBenchLimits.maxResponseBodyBytes else {
                        finish(.failed("answer body over \(SessionBenchLimits.maxResponseBodyBytes) bytes"),
                               reusable: false)
                        return buffer.count
                    }
                    body.append(contentsOf: slice[range])
                case .end:
                    finish(.answered(status: status, body: body), reusable: keepAlive)
                    return offset
                }
            } catch {
                finish(.failed("bad HTTP answer: \(error)"), reusable: false)
                return buffer.count
            }
        }
        return offset
    }

    func socketReadClosed(_ socket: StreamSocket, error: IOError?) {
        socket.close()
    }

    func socketClosed(_ socket: StreamSocket) {
        guard self.socket === socket else { return }
        self.socket = nil
        connected = false
        pending = []
        guard call != nil, !closing else { return }
        if reused, !receivedAny, !retried {
            retried = true
            send()
        } else {
            finish(.failed("the connection closed before a complete answer"), reusable: false)
        }
    }

    /// Ends the call. A connection that cannot carry another call (closed, broken, or still owing an
    /// answer) lets its socket go first, so the next call starts on a new one.
    private func finish(_ outcome: SessionRESTOutcome, reusable: Bool) {
        guard let completion else { return }
        client.loop.cancel(timer)
        if !reusable, let socket {
            self.socket = nil
            connected = false
            pending = []
            socket.close()
        }
        call = nil
        self.completion = nil
        completion(outcome)
        if !closing { client.connectionFree(self) }
    }
}
