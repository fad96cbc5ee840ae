@_spi(Runtime) import RuntimeAPI
import RuntimeDeploy
import RuntimeIO
import RuntimeObjects
import Synchronization

/// The apps a server runs and the route table in front of them: deployed apps (each on its active
/// version, with its own objects, storage and env), and the built-in app as the fallback for requests
/// no route claims.
///
/// Activating a version swaps the app's entry in one step: requests that already picked the old entry
/// finish on it; the next request gets the new one. Objects keep their storage and sockets and move to
/// the new classes at their next event.
///
/// Threading: `route` from any loop; `activate` and `refreshEnv` from the admin side, one at a time.
public final class AppRegistry: @unchecked Sendable {
    /// One app version in service. A class: each request takes it from the table, and one reference
    /// costs one retain where copying the fields (manifest, env) cost a dozen.
    public final class Active: Sendable {
        public let name: String
        /// 0 for the built-in app.
        public let version: Int
        public let manifest: AppManifest?
        public let worker: any Worker
        public let objects: ObjectRuntime
        public let env: Env

        init(name: String, version: Int, manifest: AppManifest?, worker: any Worker, objects: ObjectRuntime, env: Env) {
            self.name = name
            self.version = version
            self.manifest = manifest
            self.worker = worker
            self.objects = objects
            self.env = env
        }
    }

    struct Table {
        var apps: [String: Active] = [:]
        /// Most specific first.
        var routes: [(pattern: RoutePattern, app: String)] = [] {
            didSet { routesNameHosts = routes.contains { $0.pattern.host != nil } }
        }
        /// Whether any route names a host (otherwise the request's host need not be looked at).
        var routesNameHosts = false
        var fallback: Active?
    }

    public let store: AppStore
    public let secrets: SecretStore
    let loops: [Loop]
    let objectsConfig: (String) -> ObjectsConfig
    private let table = Mutex(Table())
    /// Serialises activations (each may take a while: loading a module, opening namespaces).
    private let activation = Mutex(())
    let tail = TailHub()
    /// Given to each app's objects (set before serving).
    var memoryTrimmer: MemoryTrimmer?

    /// The name the built-in app has in logs and tail.
    public static let builtinName = "builtin"

    init(stateDirectory: String, loops: [Loop], objectsConfig: @escaping (String) -> ObjectsConfig) {
        store = AppStore(stateDirectory: stateDirectory)
        secrets = SecretStore(stateDirectory: stateDirectory)
        self.loops = loops
        self.objectsConfig = objectsConfig
    }

    // MARK: Routing

    /// The app a request goes to: the most specific matching route, else the built-in app.
    func route(_ request: Request) -> Active? {
        let path = request.url.path
        return table.withLock { table in
            if table.routes.isEmpty { return table.fallback }
            let host = table.routesNameHosts ? Self.bareHost(request.url.host) : ""
            for route in table.routes where route.pattern.matches(host: host, path: path) {
                if let app = table.apps[route.app] { return app }
            }
            return table.fallback
        }
    }

    public func app(_ name: String) -> Active? { table.withLock { $0.apps[name] } }
    /// The built-in app (the fallback for requests no deployed route matches), once set.
    var builtin: Active? { table.withLock { $0.fallback } }
    public var deployedApps: [Active] { table.withLock { Array($0.apps.values) }.sorted { $0.name < $1.name } }

    /// The host lowercased, without a port. Scans UTF-8 bytes: this runs for every request.
    static func bareHost(_ host: String) -> String {
        var host = host
        if host.utf8.contains(where: { $0 >= UInt8(ascii: "A") && $0 <= UInt8(ascii: "Z") }) { host = host.lowercased() }
        if host.utf8.first == UInt8(ascii: "[") { return host }
        if let colon = host.utf8.lastIndex(of: UInt8(ascii: ":")) { host = String(host[..<colon]) }
        return host
    }

    // MARK: The built-in app

    func setFallback(_ app: App, objects: ObjectRuntime) {
        let active = Active(name: Self.builtinName, version: 0, manifest: nil, worker: app.worker, objects: objects,
                            env: objects.env)
        table.withLock { $0.fallback = active }
    }

    // MARK: Activation

