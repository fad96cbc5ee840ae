/// An HTTP response produced by a worker.
public struct Response: Sendable {
    public var status: Int
    public var headers: Headers
    public var body: ResponseBody
    /// For an upgrade: the client end of the `WebSocketPair` whose server end the worker accepted.
    public var webSocket: WebSocket?
    /// The app that answered (set by the runtime, for the access log and tail).
    @_spi(Runtime) public var runtimeApp: String?

    public init(status: Int = 200, headers: Headers = Headers(), body: ResponseBody = .empty) {
        self.status = status
        self.headers = headers
        self.body = body
    }

    /// Answers a WebSocket upgrade with the client end of a pair (status 101). To pick a subprotocol
    /// the client offered, set `Sec-WebSocket-Protocol` in `headers`.
    public init(webSocket: WebSocket, headers: Headers = Headers()) {
        self.init(status: 101, headers: headers)
        self.webSocket = webSocket
    }

    /// A UTF-8 text response; sets Content-Type unless `headers` has one.
    public init(status: Int = 200, text: String, headers: Headers = Headers(),
                contentType: String = "text/plain; charset=utf-8") {
        var headers = headers
        if !headers.contains("content-type") { headers.set("Content-Type", contentType) }
        self.init(status: status, headers: headers, body: .bytes(Array(text.utf8)))
    }

    /// A response whose body is produced while it is being sent. The server sends it with chunked
    /// transfer-coding (unless the headers give a Content-Length) and `write` waits while the
    /// client is slower than the producer, so a large body never piles up in memory.
    public init(status: Int = 200, headers: Headers = Headers(),
                stream: @escaping @Sendable (any BodyWriter) async throws -> Void) {
        self.init(status: status, headers: headers, body: .stream(stream))
    }
}

/// What a response carries after its head.
public enum ResponseBody: Sendable {
    case empty
    case bytes([UInt8])
    /// Produced by the closure; see `Response.init(status:headers:stream:)`.
    case stream(@Sendable (any BodyWriter) async throws -> Void)
}

/// Where a streamed response body goes. Calls must not overlap.
public protocol BodyWriter: Sendable {
    /// Queues `bytes` for the client; suspends while too much is queued already.
    /// Throws when the client has gone, so the producer can stop.
    func write(_ bytes: [UInt8]) async throws
}

extension BodyWriter {
    public func write(_ text: String) async throws { try await write(Array(text.utf8)) }
}

/// An error that knows which HTTP status it stands for. Errors of other types thrown by a worker
/// become a 500 whose body reveals nothing of the error.
public protocol HTTPResponseError: Error {
    var status: Int { get }
    /// Safe to show to the client.
    var publicMessage: String { get }
}

/// The stock `HTTPResponseError`.
public struct HTTPError: HTTPResponseError, CustomStringConvertible {
    public var status: Int
    public var publicMessage: String
    public init(_ status: Int, _ message: String) {
        self.status = status
        self.publicMessage = message
    }
    public var description: String { "HTTP \(status): \(publicMessage)" }
}
