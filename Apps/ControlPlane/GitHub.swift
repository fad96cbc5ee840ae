import RuntimeAPI

/// Values at rest (reference §1.14): users' GitHub tokens and the agent's secrets, AES-256-GCM under
/// `TOKEN_ENCRYPTION_KEY` (base64 of 32 bytes), stored as `v2:` and base64 of `iv ‖ ciphertext ‖ tag`.
///
/// Each value is sealed for one place (`Owner`), bound in as GCM's associated data, so a ciphertext
/// copied into another row, say one user's token into another user's participant or one repository's
/// secret into the global scope, fails to open there instead of being used as that row's. Values
/// stored before `v2` (no prefix, no associated data) still open, wherever they are.
struct TokenCipher: Sendable {
    let key: [UInt8]

    /// Where a sealed value belongs.
    enum Owner: Sendable {
        /// A participant's GitHub token: the user it was issued for.
        case githubToken(userID: String)
        /// An agent secret: its scope key and name.
        case agentSecret(scope: String, name: String)

        /// NUL-separated: no part can contain NUL (user ids, scope keys and secret names are checked
        /// text), so two owners never share bytes.
        var associatedData: [UInt8] {
            switch self {
            case .githubToken(let userID): Array("dispatch-github-token\u{0}\(userID)".utf8)
            case .agentSecret(let scope, let name): Array("dispatch-agent-secret\u{0}\(scope)\u{0}\(name)".utf8)
            }
        }
    }

    static let versionPrefix = "v2:"

    init(_ env: Env) throws {
        guard let text = env.secrets["TOKEN_ENCRYPTION_KEY"], !text.isEmpty else {
            throw HTTPError(500, "TOKEN_ENCRYPTION_KEY is not set (runtime secret put control-plane TOKEN_ENCRYPTION_KEY)")
        }
        guard let key = Encoding.base64Decode(text.trimmed), key.count == Crypto.aesKeyBytes else {
            throw HTTPError(500, "TOKEN_ENCRYPTION_KEY must be base64 of 32 bytes (openssl rand -base64 32)")
        }
        self.key = key
    }

    func seal(_ value: String, for owner: Owner) throws -> String {
        Self.versionPrefix + Encoding.base64(try Crypto.aesGCMSeal(Array(value.utf8), key: key, associatedData: owner.associatedData))
    }

    func open(_ sealed: String, for owner: Owner) throws -> String {
        let bound = sealed.hasPrefix(Self.versionPrefix)
        guard let box = Encoding.base64Decode(bound ? String(sealed.dropFirst(Self.versionPrefix.count)) : sealed) else {
            throw CryptoFailure("a stored sealed value is not base64")
        }
        do {
            return String(decoding: try Crypto.aesGCMOpen(box, key: key, associatedData: bound ? owner.associatedData : []),
                          as: UTF8.self)
        } catch {
            throw CryptoFailure("a stored sealed value does not open: sealed under another TOKEN_ENCRYPTION_KEY or for another owner")
        }
    }
}

/// GitHub's REST API through `fetch`, at a configurable base URL (tests run a local fake).
struct GitHubAPI: Sendable {
    let baseURL: String

    /// Headers GitHub expects on every call (reference §1.14).
    private func headers(token: String?) -> Headers {
        var headers: Headers = ["Accept": "application/vnd.github+json", "X-GitHub-Api-Version": "2022-11-28",
                                "User-Agent": "dispatch-control-plane"]
        if let token { headers.set("Authorization", "Bearer " + token) }
        return headers
    }

    struct Failure: Error, CustomStringConvertible {
        let status: Int
        let message: String
        var description: String { "GitHub answered \(status): \(message)" }
    }

    /// Longest GitHub answer read.
    static let maxResponseBytes = 8 * 1024 * 1024

    func call(_ method: String, _ path: String, token: String?, body: JSON? = nil) async throws -> JSON {
        var headers = headers(token: token)
        if body != nil { headers.set("Content-Type", "application/json") }
        let response = try await fetch(baseURL + path, method: method, headers: headers, body: body?.bytes ?? [])
        let bytes = try await response.bodyBytes(limit: Self.maxResponseBytes)
        let value = (try? JSON.parse(bytes)) ?? .null
        guard (200..<300).contains(response.status) else {
            throw Failure(status: response.status, message: value["message"]?.string ?? String(decoding: bytes.prefix(200), as: UTF8.self))
        }
        return value
    }

    // MARK: The GitHub App

    /// An RS256 JWT for the App: `iat = now − 60`, `exp = now + 600`, `iss = appId`.
    static func appJWT(appID: String, privateKeyPEM: String, now: Int64 = WallClock.milliseconds() / 1000) throws -> String {
        let header = Encoding.base64URL(Array(#"{"alg":"RS256","typ":"JWT"}"#.utf8))
        let claims: JSON = ["iat": .int(now - 60), "exp": .int(now + 600), "iss": .string(appID)]
        let payload = Encoding.base64URL(claims.bytes)
        let signature = try Crypto.rs256Sign(Array((header + "." + payload).utf8), privateKeyPEM: privateKeyPEM)
        return header + "." + payload + "." + Encoding.base64URL(signature)
    }

    /// A fresh installation token from the App's credentials in `env`.
    func installationToken(_ env: Env) async throws -> String {
        guard let appID = env.secrets["GITHUB_APP_ID"], let key = env.secrets["GITHUB_APP_PRIVATE_KEY"],
              let installation = env.secrets["GITHUB_APP_INSTALLATION_ID"] else {
            throw HTTPError(503, "the GitHub App is not configured (GITHUB_APP_ID, GITHUB_APP_PRIVATE_KEY, GITHUB_APP_INSTALLATION_ID)")
        }
        let jwt = try Self.appJWT(appID: appID.trimmed, privateKeyPEM: key)
        let answer = try await call("POST", "/app/installations/\(installation.trimmed)/access_tokens", token: jwt)
        guard let token = answer["token"]?.string else { throw Failure(status: 502, message: "no token in the answer") }
        return token
    }

    /// Every repository the installation can reach, paged 100 at a time.
    func installationRepositories(token: String) async throws -> [JSON] {
        var repositories: [JSON] = []
        var page = 1
        while page <= 50 {
            let answer = try await call("GET", "/installation/repositories?per_page=100&page=\(page)", token: token)
            let batch = answer["repositories"]?.array ?? []
            repositories += batch
            let total = answer["total_count"]?.int.map(Int.init) ?? repositories.count
            if batch.count < 100 || repositories.count >= total { break }
            page += 1
        }
        return repositories
    }
}
