import Foundation
import RuntimeAPI

/// Dispatch's sandbox provider (Apps/DISPATCH.md, reference §2.1): the HTTP API the control plane calls
/// to create, snapshot, restore and terminate sandboxes, each a local process (under bubblewrap when
/// it is installed). Routes live under `/sandbox-provider` so the provider can share a runtime with the
/// control plane; the same paths without the prefix work too.
///
/// | route | |
/// |---|---|
/// | `GET /health` | no auth |
/// | `POST /sandbox/create` | HMAC bearer (`SANDBOX_API_SECRET`) |
/// | `POST /sandbox/snapshot` | HMAC bearer |
/// | `POST /sandbox/restore` | HMAC bearer |
/// | `POST /sandbox/terminate` | HMAC bearer |
struct ProviderWorker: Worker {
    /// Where the manifest routes the app.
    static let pathPrefix = "/sandbox-provider"
    static let serviceName = "dispatch-sandbox-provider"
    static let secretName = "SANDBOX_API_SECRET"

    func fetch(_ request: Request, env: Env, ctx: ExecutionContext) async throws -> Response {
        do {
            return Envelope.success(try await route(request, env: env))
        } catch {
            return Envelope.failure(error)
        }
    }

    private func route(_ request: Request, env: Env) async throws(ProviderError) -> JSON {
        var path = request.url.path
        if path == Self.pathPrefix || path.hasPrefix(Self.pathPrefix + "/") { path = String(path.dropFirst(Self.pathPrefix.count)) }
        if path.isEmpty { path = "/" }
        let routes = ["/health": "GET", "/sandbox/create": "POST", "/sandbox/snapshot": "POST",
                      "/sandbox/restore": "POST", "/sandbox/terminate": "POST"]
        guard let method = routes[path] else { throw .notFound("no route \(path)") }
        guard request.method == method || (method == "GET" && request.method == "HEAD") else {
            throw .methodNotAllowed("\(path) takes \(method), not \(request.method)")
        }
        let config = try ConfigCache.config(env.vars)
        let supervisor = SandboxSupervisor.shared(config)
        if path == "/health" {
            let counts = supervisor.counts()
            return ["status": "healthy", "service": .string(Self.serviceName), "isolation": .string(config.isolation.name),
                    "sandboxes": .int(Int64(counts.live))]
        }
        try authorize(request, env: env)
        let body = try BodyFields(body: request.body)
        switch path {
        case "/sandbox/create":
            return try await create(CreateRequest(body, allowed: config.allowedControlPlaneHosts), config: config, supervisor: supervisor)
        case "/sandbox/snapshot":
            return try await supervisor.snapshot(SnapshotRequest(body))
        case "/sandbox/restore":
            return try await restore(RestoreRequest(body, allowed: config.allowedControlPlaneHosts), config: config, supervisor: supervisor)
        default:
            return try await supervisor.terminate(TerminateRequest(body))
        }
    }

    /// 503 while the secret is not configured, 401 for a missing, malformed, expired or wrong token.
    private func authorize(_ request: Request, env: Env) throws(ProviderError) {
        guard let secret = env.secrets[Self.secretName], !secret.isEmpty else {
            throw .unavailable("\(Self.secretName) is not configured (runtime secret put sandbox-provider \(Self.secretName))")
        }
        do {
            try InternalToken.verify(header: request.headers["authorization"], secret: secret)
        } catch {
            throw .unauthorized("unauthorized: \(error)")
        }
    }

    private func create(_ request: CreateRequest, config: ProviderConfig, supervisor: SandboxSupervisor) async throws(ProviderError) -> JSON {
        let record = Self.newRecord(config: config, sandboxID: request.sandboxID, sessionID: request.sessionID,
                                    repoOwner: request.repoOwner, repoName: request.repoName, restoredFrom: nil)
        let session = SandboxLaunch.Session(
            sandboxID: request.sandboxID, sessionID: request.sessionID, repoOwner: request.repoOwner, repoName: request.repoName,
            controlPlaneURL: request.controlPlaneURL, sandboxAuthToken: request.sandboxAuthToken, provider: request.provider,
            model: request.model, agent: request.agent, gitUserName: request.gitUserName, gitUserEmail: request.gitUserEmail,
            restored: false, userEnvironment: request.userEnvironment)
        let url = Workspace.cloneURL(template: config.repoURLTemplate, owner: request.repoOwner, name: request.repoName)
        return try await supervisor.start(record: record, session: session) { paths in
            try Workspace.prepareClone(paths, url: url, sessionID: request.sessionID, branch: request.baseBranch,
                                       gitUserName: request.gitUserName, gitUserEmail: request.gitUserEmail)
        }
    }

    private func restore(_ request: RestoreRequest, config: ProviderConfig, supervisor: SandboxSupervisor) async throws(ProviderError) -> JSON {
        let archive = SnapshotStore.archivePath(config, request.imageID)
        guard FileManager.default.fileExists(atPath: archive) else { throw .notFound("no snapshot \(request.imageID)") }
        let record = Self.newRecord(config: config, sandboxID: request.sandboxID, sessionID: request.sessionID,
                                    repoOwner: request.repoOwner, repoName: request.repoName, restoredFrom: request.imageID)
        let session = SandboxLaunch.Session(
            sandboxID: request.sandboxID, sessionID: request.sessionID, repoOwner: request.repoOwner, repoName: request.repoName,
            controlPlaneURL: request.controlPlaneURL, sandboxAuthToken: request.sandboxAuthToken, provider: request.provider,
            model: request.model, agent: request.agent, gitUserName: request.gitUserName, gitUserEmail: request.gitUserEmail,
            restored: true, userEnvironment: request.userEnvironment)
        return try await supervisor.start(record: record, session: session) { paths in
            try Workspace.prepareRestore(paths, archive: archive)
        }
    }

    private static func newRecord(config: ProviderConfig, sandboxID: String, sessionID: String, repoOwner: String,
                                  repoName: String, restoredFrom: String?) -> SandboxRecord {
        let now = WallClock.milliseconds()
        return SandboxRecord(handle: SandboxRecord.newHandle(), sandboxID: sandboxID, sessionID: sessionID, repoOwner: repoOwner,
                             repoName: repoName, createdAt: now, deadline: now + Int64(config.sandboxTimeoutSeconds) * 1000,
                             owner: ProcessIdentity.ofThisProcess, leader: nil, restoredFrom: restoredFrom)
    }
}

/// The parsed config of the vars last seen (vars change only with a deploy, which loads a new copy of
/// this module anyway).
enum ConfigCache {
    private static let lock = NSLock()
    nonisolated(unsafe) private static var last: (vars: [String: String], config: ProviderConfig)?

    static func config(_ vars: [String: String]) throws(ProviderError) -> ProviderConfig {
        lock.lock()
        defer { lock.unlock() }
        if let last, last.vars == vars { return last.config }
        do {
            let config = try ProviderConfig(vars: vars)
            last = (vars, config)
            return config
        } catch {
            throw .failed("sandbox provider misconfigured: \(error)")
        }
    }
}
