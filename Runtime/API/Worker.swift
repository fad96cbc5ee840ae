/// A stateless request handler: the Workers `fetch` entry point. The runtime calls `fetch` on the
/// loop thread that accepted the connection; many calls may be in flight at once, so a worker
/// keeps no mutable state of its own (state belongs in Durable Objects).
public protocol Worker: Sendable {
    func fetch(_ request: Request, env: Env, ctx: ExecutionContext) async throws -> Response
}

/// What the runtime binds for an app: variables and Durable Object namespaces (more as they land).
public struct Env: Sendable {
    /// Plain-text variables from the app's configuration.
    public var vars: [String: String]
    /// Durable Object namespaces by binding name.
    public var objects: [String: any ObjectNamespace]

    public init(vars: [String: String] = [:], objects: [String: any ObjectNamespace] = [:]) {
        self.vars = vars
        self.objects = objects
    }

    /// The namespace bound as `binding`; throws a 500-class error naming the missing binding.
    public func namespace(_ binding: String) throws -> any ObjectNamespace {
        guard let namespace = objects[binding] else {
            throw HTTPError(500, "no Durable Object namespace is bound as \(binding)")
        }
        return namespace
    }
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
