import Foundation
@_spi(Runtime) import RuntimeAPI
import RuntimeCrypto
import RuntimeDeploy
import RuntimeHTTP
import RuntimeIO

/// The admin API that `runtime deploy`, `rollback`, `secret` and `tail` talk to: HTTP on a loopback port
/// of its own (never the public listener), every call authenticated with the state directory's admin
/// token (`<state>/admin.token`, mode 0600, compared in constant time). Its address is written to
/// `<state>/admin.json` for the CLI to find, and removed at shutdown.
///
/// - `GET  /v1/apps` — deployed apps, versions, routes
/// - `POST /v1/apps/<name>/activate` `{"version": N}` — load and switch to version N
/// - `POST /v1/apps/<name>/secrets/reload` — the app's env picks up changed secrets
/// - `GET  /v1/apps/<name>/tail` — live JSON lines (requests and logs), until the client goes away
/// - `GET  /v1/apps/<name>/stats` — objects in memory, objects created, hibernatable sockets open, and
///   storage commits, the fdatasyncs they waited for and the files reopened from the descriptor pool
///   (`builtin` names the built-in app)
final class AdminServer: @unchecked Sendable {
    let loop: Loop
    private var listener: Listener?
    private var context: HTTPServerContext?
    let infoPath: String
    let url: String

    init(server: Server, loop: Loop) throws {
        self.loop = loop
        let state = server.config.stateDirectory
        infoPath = state + "/admin.json"
        let token = try AdminCredentials.loadOrCreateToken(stateDirectory: state)
        let bound = try Listener.bind(try SocketAddress("127.0.0.1:0"))
        url = "http://\(bound.bound)"
        let responder = AdminResponder(registry: server.apps, token: token)
        let done = DispatchSemaphore(value: 0)
        loop.execute { [self] in
            let http = HTTPServerContext(loop: loop, config: HTTPServerConfig(), responder: responder)
            let listener = Listener(loop: loop, fd: bound.fd, address: bound.bound) { fd in http.accept(fd: fd) }
            self.context = http
            self.listener = listener
            listener.start()
            done.signal()
        }
        done.wait()
        try AdminCredentials.writeInfo(stateDirectory: state, url: url, pid: getpid())
    }

    func close() {
        unlink(infoPath)
        let done = DispatchSemaphore(value: 0)
        loop.execute { [self] in
            listener?.close()
            context?.closeAll()
            done.signal()
        }
        done.wait()
    }
}

/// Answers the admin API (see `AdminServer`).
final class AdminResponder: HTTPResponder, @unchecked Sendable {
    let registry: AppRegistry
    let token: [UInt8]

    init(registry: AppRegistry, token: String) {
        self.registry = registry
        self.token = Array(token.utf8)
    }

    nonisolated(nonsending) func respond(to request: Request) async -> Response {
        let presented = request.headers["authorization"].flatMap { $0.hasPrefix("Bearer ") ? String($0.dropFirst(7)) : nil }
        guard let presented, Digest.constantTimeEqual(Array(presented.utf8), token) else {
            return Self.json(401, ["error": "missing or wrong admin token"])
        }
        let parts = request.url.path.split(separator: "/").map(String.init)
        switch (request.method, parts.count, parts.first) {
        case ("GET", 2, "v1") where parts[1] == "apps":
            return Self.json(200, ["apps": registry.deployedApps.map { app in
                ["name": app.name, "version": app.version, "routes": (app.manifest?.routes ?? []).map(\.description)] as [String: Any]
            }])
        case ("POST", 4, "v1") where parts[1] == "apps" && parts[3] == "activate":
            return await activate(parts[2], request)
        case ("POST", 5, "v1") where parts[1] == "apps" && parts[3] == "secrets" && parts[4] == "reload":
            do {
                try registry.refreshSecrets(parts[2])
                return Self.json(200, ["reloaded": parts[2]])
            } catch {
                return Self.json(404, ["error": "\(error)"])
            }
        case ("GET", 4, "v1") where parts[1] == "apps" && parts[3] == "tail":
            return tail(parts[2])
        case ("GET", 4, "v1") where parts[1] == "apps" && parts[3] == "stats":
            guard let app = registry.app(parts[2]) ?? (parts[2] == AppRegistry.builtinName ? registry.builtin : nil) else {
                return Self.json(404, ["error": "no app named \(parts[2]) is deployed"])
            }
            let storage = await app.objects.storageCounters()
            return Self.json(200, ["name": app.name, "version": app.version,
                                   "liveObjects": await app.objects.liveInstances(),
                                   "objectsCreated": await app.objects.instancesCreated(),
                                   "webSockets": await app.objects.openWebSockets(),
                                   "storage": ["commits": storage.commits, "journaledCommits": storage.journaledCommits,
                                               "fdatasyncs": storage.fdatasyncs, "fileReopens": storage.fileReopens,
                                               "checkpoints": storage.checkpoints,
                                               "checkpointMicroseconds": storage.checkpointMicroseconds]])
        default:
            return Self.json(404, ["error": "no admin route \(request.method) \(request.url.path)"])
        }
    }

    private func activate(_ name: String, _ request: Request) async -> Response {
        guard let body = try? JSONSerialization.jsonObject(with: Data(request.body)) as? [String: Any],
              let version = body["version"] as? Int else {
            return Self.json(400, ["error": "expected {\"version\": N}"])
        }
        let started = MonotonicClock.now()
        // Loading a module and opening namespaces block; not on a loop thread.
        let registry = self.registry
        let result: Result<Int, any Error> = await withCheckedContinuation { continuation in
            Thread.detachNewThread {
                continuation.resume(returning: Result { try registry.activate(name, version: version).version })
            }
        }
        switch result {
        case .success(let active):
            let milliseconds = Double(MonotonicClock.now() - started) / 1e6
            return Self.json(200, ["name": name, "version": active, "ms": milliseconds])
        case .failure(let error):
            return Self.json(422, ["error": "\(error)"])
        }
    }

    private func tail(_ name: String) -> Response {
        guard name == AppRegistry.builtinName || registry.app(name) != nil else {
            return Self.json(404, ["error": "no app named \(name) is deployed"])
        }
        guard let lines = registry.tail.subscribe(name) else {
            return Self.json(429, ["error": "too many tails of \(name) are open"])
        }
        var headers = Headers()
        headers.set("Content-Type", "application/x-ndjson")
        return Response(status: 200, headers: headers) { writer in
            try await writer.write("{\"tail\":\(jsonQuoted(name))}\n")
            for await line in lines { try await writer.write(line + "\n") }
        }
    }

    func requestFinished(_ record: AccessRecord) {}

    static func json(_ status: Int, _ object: [String: Any]) -> Response {
        let data = (try? JSONSerialization.data(withJSONObject: object, options: [.sortedKeys])) ?? Data("{}".utf8)
        return Response(status: status, text: String(decoding: data, as: UTF8.self) + "\n", contentType: "application/json")
    }
}
