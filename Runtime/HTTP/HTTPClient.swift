@_spi(Runtime) import RuntimeAPI
import RuntimeIO
import RuntimeTLS
import Synchronization

/// The outbound HTTP/1.1 client behind apps' `fetch`: resolves hosts off the loops (`HostLookup`),
/// connects on a loop (TLS through one client `TLSContext` for https), keeps connections alive in a
/// pool per loop and origin, follows redirects, and returns the response once its head is in, with a
/// body that streams from the connection as the app reads it.
///
/// A fetch runs on the calling loop when there is one (a worker's or object's event), so neither its
/// connection nor its body's pieces change threads; otherwise on the client's loops in turn. Each
/// connection carries one request at a time.
///
/// Apps reach it through `install()`, which makes it the client of the global `fetch`.
///
/// Threading: `fetch`, `statistics`, `closeAll` and the installing may be called from any thread.
public final class HTTPClient: @unchecked Sendable {
    public let loops: [Loop]
    public let config: HTTPClientConfig
    /// Verifies https servers; nil refuses https URLs.
    let tls: TLSContext?
    /// One per loop, same order as `loops`; each touched only on its loop.
    private let pools: [ConnectionPool]
    private let next = Atomic<Int>(0)
    /// What `FetchConnector` holds (the hook protocol is the runtime's own, so the client does not
    /// conform in public).
    private let hook = Hook()

    /// Methods the Fetch standard normalizes to upper case when given in any case.
    private static let normalizedMethods: Set<String> = ["DELETE", "GET", "HEAD", "OPTIONS", "POST", "PUT"]

    public init(loops: [Loop], tls: TLSContext?, config: HTTPClientConfig = HTTPClientConfig()) {
        precondition(!loops.isEmpty, "an HTTP client needs a loop")
        precondition(tls?.role != .server, "an HTTP client verifies servers with a client TLSContext")
        self.loops = loops
        self.tls = tls
        self.config = config
        pools = loops.map { ConnectionPool(loop: $0, config: config) }
        hook.client = self
    }

    /// Makes this the client of apps' `fetch` (preferred on its own loops; elsewhere the newest
    /// installed wins).
    public func install() { FetchConnector.install(hook) }

    /// Stops serving apps' `fetch`.
    public func uninstall() { FetchConnector.uninstall(hook) }

    /// The installed form of a client; holds it weakly so an uninstalled client can go.
    private final class Hook: FetchConnecting, @unchecked Sendable {
        /// Set once, in the client's init, before the hook is shared.
        weak var client: HTTPClient?

        func fetch(_ request: FetchRequest) async throws -> Response {
            guard let client else { throw FetchError.noClient(url: request.url) }
            return try await client.fetch(request)
        }

        var isOnCallingThread: Bool { client?.isOnCallingThread ?? false }
    }

    public var isOnCallingThread: Bool { currentLoopIndex != nil }

    private var currentLoopIndex: Int? {
        guard let current = Loop.current else { return nil }
        return loops.firstIndex { $0 === current }
    }

    /// Sends `request`, following redirects as its mode says, and returns the final response once its
    /// head has arrived (see the global `fetch` for the body's life). Throws `FetchError`.
    public func fetch(_ request: FetchRequest) async throws -> Response {
        let totalDeadline = MonotonicClock.now() + request.timeouts.total.nanoseconds
        let index = currentLoopIndex ?? next.add(1, ordering: .relaxed).oldValue % loops.count
        let (loop, pool) = (loops[index], pools[index])
        let upper = request.method.uppercased()
        let method = Self.normalizedMethods.contains(upper) ? upper : request.method
        var step = RedirectStep(target: try FetchTarget(request.url), method: method, headers: request.headers,
                                body: request.body)
        var redirects = 0
        while true {
            let exchange = try ClientExchange(target: step.target, method: step.method, headers: step.headers,
                                              body: step.body, timeouts: request.timeouts, totalDeadline: totalDeadline)
            let fetched = try await send(exchange, loop: loop, pool: pool)
            let head = fetched.head
            guard request.redirect != .manual, RedirectStep.statuses.contains(head.status),
                  let location = head.headers["location"] else {
                return Self.response(fetched)
            }
            // Not needed: read away, so the next hop can reuse the connection, or dropped with it.
            await fetched.body.readAway()
            if request.redirect == .error {
                throw FetchError.redirectRefused(status: head.status, location: location, url: step.target.url)
            }
            redirects += 1
            guard redirects <= FetchRequest.maxRedirects else {
                throw FetchError.tooManyRedirects(limit: FetchRequest.maxRedirects, url: request.url)
            }
            step = try step.following(status: head.status, location: location)
        }
    }

