import ArgumentParser
import ExamplesApp
import RuntimeHTTP
import RuntimeIO
import RuntimeObjects
import RuntimeServer
import RuntimeTLS
import RuntimeWebSocket
#if canImport(Glibc)
import Glibc
#endif

/// `runtime serve`: runs the server in the foreground until SIGTERM or SIGINT, then shuts down
/// gracefully and exits 0.
struct Serve: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Serve HTTP on an io_uring loop per thread (the built-in hello app until deploy lands).")

    @Option(help: "Address to listen on, host:port. Port 0 picks a free port (printed at start).")
    var listen = "127.0.0.1:8787"

    @Option(help: "Loop threads, one io_uring each. Default: the number of cores.")
    var threads: Int = LoopGroup.processorCount

    @Option(name: .customLong("state-dir"), help: "Directory for the runtime's state (objects, deployed apps).")
    var stateDir = ".runtime-state"

    @Flag(inversion: .prefixedNo, help: "Write one JSON line per request to standard output.")
    var accessLog = true

    @Option(help: "Close a keep-alive connection idle this long (e.g. 60s, 500ms).")
    var idleTimeout = "60s"

    @Option(help: "Answer 408 when a request head takes longer than this to arrive (slowloris guard).")
    var headerTimeout = "10s"

    @Option(help: "Deadline from the end of a request head to the end of its response; 503 past it.")
    var requestTimeout = "60s"

    @Option(help: "Time in-flight requests get to finish after SIGTERM/SIGINT.")
    var shutdownGrace = "10s"

    @Option(help: "Drop a Durable Object from memory after this long without events (its storage stays).")
    var objectIdleTimeout = "30s"

    @Option(help: ArgumentHelp("""
        Most Durable Objects of one app kept in memory at once, shared by the loops (at least \(ObjectsConfig.minLiveObjectsPerLoop) \
        each); past it the least recently used idle ones are dropped early. Default: \(ObjectsConfig.defaultMaxLiveObjects) \
        (about 85 KiB each).
        """, valueName: "count"))
    var maxLiveObjects: Int?

    @Flag(inversion: .prefixedNo,
          help: "Make Durable Object commits durable through one journal fsync per loop turn (off: fsync each object's WAL; for measuring).")
    var commitJournal = true

    @Option(help: "Longest request line in bytes; longer gets 414.")
    var maxRequestLineBytes = HTTPLimits.defaultMaxRequestLineBytes

    @Option(help: "Most bytes in a request head; more gets 431.")
    var maxHeaderBytes = HTTPLimits.defaultMaxHeaderBytes

    @Option(help: "Most header fields in a request; more gets 431.")
    var maxHeaderCount = HTTPLimits.defaultMaxHeaderCount

    @Option(help: "Largest request body in bytes; larger gets 413.")
    var maxBodyBytes = HTTPLimits.defaultMaxBodyBytes

    @Option(help: "Largest WebSocket message in bytes (after reassembly and decompression); larger closes with 1009.")
    var wsMaxMessageBytes = WebSocketLimits.defaultMaxMessageBytes

    @Flag(inversion: .prefixedNo, help: "Negotiate permessage-deflate when a WebSocket client offers it.")
    var wsDeflate = true

    @Option(help: "Ping a WebSocket peer after this long without a frame from it; close if it stays silent as long again.")
    var wsPingInterval = "30s"

    @Option(name: .customLong("tls-cert"),
            help: "Serve https and wss: PEM file with the server certificate first, then its intermediates. Needs --tls-key.")
    var tlsCert: String?

    @Option(name: .customLong("tls-key"), help: "PEM file with the unencrypted private key of --tls-cert.")
    var tlsKey: String?

    @Option(name: .customLong("ca-file"),
            help: "PEM file of CA certificates apps' outbound https and wss trust, besides the system store (a private CA).")
    var caFile: String?

    func validate() throws {
        guard threads >= 1, threads <= 256 else { throw ValidationError("--threads must be between 1 and 256") }
        guard wsMaxMessageBytes >= 1 else { throw ValidationError("--ws-max-message-bytes must be at least 1") }
        if let maxLiveObjects, maxLiveObjects < 1 || maxLiveObjects > ObjectsConfig.maxLiveObjectsLimit {
            throw ValidationError("--max-live-objects must be between 1 and \(ObjectsConfig.maxLiveObjectsLimit)")
        }
        guard (tlsCert == nil) == (tlsKey == nil) else {
            throw ValidationError("--tls-cert and --tls-key go together: give both to serve TLS, or neither")
        }
        for (flag, value) in [("--idle-timeout", idleTimeout), ("--header-timeout", headerTimeout),
                              ("--request-timeout", requestTimeout), ("--shutdown-grace", shutdownGrace),
                              ("--object-idle-timeout", objectIdleTimeout), ("--ws-ping-interval", wsPingInterval)]
        where Duration.parse(value) == nil {
            throw ValidationError("\(flag) \"\(value)\": expected a duration such as 10s, 500ms or 2m")
        }
    }

    func run() throws {
        let limits = HTTPLimits(maxRequestLineBytes: maxRequestLineBytes, maxHeaderBytes: maxHeaderBytes,
                                maxHeaderCount: maxHeaderCount, maxBodyBytes: maxBodyBytes)
        let ping = Duration.parse(wsPingInterval)!
        let webSocket = WebSocketConfig(limits: WebSocketLimits(maxMessageBytes: wsMaxMessageBytes),
                                        deflate: wsDeflate ? HTTPServerConfig.defaultWebSocketDeflate : nil)
        let http = HTTPServerConfig(limits: limits, idleTimeout: Duration.parse(idleTimeout)!,
                                    headerTimeout: Duration.parse(headerTimeout)!,
                                    requestTimeout: Duration.parse(requestTimeout)!, webSocket: webSocket,
                                    webSocketTiming: WebSocketConnection.Timing(pingInterval: ping, pongTimeout: ping))
        let config = ServerConfig(listen: listen, threads: threads, stateDirectory: stateDir, http: http,
                                  accessLog: accessLog, shutdownGrace: Duration.parse(shutdownGrace)!,
                                  objectIdleTimeout: Duration.parse(objectIdleTimeout)!, commitJournal: commitJournal,
                                  maxLiveObjects: maxLiveObjects,
                                  tls: tlsCert.map { TLSServerConfig(certificateChainFile: $0, privateKeyFile: tlsKey!) },
                                  outboundTLS: TLSClientConfig(caFile: caFile))
        let signals = ShutdownSignals()  // before any thread starts, so every thread inherits the mask
        let server: Server
        do {
            server = try Server(config: config, app: BuiltinApp.make())
            try server.startAdmin()
        } catch {
            throw ValidationError("cannot start: \(error)")
        }
        printLine(
            "{\"time\":\"\(isoTimestamp())\",\"level\":\"info\",\"msg\":\"listening\",\"url\":\"\(config.listenerScheme)://\(server.address)\","
            + "\"threads\":\(threads),\"pid\":\(getpid())}")
        let signal = signals.wait()
        printLine("{\"time\":\"\(isoTimestamp())\",\"level\":\"info\",\"msg\":\"shutting down\",\"signal\":\(signal)}")
        server.shutdown()
        printLine("{\"time\":\"\(isoTimestamp())\",\"level\":\"info\",\"msg\":\"stopped\"}")
    }
}

/// Blocks SIGINT and SIGTERM in every thread so they can be taken with `sigwait` on the main thread.
struct ShutdownSignals {
    private var set = sigset_t()

    init() {
        sigemptyset(&set)
        sigaddset(&set, SIGINT)
        sigaddset(&set, SIGTERM)
        pthread_sigmask(SIG_BLOCK, &set, nil)
        signal(SIGPIPE, SIG_IGN)
    }

    func wait() -> Int32 {
        var set = self.set
        var received: Int32 = 0
        sigwait(&set, &received)
        return received
    }
}

func printLine(_ line: String) {
    let text = line + "\n"
    _ = text.withCString { write(1, $0, strlen($0)) }
}
