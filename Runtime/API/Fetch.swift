import Synchronization

/// An outbound HTTP request: what `fetch(_:)` sends.
///
/// The runtime sets `Host` from the URL, `Content-Length` from `body`, and `User-Agent: runtime` unless
/// `headers` has one; framing and hop-by-hop headers given here (`Host`, `Content-Length`,
/// `Transfer-Encoding`, `Connection`, `Keep-Alive`, `TE`, `Upgrade`, `Proxy-Connection`) are replaced or
/// dropped. It does not ask for compression: `Accept-Encoding` goes out only if set here, and a
/// compressed body then reaches the app as sent.
public struct FetchRequest: Sendable {
    /// Redirects followed at most, for `.follow`; one more throws `FetchError.tooManyRedirects`.
    public static let maxRedirects = 20

    /// Absolute `http://` or `https://` URL. A fragment is dropped; bytes a request target cannot carry
    /// (spaces, non-ASCII) are percent-encoded.
    public var url: String
    public var method: String
    public var headers: Headers
    public var body: [UInt8]
    public var redirect: FetchRedirect
    public var timeouts: FetchTimeouts

    public init(_ url: String, method: String = "GET", headers: Headers = Headers(), body: [UInt8] = [],
                redirect: FetchRedirect = .follow, timeouts: FetchTimeouts = FetchTimeouts()) {
        self.url = url
        self.method = method
        self.headers = headers
        self.body = body
        self.redirect = redirect
        self.timeouts = timeouts
    }

    /// A request with a UTF-8 text body.
    public init(_ url: String, method: String = "POST", headers: Headers = Headers(), text: String,
                redirect: FetchRedirect = .follow, timeouts: FetchTimeouts = FetchTimeouts()) {
        self.init(url, method: method, headers: headers, body: Array(text.utf8), redirect: redirect,
                  timeouts: timeouts)
    }
}

/// What `fetch` does with a 301, 302, 303, 307 or 308 that carries a `Location`.
public enum FetchRedirect: Sendable, Equatable {
    /// Follows up to `FetchRequest.maxRedirects`: 303 (and 301/302 answering a POST) continue as GET
    /// without the body; 307 and 308 keep the method and body. A relative `Location` is resolved
    /// against the current URL; `Authorization` is dropped when the redirect leaves the origin
    /// (scheme, host, port).
    case follow
    /// Returns the redirect response itself.
    case manual
    /// Throws `FetchError.redirectRefused`.
    case error
}

/// How long each part of a fetch may take. Each expiry throws its own `FetchError`.
public struct FetchTimeouts: Sendable, Equatable {
    /// DNS lookup, TCP connect and (for https) the TLS handshake, per connection made.
    public static let defaultConnect: Duration = .seconds(10)
    /// Longest silence from the server while a response (head or body) is awaited. Time the app spends
    /// not reading the body does not count.
    public static let defaultRead: Duration = .seconds(30)
    /// The whole fetch: every redirect, and reading the body to its end.
    public static let defaultTotal: Duration = .seconds(300)

    public var connect: Duration
    public var read: Duration
    public var total: Duration

    public init(connect: Duration = FetchTimeouts.defaultConnect, read: Duration = FetchTimeouts.defaultRead,
                total: Duration = FetchTimeouts.defaultTotal) {
        self.connect = connect
        self.read = read
        self.total = total
    }
}

/// Sends `request` and returns the response once its head has arrived. The body is a `.stream` that
/// reads from the connection as it is consumed (`bodyBytes(limit:)`, or return the response as the
/// worker's own to pass it through); the connection goes back to the pool once the body was read to
/// its end, and is closed if the response is dropped before.
///
/// Inside a `Worker` or `DurableObject`, whose own `fetch` hides this function, call it as
/// `RuntimeAPI.fetch(...)` or through the same-named methods those protocols gain below.
///
/// In a Durable Object, a request sent after a storage write leaves only once that write is durable
/// (the output gate), as responses and WebSocket messages do.
public func fetch(_ request: FetchRequest) async throws -> Response {
    guard let connector = FetchConnector.installed else { throw FetchError.noClient(url: request.url) }
    if let gate = OutputGate.current {
        await withCheckedContinuation { (continuation: CheckedContinuation<Void, Never>) in
            gate.release { continuation.resume() }
        }
    }
    return try await connector.fetch(request)
}

/// `fetch(FetchRequest(url, method:headers:body:))` with the default redirect mode and timeouts.
public func fetch(_ url: String, method: String = "GET", headers: Headers = Headers(), body: [UInt8] = [])
    async throws -> Response {
    try await fetch(FetchRequest(url, method: method, headers: headers, body: body))
}

extension Worker {
    /// The global `fetch(_:)`, reachable by its plain name inside a worker.
    public func fetch(_ request: FetchRequest) async throws -> Response { try await RuntimeAPI.fetch(request) }

    /// The global `fetch(_:method:headers:body:)`, reachable by its plain name inside a worker.
    public func fetch(_ url: String, method: String = "GET", headers: Headers = Headers(), body: [UInt8] = [])
        async throws -> Response {
        try await RuntimeAPI.fetch(url, method: method, headers: headers, body: body)
    }
}

extension DurableObject {
    /// The global `fetch(_:)`, reachable by its plain name inside an object (on its loop).
    public func fetch(_ request: FetchRequest) async throws -> Response { try await RuntimeAPI.fetch(request) }

    /// The global `fetch(_:method:headers:body:)`, reachable by its plain name inside an object.
    public func fetch(_ url: String, method: String = "GET", headers: Headers = Headers(), body: [UInt8] = [])
        async throws -> Response {
        try await RuntimeAPI.fetch(url, method: method, headers: headers, body: body)
    }
}

// MARK: - Runtime hook

/// Sends fetches for apps; implemented by the runtime's HTTP client.
@_spi(Runtime) public protocol FetchConnecting: AnyObject, Sendable {
    func fetch(_ request: FetchRequest) async throws -> Response
    /// True when the calling thread is one of this client's loops.
    var isOnCallingThread: Bool { get }
}

/// The installed HTTP clients (a process normally has one; tests run several servers).
@_spi(Runtime) public enum FetchConnector {
    private static let installedConnectors = Mutex<[any FetchConnecting]>([])

    /// The client `fetch` uses: the one whose loop is calling (the app's own runtime), else the newest
    /// one still installed.
    public static var installed: (any FetchConnecting)? {
        installedConnectors.withLock { connectors in
            connectors.last { $0.isOnCallingThread } ?? connectors.last
        }
    }

    public static func install(_ connector: any FetchConnecting) {
        installedConnectors.withLock { $0.append(connector) }
    }

    public static func uninstall(_ connector: any FetchConnecting) {
        installedConnectors.withLock { $0.removeAll { $0 === connector } }
    }
}
