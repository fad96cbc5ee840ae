import Foundation
import RuntimeAPI

/// A runtime with the control plane deployed (and, when asked, the local sandbox provider), its
/// secrets set, and helpers to call its REST API the way the web app does.
final class ControlPlaneWorld: @unchecked Sendable {
    let runtime: RuntimeWorld
    let sockets: TestSockets
    let internalSecret: String
    let sandboxSecret: String
    /// base64 of 32 bytes.
    let encryptionKey: String

    init(controlPlaneVars: [String: String] = [:], controlPlaneSecrets: [String: String] = [:],
         withProvider providerVars: [String: String]? = nil) throws {
        internalSecret = "internal-" + UUID().uuidString
        sandboxSecret = "sandbox-" + UUID().uuidString
        encryptionKey = Data((0..<32).map { _ in UInt8.random(in: 0...255) }).base64EncodedString()
        runtime = try RuntimeWorld()
        sockets = try TestSockets()
        let apps = RuntimeWorld.repoRoot() + "/Apps"
        var vars = ["WORKER_URL": runtime.baseURL + "/api", "WEB_APP_URL": runtime.baseURL,
                    "SANDBOX_PROVIDER_URL": runtime.baseURL + "/sandbox-provider"]
        vars.merge(controlPlaneVars) { _, given in given }
        try runtime.putSecret("control-plane", "INTERNAL_CALLBACK_SECRET", internalSecret)
        try runtime.putSecret("control-plane", "SANDBOX_API_SECRET", sandboxSecret)
        try runtime.putSecret("control-plane", "TOKEN_ENCRYPTION_KEY", encryptionKey)
        for (name, value) in controlPlaneSecrets { try runtime.putSecret("control-plane", name, value) }
        try runtime.deploy(apps + "/ControlPlane", vars: vars)
        if let providerVars {
            var vars = ["ALLOWED_CONTROL_PLANE_HOSTS": "127.0.0.1:\(runtime.port)"]
            vars.merge(providerVars) { _, given in given }
            try runtime.putSecret("sandbox-provider", "SANDBOX_API_SECRET", sandboxSecret)
            try runtime.deploy(apps + "/SandboxProvider", vars: vars)
        }
    }

    /// A restart: a new runtime on `previous`'s state directory (after its `runtime.shutDown()`), with
    /// the apps, secrets and data it left. Its port is new; the apps' URL vars still name the old one.
    init(restarting previous: ControlPlaneWorld) throws {
        (internalSecret, sandboxSecret, encryptionKey) = (previous.internalSecret, previous.sandboxSecret, previous.encryptionKey)
        runtime = try RuntimeWorld(stateDirectory: previous.runtime.stateDirectory)
        sockets = try TestSockets()
    }

    func stop() {
        sockets.stop()
        runtime.stop()
    }

    /// A call with the service token (unless `authorization` is given).
    func call(_ method: String, _ path: String, json: [String: Any]? = nil, authorization: String? = nil) async throws
        -> TestHTTPResponse {
        var headers = ["Authorization": authorization ?? ServiceToken.header(secret: internalSecret)]
        var body: [UInt8] = []
        if let json {
            headers["Content-Type"] = "application/json"
            body = Array(try JSONSerialization.data(withJSONObject: json))
        }
        return try await runtime.request(method, "/api" + path, headers: headers, body: body)
    }

    /// `POST /sessions`; returns the new session's id.
    func createSession(owner: String = "acme", name: String = "widgets", title: String? = nil, userId: String = "alice",
                       githubToken: String? = nil) async throws -> String {
        var body: [String: Any] = ["repoOwner": owner, "repoName": name, "userId": userId, "githubLogin": userId,
                                   "githubName": userId.capitalized, "githubEmail": "\(userId)@example.com"]
        if let title { body["title"] = title }
        if let githubToken { body["githubToken"] = githubToken }
        let response = try await call("POST", "/sessions", json: body)
        guard response.status == 201, let id = (response.json as? [String: Any])?["sessionId"] as? String else {
            throw SessionSocket.Timeout(description: "create session: \(response.status) \(response.text)")
        }
        return id
    }

    /// A subscribed client of `session` for `userId` (ws-token, connect, subscribe, replay done).
    func subscribedClient(_ session: String, userId: String, githubToken: String? = nil) async throws -> SessionSocket {
        var body: [String: Any] = ["userId": userId, "githubLogin": userId, "githubName": userId.capitalized,
                                   "githubEmail": "\(userId)@example.com"]
        if let githubToken { body["githubToken"] = githubToken }
        let issued = try await call("POST", "/sessions/\(session)/ws-token", json: body)
        guard let token = (issued.json as? [String: Any])?["token"] as? String else {
            throw SessionSocket.Timeout(description: "ws-token: \(issued.status) \(issued.text)")
        }
        let client = try await sockets.connect(webSocketURL(session))
        try client.send(["type": "subscribe", "token": token, "clientId": "client-\(userId)-\(UUID().uuidString.prefix(6))"])
        try await client.next("history_complete")
        return client
    }

    func webSocketURL(_ session: String) -> String {
        "ws://127.0.0.1:\(runtime.port)/api/sessions/\(session)/ws"
    }
}
