@_spi(Runtime) import RuntimeAPI
import RuntimeIO
import Synchronization

/// Outbound WebSockets (`WebSocket.connect(to:)`): resolves the host off the loop threads, connects on a
/// loop, sends the upgrade request, checks the 101, and hands the socket to a client-role
/// `WebSocketConnection` whose events reach the returned `WebSocket`'s `events`.
///
/// The connection runs on the calling loop when there is one (a worker's or object's event), so its
/// messages need no thread hop; otherwise on the client's loops in turn. `wss://` goes through the
/// `secure` connector (a client TLS context), which verifies the server for the URL's host.
public final class WebSocketClient: WebSocketConnecting, @unchecked Sendable {
    /// Longest response head accepted from the server.
    public static let maxResponseHeadBytes = 16 * 1024
    /// Connect plus handshake must finish within this.
    public static let defaultHandshakeTimeout: Duration = .seconds(10)

    let loops: [Loop]
    let config: WebSocketConfig
    let timing: WebSocketConnection.Timing
    let handshakeTimeout: Duration
    let secure: (any SecureStreamConnector)?
    private let next = Atomic<Int>(0)

    /// Without `secure`, `wss://` URLs are refused.
    public init(loops: [Loop], config: WebSocketConfig = WebSocketConfig(),
                timing: WebSocketConnection.Timing = WebSocketConnection.Timing(),
                handshakeTimeout: Duration = WebSocketClient.defaultHandshakeTimeout,
                secure: (any SecureStreamConnector)? = nil) {
        precondition(!loops.isEmpty, "a WebSocket client needs a loop")
        self.loops = loops
        self.config = config
        self.timing = timing
        self.handshakeTimeout = handshakeTimeout
        self.secure = secure
    }

    public var isOnCallingThread: Bool {
        guard let current = Loop.current else { return false }
        return loops.contains { $0 === current }
    }

    /// For apps (`WebSocket.connect(to:)`): every failure is a `WebSocketError`, a refused upgrade included.
    public func connect(url: String, headers: Headers, protocols: [String]) async throws -> WebSocket {
        do {
            return try await connectReportingStatus(url: url, headers: headers, protocols: protocols)
        } catch let refused as WebSocketClientError {
            throw WebSocketError.connectFailed(refused.reason)
        }
    }

    /// `connect`, except that a server answering the upgrade with a status other than 101 throws
    /// `WebSocketClientError.upgradeRefused` carrying that status, so a caller can tell a refusal it must
    /// not retry (401, 403, 404, 410) from a failure worth retrying. Everything else is a `WebSocketError`.
    public func connectReportingStatus(url: String, headers: Headers, protocols: [String]) async throws -> WebSocket {
        let target = try WebSocketTarget(url)
        let secure: (any SecureStreamConnector)?
        if target.secure {
            guard let connector = self.secure else {
                throw WebSocketError.connectFailed("\(url): wss:// needs a TLS client, and this WebSocket client has none")
            }
            secure = connector
        } else {
            secure = nil
        }
        let address: SocketAddress
        do {
            address = try await Resolver.resolve(host: target.host, port: target.port)
        } catch {
            throw WebSocketError.connectFailed("\(url): \(error)")
        }
        let loop = Loop.current.flatMap { current in loops.first { $0 === current } } ?? loops[next.add(1, ordering: .relaxed).oldValue % loops.count]
        let pair = WebSocketPair()
        let socket = pair.server
        try socket.accept()
        let handshake = WebSocketClientHandshake(subprotocols: protocols, deflate: config.deflate)
        let request = target.upgradeRequest(handshake: handshake, extra: headers)
        let (config, timing, timeout) = (self.config, self.timing, handshakeTimeout)
        try await withCheckedThrowingContinuation { (continuation: CheckedContinuation<Void, any Error>) in
            loop.execute {
                let upgrade = ClientUpgrade(loop: loop, url: url, request: request, handshake: handshake,
                                            socket: socket, config: config, timing: timing,
                                            continuation: continuation)
                upgrade.start(address: address, secure: secure.map { ($0, target.host) }, timeout: timeout)
            }
        }
        return socket
    }
}