    /// The app's view of a fetched response: its body streams from the connection when read.
    private static func response(_ fetched: FetchedHead) -> Response {
        let reader = FetchBodyReader(body: fetched.body)
        return Response(status: fetched.head.status, headers: fetched.head.headers,
                        body: .stream { writer in try await reader.pump(into: writer) })
    }

    /// One hop: on a pooled connection when one is idle (once more on a fresh one if that turns out
    /// stale and the request may be repeated), else on a new connection.
    private func send(_ exchange: ClientExchange, loop: Loop, pool: ConnectionPool) async throws -> FetchedHead {
        let origin = exchange.target.origin
        if let pooled = await onLoop(loop, { pool.takeIdle(origin) }) {
            do {
                return try await start(exchange, on: loop) { pooled.send(exchange) }
            } catch let stale as StaleConnection {
                guard exchange.isIdempotent else { throw stale.error }
            }
        }
        if origin.scheme == .https, tls == nil {
            throw FetchError.tlsFailed(host: origin.host, reason: "this HTTP client has no TLS context, so it cannot fetch https URLs")
        }
        let connectDeadline = MonotonicClock.now() + exchange.timeouts.connect.nanoseconds
        let connectFirst = connectDeadline <= exchange.totalDeadline
        let timeoutError: FetchError = connectFirst
            ? .connectTimeout(host: origin.host, port: Int(origin.port), after: exchange.timeouts.connect)
            : .totalTimeout(url: exchange.url, after: exchange.timeouts.total)
        let address = try await HostLookup.resolve(origin, on: loop, deadline: min(connectDeadline, exchange.totalDeadline),
                                                   timeoutError: timeoutError)
        let tls = origin.scheme == .https ? self.tls : nil
        do {
            return try await start(exchange, on: loop) {
                HTTPClientConnection.open(pool: pool, address: address, tls: tls, exchange: exchange,
                                          connectDeadline: connectDeadline)
            }
        } catch let stale as StaleConnection {
            throw stale.error
        }
    }

    /// Runs `begin` on `loop` with the exchange waiting for its head.
    private func start(_ exchange: ClientExchange, on loop: Loop, _ begin: @escaping @Sendable () -> Void)
        async throws -> FetchedHead {
        try await withCheckedThrowingContinuation { continuation in
            if loop.inLoop {
                exchange.waiter = continuation
                begin()
            } else {
                loop.execute {
                    exchange.waiter = continuation
                    begin()
                }
            }
        }
    }

    private func onLoop<T: Sendable>(_ loop: Loop, _ body: @escaping @Sendable () -> T) async -> T {
        if loop.inLoop { return body() }
        return await withCheckedContinuation { continuation in
            loop.execute { continuation.resume(returning: body()) }
        }
    }

    // MARK: Inspection and shutdown

    /// Counts across every loop, each read on its loop.
    public func statistics() async -> HTTPClientStatistics {
        var total = HTTPClientStatistics()
        for (loop, pool) in zip(loops, pools) {
            let counts = await onLoop(loop) {
                HTTPClientStatistics(openConnections: pool.openCount, idleConnections: pool.idleCount,
                                     connectionsOpened: pool.connectionsOpened,
                                     bufferedBodyBytes: pool.bufferedBodyBytes)
            }
            total.openConnections += counts.openConnections
            total.idleConnections += counts.idleConnections
            total.connectionsOpened += counts.connectionsOpened
            total.bufferedBodyBytes += counts.bufferedBodyBytes
        }
        return total
    }

    /// Closes every connection (fetches in flight fail) and pools none from now on; for shutdown,
    /// before the loops stop. Returns at once; the closes run on the loops.
    public func closeAll() {
        for (loop, pool) in zip(loops, pools) {
            loop.execute { pool.closeAll() }
        }
    }
}

/// What an `HTTPClient` holds at one moment (tests, stats).
public struct HTTPClientStatistics: Sendable, Equatable {
    public var openConnections = 0
    /// Open connections waiting in the pools.
    public var idleConnections = 0
    /// Connections made since the client started.
    public var connectionsOpened = 0
    /// Fetched body bytes received and not yet read by their apps.
    public var bufferedBodyBytes = 0

    public init(openConnections: Int = 0, idleConnections: Int = 0, connectionsOpened: Int = 0,
                bufferedBodyBytes: Int = 0) {
        self.openConnections = openConnections
        self.idleConnections = idleConnections
        self.connectionsOpened = connectionsOpened
        self.bufferedBodyBytes = bufferedBodyBytes
    }
}
