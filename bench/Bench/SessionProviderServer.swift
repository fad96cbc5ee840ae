import Foundation
import RuntimeHTTP
import RuntimeIO
import Synchronization

/// What the control plane asked the provider to start: a fresh sandbox (`/sandbox/create`) or one from a
/// snapshot (`/sandbox/restore`). The bench answers at once and connects as that sandbox's bridge.
struct SandboxRequest {
    let sessionID: String
    let sandboxID: String
    let authToken: String
    let controlPlaneURL: String
    let restore: Bool
}

/// The bench playing the sandbox provider of Apps/DISPATCH.md (reference §2.1): `GET /health`,
/// `POST /sandbox/create`, `/sandbox/restore`, `/sandbox/snapshot` and `/sandbox/terminate`, every answer the
/// envelope `{success, data}` or `{success: false, error}`, every route but `/health` behind the HMAC bearer
/// made with `SANDBOX_API_SECRET` (401 when it does not verify). No sandbox is ever run: a create is handed
/// to `onSandbox`, which connects a bridge; snapshots are names only.
///
/// Threading: loop-bound, except the counters, which the main thread reads.
final class SessionProviderServer: @unchecked Sendable {
    let loop: Loop
    let secret: String
    let date = HTTPDate()
    /// Creates and restores asked for (answered or not).
    let sandboxCalls = Atomic<Int>(0)
    /// Provider calls refused for their bearer.
    let badBearers = Atomic<Int>(0)
    /// Why the last refused bearer was refused. Loop-bound.
    private(set) var lastBadBearer: String?
    /// A create or restore for a session of this run: returns the handle (`modal_object_id`) to answer
    /// with, or nil for a session the run does not know (answered 404).
    var onSandbox: ((SandboxRequest) -> String?)?
    /// `/sandbox/terminate` for a handle `onSandbox` returned.
    var onTerminate: ((String) -> Void)?
    private var listener: Listener?
    private var connections: [ObjectIdentifier: SessionProviderConnection] = [:]
    private var snapshots = 0

    init(loop: Loop, secret: String) {
        self.loop = loop
        self.secret = secret
    }

    /// Starts accepting on a socket `Listener.bind` made. On the loop.
    func start(fd: Int32, address: SocketAddress) {
        let listener = Listener(loop: loop, fd: fd, address: address) { [unowned self] accepted in
            let connection = SessionProviderConnection(server: self, socket: StreamSocket(loop: loop, fd: accepted))
            connections[ObjectIdentifier(connection)] = connection
            connection.start()
        }
        self.listener = listener
        listener.start()
    }

    /// Stops accepting and closes every connection. On the loop.
    func stop() {
        listener?.close()
        listener = nil
        for connection in Array(connections.values) { connection.close() }
    }

    func connectionClosed(_ connection: SessionProviderConnection) {
        connections[ObjectIdentifier(connection)] = nil
    }

    // MARK: Routes

    func answer(_ request: RequestHead, body: [UInt8]) -> (status: Int, body: [UInt8]) {
        let path = String(request.target.prefix { $0 != "?" })
        if request.method == "GET", path == "/health" {
            return (200, Self.envelope(data: ["status": "healthy", "service": "bench-session-provider"]))
        }
        do throws(SessionServiceToken.Failure) {
            try SessionServiceToken.verify(header: request.headers["authorization"], secret: secret)
        } catch {
            badBearers.add(1, ordering: .relaxed)
            lastBadBearer = "\(error)"
            return (401, Self.envelope(error: "unauthorized: \(error)"))
        }
        guard request.method == "POST" else { return (405, Self.envelope(error: "method not allowed")) }
        guard let fields = (try? JSONSerialization.jsonObject(with: Data(body))) as? [String: Any] else {
            return (400, Self.envelope(error: "expected a JSON object"))
        }
        switch path {
        case "/sandbox/create", "/sandbox/restore":
            let restore = path == "/sandbox/restore"
            let config = fields["session_config"] as? [String: Any]
            guard let sessionID = (restore ? config?["session_id"] : fields["session_id"]) as? String,
                  let sandboxID = fields["sandbox_id"] as? String, let token = fields["sandbox_auth_token"] as? String,
                  let url = fields["control_plane_url"] as? String else {
                return (400, Self.envelope(error: "session_id, sandbox_id, sandbox_auth_token and control_plane_url are required"))
            }
            sandboxCalls.add(1, ordering: .relaxed)
            let request = SandboxRequest(sessionID: sessionID, sandboxID: sandboxID, authToken: token,
                                         controlPlaneURL: url, restore: restore)
            guard let handle = onSandbox?(request) else {
                return (404, Self.envelope(error: "bench: session \(sessionID) is not one of this run's"))
            }
            return (200, Self.envelope(data: ["sandbox_id": sandboxID, "modal_object_id": handle, "status": "warming",
                                              "created_at": SessionServiceToken.now(), "tunnel_urls": [String: Any]()]))
        case "/sandbox/snapshot":
            snapshots += 1
            return (200, Self.envelope(data: ["image_id": "bench-image-\(snapshots)", "sandbox_id": fields["sandbox_id"] ?? NSNull(),
                                              "session_id": fields["session_id"] ?? NSNull(), "reason": fields["reason"] ?? NSNull()]))
        case "/sandbox/terminate":
            guard let handle = fields["sandbox_id"] as? String else { return (400, Self.envelope(error: "sandbox_id is required")) }
            onTerminate?(handle)
            return (200, Self.envelope(data: ["sandbox_id": handle, "status": "terminated"]))
        default:
            return (404, Self.envelope(error: "no route for \(request.method) \(path)"))
        }
    }

    static func envelope(data: [String: Any]) -> [UInt8] {
        Array((try? JSONSerialization.data(withJSONObject: ["success": true, "data": data])) ?? Data())
    }

    static func envelope(error: String) -> [UInt8] {
        Array((try? JSONSerialization.data(withJSONObject: ["success": false, "error": error])) ?? Data())
    }
}