/// Why `WebSocketClient.connectReportingStatus` failed when the server did answer.
public enum WebSocketClientError: Error, Equatable, CustomStringConvertible {
    /// The server answered the upgrade request with `status`, not 101.
    case upgradeRefused(url: String, status: Int)

    /// What `connect` reports inside its `WebSocketError.connectFailed`.
    var reason: String {
        switch self {
        case .upgradeRefused(let url, let status):
            "\(url): \(WebSocketClientHandshakeError.unexpectedStatus(status))"
        }
    }

    public var description: String { "websocket: connect failed: \(reason)" }
}

/// Where a ws:// or wss:// URL points.
struct WebSocketTarget {
    let secure: Bool
    let host: String
    let port: UInt16
    /// Path and query, as sent in the request line.
    let target: String
    let hostHeader: String

    init(_ url: String) throws {
        let rest: Substring
        if url.hasPrefix("ws://") {
            secure = false
            rest = url.dropFirst(5)
        } else if url.hasPrefix("wss://") {
            secure = true
            rest = url.dropFirst(6)
        } else {
            throw WebSocketError.connectFailed("\(url): expected a ws:// or wss:// URL")
        }
        let slash = rest.firstIndex(where: { $0 == "/" || $0 == "?" }) ?? rest.endIndex
        let authority = rest[..<slash]
        var path = String(rest[slash...])
        if path.isEmpty || path.hasPrefix("?") { path = "/" + path }
        target = path
        hostHeader = String(authority)
        var hostPart = authority
        var portNumber: UInt16 = secure ? 443 : 80
        if authority.hasPrefix("["), let close = authority.firstIndex(of: "]") {
            hostPart = authority[authority.index(after: authority.startIndex)..<close]
            let after = authority[authority.index(after: close)...]
            if after.hasPrefix(":") {
                guard let port = UInt16(after.dropFirst()) else { throw WebSocketError.connectFailed("\(url): bad port") }
                portNumber = port
            }
        } else if let colon = authority.lastIndex(of: ":") {
            hostPart = authority[..<colon]
            guard let port = UInt16(authority[authority.index(after: colon)...]) else {
                throw WebSocketError.connectFailed("\(url): bad port")
            }
            portNumber = port
        }
        guard !hostPart.isEmpty else { throw WebSocketError.connectFailed("\(url): no host") }
        host = String(hostPart)
        port = portNumber
    }

    func upgradeRequest(handshake: WebSocketClientHandshake, extra: Headers) -> [UInt8] {
        var text = "GET \(target) HTTP/1.1\r\nHost: \(hostHeader)\r\n"
        for field in handshake.requestHeaders { text += "\(field.name): \(field.value)\r\n" }
        for field in extra where !["host", "upgrade", "connection"].contains(field.name.lowercased())
            && !field.name.lowercased().hasPrefix("sec-websocket-") {
            text += "\(field.name): \(field.value)\r\n"
        }
        return Array((text + "\r\n").utf8)
    }
}

/// One outbound upgrade in progress: connect, request, response head, then the connection.
///
/// Threading: loop-bound.
final class ClientUpgrade: ByteStreamDelegate {
    let loop: Loop
    let url: String
    let request: [UInt8]
    let handshake: WebSocketClientHandshake
    let socket: WebSocket
    let config: WebSocketConfig
    let timing: WebSocketConnection.Timing
    private var continuation: CheckedContinuation<Void, any Error>?
    private var stream: (any ByteStream)?
    private var head: [UInt8] = []
    private var timer: LoopTimer?

    init(loop: Loop, url: String, request: [UInt8], handshake: WebSocketClientHandshake, socket: WebSocket,
         config: WebSocketConfig, timing: WebSocketConnection.Timing,
         continuation: CheckedContinuation<Void, any Error>) {
        self.loop = loop
        self.url = url
        self.request = request
        self.handshake = handshake
        self.socket = socket
        self.config = config
        self.timing = timing
        self.continuation = continuation
    }

