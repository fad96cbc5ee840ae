@_spi(Runtime) import RuntimeAPI
import RuntimeHTTP
import RuntimeIO
import RuntimeDeploy
import RuntimeObjects
import RuntimeTLS
import RuntimeWebSocket
import Synchronization
#if canImport(Glibc)
import Glibc
#endif

/// A running runtime server: a loop group, one listener and one HTTP context per loop, and the worker
/// that answers requests. Tests start it in-process; `runtime serve` starts it from flags.
public final class Server: Sendable {
    public let config: ServerConfig
    /// The address actually bound (the port is real even when the config asked for port 0).
    public let address: SocketAddress
    let group: LoopGroup
    /// The built-in app's Durable Objects.
    public let objects: ObjectRuntime
    /// Deployed apps and the route table (the built-in app is the fallback).
    public let apps: AppRegistry
    /// The admin API (`runtime deploy`, `secret`, `tail` talk to it), on loopback.
    private let admin = Mutex<AdminServer?>(nil)
    private let waitUntil = WaitUntilTracker()
    private let perLoop: [LoopParts]
    private let stopped = Mutex(false)
    /// Returns freed memory to the system after evictions.
    let memoryTrimmer: MemoryTrimmer
    /// Serves `WebSocket.connect` for this server's apps, on its loops.
    public let webSocketClient: WebSocketClient
    /// Serves `fetch` for this server's apps, on its loops.
    public let httpClient: HTTPClient

    /// What each loop owns. Touched only on its loop after start.
    final class LoopParts: @unchecked Sendable {
        var listener: Listener?
        var http: HTTPServerContext?
        var responder: WorkerResponder?
    }

    /// Serves a worker with no objects.
    public convenience init(config: ServerConfig, worker: any Worker) throws {
        try self.init(config: config, app: App(worker: worker))
    }

    /// Binds, starts the loops and begins accepting. Throws with the cause (port in use, io_uring refused,
    /// state directory not writable).
    public init(config: ServerConfig, app: App) throws {
        self.config = config
        // Before anything sizes itself by the limit (the descriptor pool of object databases does).
        DescriptorLimit.raiseToHard()
        try Self.prepareStateDirectory(config.stateDirectory)
        let tls = try ServerTLS.context(for: config)
        let outboundTLS = try TLSContext(client: config.outboundTLS)
        let requested = try SocketAddress(config.listen)
        let first = try Listener.bind(requested)
        var descriptors = [first.fd]
        do {
            for _ in 1..<max(1, config.threads) {
                descriptors.append(try Listener.bind(first.bound).fd)
            }
            group = try LoopGroup(count: max(1, config.threads), limits: config.io)
        } catch {
            for fd in descriptors { close(fd) }
            throw error
        }
        address = first.bound
        do {
            objects = try ObjectRuntime(
                loops: group.loops,
                config: config.objectsConfig(stateDirectory: config.stateDirectory),
                classes: app.objectClasses, vars: app.vars)
        } catch {
            group.stop()
            group.join()
            for fd in descriptors { close(fd) }
            throw error
        }
        webSocketClient = WebSocketClient(loops: group.loops, config: config.http.webSocket,
                                          timing: config.http.webSocketTiming, secure: outboundTLS)
        WebSocketConnector.install(webSocketClient)
        httpClient = HTTPClient(loops: group.loops, tls: outboundTLS)
        httpClient.install()
        CryptoBackendSlot.install(OpenSSLCrypto())
        let objectsConfig = { (name: String) in
            config.objectsConfig(stateDirectory: AppStore(stateDirectory: config.stateDirectory).appDirectory(name))
        }
        let registry = AppRegistry(stateDirectory: config.stateDirectory, loops: group.loops, objectsConfig: objectsConfig)
        apps = registry
        registry.setFallback(app, objects: objects)
        let trimmer = MemoryTrimmer(loop: group.loops[0])
        memoryTrimmer = trimmer
        objects.setMemoryTrimmer(trimmer)
        registry.memoryTrimmer = trimmer
        Self.installLogSink(registry: registry)
        registry.activateStored { Self.logLine("info", $0) }
        perLoop = group.loops.map { _ in LoopParts() }
        for (index, loop) in group.loops.enumerated() {
            let parts = perLoop[index]
            let fd = descriptors[index]
            let address = first.bound
            let config = config
            let waitUntil = waitUntil
            loop.execute {
                let responder = WorkerResponder(registry: registry, loop: loop, accessLog: config.accessLog,
                                                waitUntil: waitUntil)
                let http = HTTPServerContext(loop: loop, config: config.listenerHTTP, responder: responder)
                let listener = Listener(loop: loop, fd: fd, address: address) { fd in
                    http.accept(stream: ServerTLS.stream(accepted: fd, on: loop, tls: tls))
                }
                parts.responder = responder
                parts.http = http
                parts.listener = listener
                listener.start()
            }
        }
    }

    /// Starts the admin API on loopback and writes its address and token to the state directory.
    public func startAdmin() throws {
        let started = try AdminServer(server: self, loop: group.loops[0])
        admin.withLock { $0 = started }
    }

    /// The admin API's URL, once started.
    public var adminURL: String? { admin.withLock { $0?.url } }

