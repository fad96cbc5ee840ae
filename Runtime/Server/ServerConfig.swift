import RuntimeHTTP
import RuntimeIO
import RuntimeObjects
import RuntimeTLS

/// How `runtime serve` runs: where it listens, how many loops, where state lives, HTTP limits.
public struct ServerConfig: Sendable {
    /// Time in-flight requests get to finish after SIGTERM/SIGINT before connections are cut.
    public static let defaultShutdownGrace: Duration = .seconds(10)

    public var listen: String
    public var threads: Int
    public var stateDirectory: String
    public var http: HTTPServerConfig
    public var io: IOLimits
    /// Write one JSON line per request to standard output.
    public var accessLog: Bool
    public var shutdownGrace: Duration
    /// See `ObjectsConfig.defaultIdleTimeout`.
    public var objectIdleTimeout: Duration
    /// See `ObjectsConfig.defaultAlarmRetryBase`.
    public var alarmRetryBase: Duration
    /// See `ObjectsConfig.useCommitJournal`.
    public var commitJournal: Bool
    /// Objects of one app kept in memory at once; nil: `ObjectsConfig.defaultMaxLiveObjects`.
    public var maxLiveObjects: Int?
    /// Serve TLS (https, wss) on the listener with this certificate; nil serves plain HTTP.
    public var tls: TLSServerConfig?
    /// Whom apps' outbound TLS (`fetch` to https://, `WebSocket.connect` to wss://) trusts: the system
    /// store, plus `caFile` when set (`runtime serve --ca-file`).
    public var outboundTLS: TLSClientConfig

    public init(listen: String = "127.0.0.1:8787", threads: Int = LoopGroup.processorCount,
                stateDirectory: String = ".runtime-state", http: HTTPServerConfig = HTTPServerConfig(),
                io: IOLimits = IOLimits(), accessLog: Bool = true, shutdownGrace: Duration = defaultShutdownGrace,
                objectIdleTimeout: Duration = ObjectsConfig.defaultIdleTimeout,
                alarmRetryBase: Duration = ObjectsConfig.defaultAlarmRetryBase, commitJournal: Bool = true,
                maxLiveObjects: Int? = nil, tls: TLSServerConfig? = nil, outboundTLS: TLSClientConfig = TLSClientConfig()) {
        self.listen = listen
        self.threads = threads
        self.stateDirectory = stateDirectory
        self.http = http
        self.io = io
        self.accessLog = accessLog
        self.shutdownGrace = shutdownGrace
        self.objectIdleTimeout = objectIdleTimeout
        self.alarmRetryBase = alarmRetryBase
        self.commitJournal = commitJournal
        self.maxLiveObjects = maxLiveObjects
        self.tls = tls
        self.outboundTLS = outboundTLS
    }

    /// The Durable Objects settings of an app whose state lives in `stateDirectory` (the built-in
    /// app's is the server's own; a deployed app's is its folder under `apps/`).
    func objectsConfig(stateDirectory: String) -> ObjectsConfig {
        ObjectsConfig(stateDirectory: stateDirectory, idleTimeout: objectIdleTimeout, alarmRetryBase: alarmRetryBase,
                      maxLiveObjects: maxLiveObjects, useCommitJournal: commitJournal)
    }
}