    /// Connects plain TCP, or through `secure` for a `wss://` URL (verifying the server as `host`).
    func start(address: SocketAddress, secure: (connector: any SecureStreamConnector, host: String)?, timeout: Duration) {
        let timer = LoopTimer { [self] in fail("timed out after \(timeout) (connect and handshake)") }
        self.timer = timer
        loop.arm(timer, after: timeout)
        do {
            if let secure {
                stream = try secure.connector.connect(loop: loop, to: address, serverName: secure.host, delegate: self)
            } else {
                stream = try StreamSocket.connect(loop: loop, to: address, delegate: self)
            }
        } catch {
            fail("\(error)")
        }
    }

    func streamConnected(_ stream: any ByteStream, error: (any Error)?) {
        if let error { return fail("\(error)") }
        stream.write(request)
        stream.startReading()
    }

    func streamReceived(_ stream: any ByteStream, _ bytes: UnsafeRawBufferPointer) {
        guard continuation != nil else { return }
        head.append(contentsOf: bytes)
        guard let end = Self.headEnd(head) else {
            if head.count > WebSocketClient.maxResponseHeadBytes { fail("response head over \(WebSocketClient.maxResponseHeadBytes) bytes") }
            return
        }
        guard let (status, headers) = Self.parseHead(head[..<end]) else { return fail("malformed response head") }
        let agreement: WebSocketAgreement
        do {
            agreement = try handshake.validate(status: status, headers: headers)
        } catch {
            if case .unexpectedStatus(let status) = error {
                return fail(WebSocketClientError.upgradeRefused(url: url, status: status))
            }
            return fail("\(error)")
        }
        let leftover = Array(head[(end + 4)...])
        head = []
        if let timer { loop.cancel(timer) }
        let connection = WebSocketConnection(socket: stream, role: .client, agreement: agreement, config: config,
                                             timing: timing)
        let host = StandardWebSocketHost(loop: loop)
        // The delegate first: frames that came with the 101 are delivered by `start`.
        host.adopt(connection, for: socket)
        connection.start(leftover: leftover)
        let waiting = continuation
        continuation = nil
        waiting?.resume()
    }

    func streamReadClosed(_ stream: any ByteStream, error: (any Error)?) {
        fail(error.map { "\($0)" } ?? "the server closed the connection during the handshake")
    }

    func streamClosed(_ stream: any ByteStream) {
        fail("connection closed during the handshake")
    }

    private func fail(_ reason: String) {
        fail(WebSocketError.connectFailed("\(url): \(reason)"))
    }

    private func fail(_ error: any Error) {
        if let timer { loop.cancel(timer) }
        guard let waiting = continuation else { return }
        continuation = nil
        stream?.close()
        socket.runtimeClosed()
        socket.runtimeDeliver(.close(code: 1006, reason: "", wasClean: false))
        waiting.resume(throwing: error)
    }

    static func headEnd(_ bytes: [UInt8]) -> Int? {
        guard bytes.count >= 4 else { return nil }
        for index in 0...(bytes.count - 4) where bytes[index] == 13 && bytes[index + 1] == 10
            && bytes[index + 2] == 13 && bytes[index + 3] == 10 {
            return index
        }
        return nil
    }

    /// Status code and headers of a response head (without the blank line).
    static func parseHead(_ bytes: ArraySlice<UInt8>) -> (Int, Headers)? {
        let text = String(decoding: bytes, as: UTF8.self)
        var lines = text.split(separator: "\r\n", omittingEmptySubsequences: false)
        guard !lines.isEmpty else { return nil }
        let statusLine = lines.removeFirst().split(separator: " ", maxSplits: 2)
        guard statusLine.count >= 2, statusLine[0].hasPrefix("HTTP/1."), let status = Int(statusLine[1]) else { return nil }
        var headers = Headers()
        for line in lines where !line.isEmpty {
            guard let colon = line.firstIndex(of: ":") else { return nil }
            let name = String(line[..<colon])
            var value = line[line.index(after: colon)...]
            while value.first == " " || value.first == "\t" { value.removeFirst() }
            while value.last == " " || value.last == "\t" { value.removeLast() }
            headers.add(name, String(value))
        }
        return (status, headers)
    }
}
