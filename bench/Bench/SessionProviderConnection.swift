import RuntimeAPI
import RuntimeHTTP
import RuntimeIO

/// One connection to the bench's provider side: requests read with `RequestParser` (keep-alive, pipelined
/// or not), each handed whole to `SessionProviderServer.answer`, the answer written with `ResponseEncoder`.
///
/// Threading: loop-bound.
final class SessionProviderConnection: StreamSocketDelegate {
    private unowned let server: SessionProviderServer
    private let socket: StreamSocket
    private var parser = RequestParser()
    private var pending: [UInt8] = []
    private var head: RequestHead?
    private var body: [UInt8] = []
    private var closed = false

    init(server: SessionProviderServer, socket: StreamSocket) {
        self.server = server
        self.socket = socket
    }

    func start() {
        socket.delegate = self
        socket.startReading()
    }

    func close() { socket.close() }

    func socketReceived(_ socket: StreamSocket, _ bytes: UnsafeRawBufferPointer) {
        guard !closed else { return }
        if pending.isEmpty {
            let used = consume(bytes)
            if used < bytes.count, !closed { pending = Array(bytes[used...]) }
        } else {
            var joined = pending
            pending = []
            joined.append(contentsOf: bytes)
            let used = joined.withUnsafeBytes { consume($0) }
            if used < joined.count, !closed { pending = Array(joined[used...]) }
        }
        if pending.count > SessionBenchLimits.maxProviderBodyBytes { fail(status: 413, "request too large") }
    }

    private func consume(_ buffer: UnsafeRawBufferPointer) -> Int {
        var offset = 0
        while !closed {
            let slice = UnsafeRawBufferPointer(rebasing: buffer[offset...])
            let step: (consumed: Int, event: RequestEvent?)
            do throws(HTTPParseError) {
                step = try parser.next(slice)
            } catch {
                fail(status: error.status, "\(error)")
                return buffer.count
            }
            offset += step.consumed
            switch step.event {
            case nil:
                return offset
            case .head(let requestHead):
                head = requestHead
                body = []
                if requestHead.expectsContinue { socket.write(Array("HTTP/1.1 100 Continue\r\n\r\n".utf8)) }
            case .body(let range):
                guard body.count + range.count <= SessionBenchLimits.maxProviderBodyBytes else {
                    fail(status: 413, "body over \(SessionBenchLimits.maxProviderBodyBytes) bytes")
                    return buffer.count
                }
                body.append(contentsOf: slice[range])
            case .end:
                guard let request = head else { continue }
                head = nil
                let answer = server.answer(request, body: body)
                write(status: answer.status, answer.body, close: !request.keepAlive)
            }
        }
        return offset
    }

    private func write(status: Int, _ body: [UInt8], close: Bool) {
        var out: [UInt8] = []
        ResponseEncoder.encodeHead(status: status, headers: ["Content-Type": "application/json"],
                                   framing: .length(body.count), close: close, date: server.date.current(), into: &out)
        out.append(contentsOf: body)
        socket.write(out)
        if close {
            closed = true
            socket.closeAfterFlush()
        }
    }

    private func fail(status: Int, _ reason: String) {
        guard !closed else { return }
        write(status: status, SessionProviderServer.envelope(error: reason), close: true)
    }

    func socketReadClosed(_ socket: StreamSocket, error: IOError?) {
        closed = true
        socket.close()
    }

    func socketClosed(_ socket: StreamSocket) {
        closed = true
        server.connectionClosed(self)
    }
}