    /// `Log` lines from apps: to standard error as JSON, and to the app's tails.
    static func installLogSink(registry: AppRegistry) {
        LogSink.install { app, level, message in
            let line = "{\"time\":\"\(isoTimestamp())\",\"level\":\"\(level.rawValue)\",\"app\":\(jsonQuoted(app)),"
                + "\"msg\":\(jsonQuoted(message))}"
            var text = line + "\n"
            _ = text.withUTF8 { write(STDERR_FILENO, $0.baseAddress, $0.count) }
            registry.tail.publish(app, line)
        }
    }

    static func logLine(_ level: String, _ message: String) {
        var text = "{\"time\":\"\(isoTimestamp())\",\"level\":\"\(level)\",\"msg\":\(jsonQuoted(message))}\n"
        _ = text.withUTF8 { write(STDERR_FILENO, $0.baseAddress, $0.count) }
    }

    struct StateDirectoryError: Error, CustomStringConvertible {
        let path: String
        let reason: String
        var description: String { "state directory \"\(path)\": \(reason)" }
    }

    /// Creates the state directory (and parents) if needed, private to this user.
    static func prepareStateDirectory(_ path: String) throws {
        var built = path.hasPrefix("/") ? "" : "."
        for part in path.split(separator: "/") {
            built += "/" + part
            if mkdir(built, 0o700) != 0, errno != EEXIST {
                throw StateDirectoryError(path: path, reason: String(cString: strerror(errno)))
            }
        }
        var info = stat()
        guard stat(path, &info) == 0, (info.st_mode & S_IFMT) == S_IFDIR else {
            throw StateDirectoryError(path: path, reason: "exists but is not a directory")
        }
        guard access(path, W_OK) == 0 else { throw StateDirectoryError(path: path, reason: "not writable") }
    }

    /// Open connections across all loops (for tests and shutdown progress).
    public func openConnections() async -> Int {
        var total = 0
        for (index, loop) in group.loops.enumerated() {
            let parts = perLoop[index]
            total += await withCheckedContinuation { continuation in
                loop.execute { continuation.resume(returning: parts.http?.openConnections ?? 0) }
            }
        }
        return total
    }

    /// Graceful shutdown: stop accepting, close idle connections, let in-flight requests and
    /// `waitUntil` work finish within the grace period, then cut what is left and stop the loops.
    /// Blocks the calling thread (not a loop thread) until the loops have ended.
    public func shutdown(grace: Duration? = nil) {
        let first = stopped.withLock { stopped in
            defer { stopped = true }
            return !stopped
        }
        guard first else { return }
        let grace = grace ?? config.shutdownGrace
        let deadline = MonotonicClock.now() + grace.nanoseconds
        let drained = Mutex(0)
        for (index, loop) in group.loops.enumerated() {
            let parts = perLoop[index]
            loop.execute {
                parts.listener?.close()
                parts.http?.onDrained = { drained.withLock { $0 += 1 } }
                parts.http?.beginDraining()
                WebSocketConnections.of(loop).closeAll(code: 1001, reason: "server shutting down")
            }
        }
        while MonotonicClock.now() < deadline,
              drained.withLock({ $0 }) < group.loops.count || waitUntil.count > 0 || openWebSocketsBlocking() > 0
                || objects.busyObjectsBlocking() + apps.deployedApps.reduce(0, { $0 + $1.objects.busyObjectsBlocking() }) > 0 {
            usleep(5_000)
        }
        let done = Mutex(0)
        for (index, loop) in group.loops.enumerated() {
            let parts = perLoop[index]
            loop.execute {
                parts.http?.closeAll()
                WebSocketConnections.of(loop).abortAll()
                parts.responder?.flushLog()
                done.withLock { $0 += 1 }
            }
        }
        while done.withLock({ $0 }) < group.loops.count { usleep(1_000) }
        httpClient.closeAll()
        admin.withLock { $0?.close() }
        // Close object databases; their commits are durable by now (responses waited for them).
        objects.closeBlocking()
        for app in apps.deployedApps { app.objects.closeBlocking() }
        // Let the closes complete before the loops stop.
        usleep(20_000)
        group.stop()
        group.join()
        for loop in group.loops { WebSocketConnections.forget(loop) }
        WebSocketConnector.uninstall(webSocketClient)
        httpClient.uninstall()
    }

    /// WebSocket connections open across loops, counted on each loop; blocks the calling thread.
    private func openWebSocketsBlocking() -> Int {
        let total = Mutex((counted: 0, sum: 0))
        for loop in group.loops {
            loop.execute {
                let count = WebSocketConnections.of(loop).count
                total.withLock { $0 = ($0.counted + 1, $0.sum + count) }
            }
        }
        while total.withLock({ $0.counted }) < group.loops.count { usleep(500) }
        return total.withLock { $0.sum }
    }

    /// WebSocket connections open across loops (tests and stats).
    public func openWebSockets() async -> Int {
        var total = 0
        for loop in group.loops {
            total += await withCheckedContinuation { continuation in
                loop.execute { continuation.resume(returning: WebSocketConnections.of(loop).count) }
            }
        }
        return total
    }
}