    /// Makes `version` of `name` the one that serves: loads its module, binds its objects and builds its
    /// env. Throws (and changes nothing) if the module does not load or a binding cannot be set up.
    @discardableResult
    public func activate(_ name: String, version: Int) throws -> Active {
        try activation.withLock { _ in
            let manifest = try store.manifest(name, version)
            let app = try AppLoader.load(store.modulePath(name, version))
            for binding in manifest.durableObjects where app.objectClasses[binding.binding] == nil {
                throw DeployError.loadFailed(path: store.modulePath(name, version),
                                             reason: "the module does not bind \(binding.binding)")
            }
            let classes = app.objectClasses.merging(
                BindingObjects.classes(databases: manifest.sqlDatabases, keyValues: manifest.kvNamespaces)) { mine, _ in mine }
            let objects: ObjectRuntime
            let bound: [String: any ObjectNamespace]
            if let existing = self.app(name)?.objects {
                objects = existing
                bound = try existing.update(classes: classes)
            } else {
                objects = try ObjectRuntime(loops: loops, config: objectsConfig(name), classes: [:])
                if let memoryTrimmer { objects.setMemoryTrimmer(memoryTrimmer) }
                bound = try objects.update(classes: classes)
            }
            let env = try makeEnv(name, version: version, manifest: manifest, namespaces: bound)
            objects.setEnv(env)
            let active = Active(name: name, version: version, manifest: manifest, worker: app.worker, objects: objects,
                                env: env)
            table.withLock { table in
                table.apps[name] = active
                table.routes = Self.routeTable(table.apps)
            }
            return active
        }
    }

    /// Every route of every app, most specific first (ties: by app name, so the order is stable).
    static func routeTable(_ apps: [String: Active]) -> [(pattern: RoutePattern, app: String)] {
        var routes: [(pattern: RoutePattern, app: String)] = []
        for app in apps.values {
            for pattern in app.manifest?.routes ?? [] { routes.append((pattern, app.name)) }
        }
        routes.sort { left, right in
            let a = left.pattern.specificity
            let b = right.pattern.specificity
            return a != b ? a > b : left.app < right.app
        }
        return routes
    }

    /// Rebuilds an app's env after a secret changed; the next request and the next object creation see it.
    public func refreshSecrets(_ name: String) throws {
        try activation.withLock { _ in
            guard let current = app(name), let manifest = current.manifest else { throw DeployError.unknownApp(name) }
            let stored = try secrets.values(name)
            var env = current.env
            env.secrets = [:]
            for secret in manifest.secrets { env.secrets[secret] = stored[secret] }
            current.objects.setEnv(env)
            let active = Active(name: name, version: current.version, manifest: manifest, worker: current.worker,
                                objects: current.objects, env: env)
            table.withLock { $0.apps[name] = active }
        }
    }

    private func makeEnv(_ name: String, version: Int, manifest: AppManifest, namespaces: [String: any ObjectNamespace]) throws -> Env {
        let split = BindingObjects.bindings(from: namespaces)
        let stored = try secrets.values(name)
        var secretValues: [String: String] = [:]
        for secret in manifest.secrets { secretValues[secret] = stored[secret] }
        var services: [String: any ServiceBinding] = [:]
        for service in manifest.services {
            services[service.binding] = InProcessService(registry: self, target: service.service)
        }
        let assets = try AssetFolder.load(from: store.assetsDirectory(name, version))
        return Env(vars: manifest.vars, secrets: secretValues, objects: split.objects, databases: split.databases,
                   kv: split.keyValues, services: services, assets: assets)
    }

    /// Activates every app's recorded version (at start). An app that fails is logged and left out;
    /// the others serve.
    func activateStored(log: (String) -> Void) {
        for name in store.apps() {
            guard let version = store.activeVersion(name) else { continue }
            do {
                try activate(name, version: version)
                log("app \(name) version \(version) active")
            } catch {
                log("app \(name) version \(version) could not start: \(error)")
            }
        }
    }
}

/// A service binding: calls the target app's current worker in this process.
struct InProcessService: ServiceBinding {
    let registry: AppRegistry
    let target: String

    func fetch(_ request: Request) async throws -> Response {
        guard let app = registry.app(target) else { throw HTTPError(502, "service \(target) is not deployed") }
        let context = ExecutionContext { work in
            Task(executorPreference: Loop.current?.taskExecutor) { try? await work() }
        }
        return try await app.worker.fetch(request, env: app.env, ctx: context)
    }
}
