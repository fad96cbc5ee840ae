/// A stateless request handler: the Workers `fetch` entry point. The runtime calls `fetch` on the
/// loop thread that accepted the connection; many calls may be in flight at once, so a worker
/// keeps no mutable state of its own (state belongs in Durable Objects).
public protocol Worker: Sendable {
    func fetch(_ request: Request, env: Env, ctx: ExecutionContext) async throws -> Response
}

/// What the runtime binds for an app, by binding name: the bindings its manifest declares.
///
/// Resolved for each request, so a secret put or a deploy is seen by the next request (an object sees
/// the `env` of its latest (re)creation).
public struct Env: Sendable {
    /// Plain-text variables from the manifest's `vars`.
    public var vars: [String: String]
    /// Secret values (`runtime secret put`), for the names the manifest's `secrets` lists.
    public var secrets: [String: String]
    /// Durable Object namespaces.
    public var objects: [String: any ObjectNamespace]
    /// SQL databases (one SQLite database per binding, the same SQL API as objects).
    public var databases: [String: any SQLDatabase]
    /// Key-value namespaces with expiry.
    public var kv: [String: any KVNamespace]
    /// Other apps, called in-process.
    public var services: [String: any ServiceBinding]
    /// The files of the manifest's `assets` folder, as deployed with this version.
    public var assets: AppAssets

    public init(vars: [String: String] = [:], secrets: [String: String] = [:], objects: [String: any ObjectNamespace] = [:],
                databases: [String: any SQLDatabase] = [:], kv: [String: any KVNamespace] = [:],
                services: [String: any ServiceBinding] = [:], assets: AppAssets = AppAssets()) {
        self.vars = vars
        self.secrets = secrets
        self.objects = objects
        self.databases = databases
        self.kv = kv
        self.services = services
        self.assets = assets
    }

    /// The namespace bound as `binding`; throws a 500-class error naming the missing binding.
    public func namespace(_ binding: String) throws -> any ObjectNamespace {
        guard let namespace = objects[binding] else {
            throw HTTPError(500, "no Durable Object namespace is bound as \(binding)")
        }
        return namespace
    }

    public func secret(_ name: String) throws -> String {
        guard let value = secrets[name] else { throw HTTPError(500, "secret \(name) is not set (runtime secret put)") }
        return value
    }

    public func database(_ binding: String) throws -> any SQLDatabase {
        guard let database = databases[binding] else { throw HTTPError(500, "no SQL database is bound as \(binding)") }
        return database
    }

    public func keyValue(_ binding: String) throws -> any KVNamespace {
        guard let namespace = kv[binding] else { throw HTTPError(500, "no KV namespace is bound as \(binding)") }
        return namespace
    }

    public func service(_ binding: String) throws -> any ServiceBinding {
        guard let service = services[binding] else { throw HTTPError(500, "no service is bound as \(binding)") }
        return service
    }
}

/// A SQL database binding: statements run one call at a time, in order, each call atomic and durable
/// before it returns (like an object's storage, which it is built on).
public protocol SQLDatabase: Sendable {
    /// Runs one or more `;`-separated statements; bindings apply to the last one, whose rows are returned.
    func exec(_ sql: String, _ bindings: [SQLValue]) async throws -> SQLCursor
    /// Runs the statements as one transaction: all or none.
    func batch(_ statements: [(sql: String, bindings: [SQLValue])]) async throws -> [SQLCursor]
}

extension SQLDatabase {
    public func exec(_ sql: String, _ bindings: SQLValue...) async throws -> SQLCursor { try await exec(sql, bindings) }
}

/// A key-value namespace binding with optional expiry.
public protocol KVNamespace: Sendable {
    func get(_ key: String) async throws -> [UInt8]?
    /// Stores `value`; with `expiresIn`, reads return nil once it passed.
    func put(_ key: String, _ value: [UInt8], expiresIn: Duration?) async throws
    @discardableResult func delete(_ key: String) async throws -> Bool
    /// Live keys in order, optionally under `prefix`, at most `limit`.
    func list(prefix: String?, limit: Int?) async throws -> [String]
}

extension KVNamespace {
    public func put(_ key: String, _ value: [UInt8]) async throws { try await put(key, value, expiresIn: nil) }
    public func put(_ key: String, string: String, expiresIn: Duration? = nil) async throws {
        try await put(key, Array(string.utf8), expiresIn: expiresIn)
    }
    public func getString(_ key: String) async throws -> String? {
        try await get(key).map { String(decoding: $0, as: UTF8.self) }
    }
    public func list(prefix: String? = nil) async throws -> [String] { try await list(prefix: prefix, limit: nil) }
}

/// Another app, bound by name: `fetch` runs its worker in this process, without the network.
public protocol ServiceBinding: Sendable {
    func fetch(_ request: Request) async throws -> Response
}

/// An app: its worker and the Durable Object classes it binds (binding name → class).
public struct App: Sendable {
    public var worker: any Worker
    public var objectClasses: [String: any DurableObject.Type]
    public var vars: [String: String]

    public init(worker: any Worker, objectClasses: [String: any DurableObject.Type] = [:],
                vars: [String: String] = [:]) {
        self.worker = worker
        self.objectClasses = objectClasses
        self.vars = vars
    }
}

/// Per-request context. `waitUntil` lets work outlive the response: the runtime keeps the
/// process alive for it (within the shutdown grace period) and logs its failure.
public struct ExecutionContext: Sendable {
    private let schedule: @Sendable (@escaping @Sendable () async throws -> Void) -> Void

    /// Made by the runtime; `schedule` starts and tracks the work.
    public init(schedule: @escaping @Sendable (@escaping @Sendable () async throws -> Void) -> Void) {
        self.schedule = schedule
    }

    /// Runs `work` after (or while) the response is sent.
    public func waitUntil(_ work: @escaping @Sendable () async throws -> Void) { schedule(work) }
}

/// How a deployed app hands itself to the runtime. An app module defines one C-named entry point that
/// returns its `App` through this box:
///
/// ```swift
/// @_cdecl("runtime_app_main")
/// public func runtimeAppMain() -> UnsafeMutableRawPointer {
///     AppExport.export(App(worker: MyWorker(), objectClasses: ["ROOM": Room.self]))
/// }
/// ```
public final class AppExport: Sendable {
    /// The symbol the runtime looks up in a loaded app module.
    public static let entryPointSymbol = "runtime_app_main"

    public let app: App

    init(app: App) { self.app = app }

    /// The pointer the entry point returns (a retained box the runtime takes over).
    public static func export(_ app: App) -> UnsafeMutableRawPointer {
        Unmanaged.passRetained(AppExport(app: app)).toOpaque()
    }

    /// The runtime's side: takes the box back.
    public static func take(_ pointer: UnsafeMutableRawPointer) -> App {
        Unmanaged<AppExport>.fromOpaque(pointer).takeRetainedValue().app
    }
}
