@_spi(Runtime) import RuntimeAPI
import RuntimeIO

/// Writing responses: framing, the head, in-memory and streamed bodies, and what happens after the
/// last byte (keep the connection for the next request, or close it).
extension HTTPServerConnection {
    nonisolated(nonsending) func send(_ response: Response, for head: RequestHead, started: UInt64) async {
        if let webSocket = response.webSocket {
            upgrade(response, client: webSocket, head: head, started: started)
            return
        }
        guard case .stream(let produce) = response.body else {
            sendComplete(response, for: head, started: started)
            return
        }
        guard let framing = beginResponse(response, for: head) else { return }
        var failure: String? = nil
        if framing != .none, head.method != "HEAD" {
            failure = await stream(produce, chunked: framing == .chunked)
        }
        finishResponse(head: head, status: response.status, started: started, failure: failure, app: response.runtimeApp)
    }

    /// Writes a response whose body is already in memory; no suspension needed.
    private func sendComplete(_ response: Response, for head: RequestHead, started: UInt64) {
        guard let framing = beginResponse(response, for: head) else { return }
        if case .bytes(let bytes) = response.body, framing != .none, head.method != "HEAD" {
            socket.write(bytes)
            bodyBytesSent = bytes.count
        }
        finishResponse(head: head, status: response.status, started: started, failure: nil, app: response.runtimeApp)
    }

    /// Chooses the framing and writes the head; nil when the connection can no longer answer.
    private func beginResponse(_ response: Response, for head: RequestHead) -> ResponseEncoder.Framing? {
        guard case .responding = state, socket.isOpen else { return nil }
        let noBody = ResponseEncoder.statusHasNoBody(response.status)
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
        return framing
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
            await loop.hopHere()
        } catch {
            await loop.hopHere()
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

    private func finishResponse(head: RequestHead, status: Int, started: UInt64, failure: String?, app: String?) {
        context.responder.requestFinished(AccessRecord(
            method: head.method, target: head.target, status: status, bytesSent: bodyBytesSent,
            durationNanoseconds: loop.now &- started, remoteAddress: remote, error: failure, app: app))
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
    func fail(_ error: HTTPParseError) {
        writeErrorResponse(status: error.status, message: error.description)
        context.responder.requestFinished(AccessRecord(
            method: "-", target: "-", status: error.status, bytesSent: 0, durationNanoseconds: 0,
            remoteAddress: remote, error: error.description))
    }

    func writeErrorResponse(status: Int, message: String) {
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
        try await withTaskExecutorPreference(connection.context.loop.taskExecutor) {
            try await connection.writeBodyPart(bytes, chunked: chunked)
        }
    }
}
