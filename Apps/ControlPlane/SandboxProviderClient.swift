import RuntimeAPI

/// The sandbox provider's HTTP API (reference §2.1, `Apps/DISPATCH.md`): the local provider app or a
/// remote one speaking the same API, at `SANDBOX_PROVIDER_URL`, signed with `SANDBOX_API_SECRET`.
struct SandboxProviderClient: Sendable {
    let baseURL: String
    let secret: String

    /// Longest provider answer read.
    static let maxResponseBytes = 1024 * 1024
    /// Provider calls may clone a repository or archive a workspace.
    static let timeouts = FetchTimeouts(connect: .seconds(10), read: .seconds(120), total: .seconds(300))

    init(_ env: Env, config: Config) throws {
        guard let secret = env.secrets["SANDBOX_API_SECRET"], !secret.isEmpty else {
            throw ProviderFailure("SANDBOX_API_SECRET is not set (runtime secret put control-plane SANDBOX_API_SECRET)")
        }
        self.baseURL = config.sandboxProviderURL
        self.secret = secret
    }

    struct ProviderFailure: Error, CustomStringConvertible {
        let description: String
        init(_ description: String) { self.description = description }
    }

    /// POSTs `body` to `path` and returns the envelope's `data`.
    func call(_ path: String, _ body: JSON) async throws -> JSON {
        let request = FetchRequest(baseURL + path, method: "POST",
                                   headers: ["Content-Type": "application/json", "Authorization": InternalToken.header(secret: secret)],
                                   body: body.bytes, timeouts: Self.timeouts)
        let response: Response
        do {
            response = try await fetch(request)
        } catch {
            throw ProviderFailure("sandbox provider unreachable: \(error)")
        }
        let bytes = try await response.bodyBytes(limit: Self.maxResponseBytes)
        let envelope = (try? JSON.parse(bytes)) ?? .null
        guard (200..<300).contains(response.status), envelope["success"]?.bool == true else {
            let reason = envelope["error"]?.string ?? String(decoding: bytes.prefix(200), as: UTF8.self)
            throw ProviderFailure("sandbox provider answered \(response.status): \(reason)")
        }
        return envelope["data"] ?? [:]
    }
}
