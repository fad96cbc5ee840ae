import RuntimeAPI

/// Limits of request bodies and their fields; exceeding one is a 400 that names it.
enum RequestLimits {
    /// Largest request body (room for `user_env_vars`).
    static let maxBodyBytes = 512 * 1024
    static let maxIDBytes = 128
    /// `sandbox_id` is the control plane's `sandbox-<owner>-<name>-<millis>`.
    static let maxSandboxIDBytes = 256
    static let maxRepoPartBytes = 100
    static let maxTokenBytes = 512
    static let maxProviderBytes = 128
    static let maxModelBytes = 256
    static let maxGitUserBytes = 256
    static let maxReasonBytes = 64
    /// `user_env_vars`: the agent's secrets, added to the bridge's environment.
    static let maxUserVariables = 100
    static let maxUserVariableBytes = 8 * 1024
    static let maxUserEnvironmentBytes = 320 * 1024
}

/// Agents the bridge knows (Apps/DISPATCH.md).
enum Agent: String, Sendable {
    case shell
    case opencode
}

/// `POST /sandbox/create`.
struct CreateRequest: Sendable {
    var sessionID: String
    var sandboxID: String
    var repoOwner: String
    var repoName: String
    var controlPlaneURL: ControlPlaneURL
    var sandboxAuthToken: String
    var provider: String?
    var model: String?
    var gitUserName: String?
    var gitUserEmail: String?
    var agent: Agent
    var userEnvironment: [String: String]
    /// The branch to clone; nil: the repository's default.
    var baseBranch: String?

    init(_ body: BodyFields, allowed: [ControlPlaneURL.AllowedHost]) throws(ProviderError) {
        sessionID = try body.sessionID("session_id")
        baseBranch = try body.text("base_branch", limit: GitBranch.maxBytes, required: false)
        if let branch = baseBranch, let problem = GitBranch.problem(with: branch) { throw .badRequest("base_branch: " + problem) }
        sandboxID = try body.sandboxID("sandbox_id")
        userEnvironment = try body.userEnvironment("user_env_vars")
        repoOwner = try body.repoPart("repo_owner")
        repoName = try body.repoPart("repo_name")
        controlPlaneURL = try body.controlPlaneURL("control_plane_url", allowed: allowed)
        sandboxAuthToken = try body.token("sandbox_auth_token")
        provider = try body.text("provider", limit: RequestLimits.maxProviderBytes, required: false)
        model = try body.text("model", limit: RequestLimits.maxModelBytes, required: false)
        gitUserName = try body.text("git_user_name", limit: RequestLimits.maxGitUserBytes, required: false)
        gitUserEmail = try body.text("git_user_email", limit: RequestLimits.maxGitUserBytes, required: false)
        agent = try body.agent("agent")
    }
}

/// `POST /sandbox/snapshot`.
struct SnapshotRequest: Sendable {
    var handle: String
    var sessionID: String
    var reason: String

    init(_ body: BodyFields) throws(ProviderError) {
        handle = try body.handle("sandbox_id")
        sessionID = try body.sessionID("session_id")
        reason = try body.text("reason", limit: RequestLimits.maxReasonBytes, required: false) ?? "unspecified"
    }
}

/// `POST /sandbox/restore`.
struct RestoreRequest: Sendable {
    var imageID: String
    var sessionID: String
    var repoOwner: String
    var repoName: String
    var provider: String?
    var model: String?
    var agent: Agent
    var gitUserName: String?
    var gitUserEmail: String?
    var sandboxID: String
    var controlPlaneURL: ControlPlaneURL
    var sandboxAuthToken: String
    var userEnvironment: [String: String]

    init(_ body: BodyFields, allowed: [ControlPlaneURL.AllowedHost]) throws(ProviderError) {
        imageID = try body.imageID("snapshot_image_id")
        userEnvironment = try body.userEnvironment("user_env_vars")
        let config = try body.object("session_config")
        sessionID = try config.sessionID("session_id")
        repoOwner = try config.repoPart("repo_owner")
        repoName = try config.repoPart("repo_name")
        provider = try config.text("provider", limit: RequestLimits.maxProviderBytes, required: false)
        model = try config.text("model", limit: RequestLimits.maxModelBytes, required: false)
        agent = try config.agent("agent")
        gitUserName = try config.text("git_user_name", limit: RequestLimits.maxGitUserBytes, required: false)
        gitUserEmail = try config.text("git_user_email", limit: RequestLimits.maxGitUserBytes, required: false)
        sandboxID = try body.sandboxID("sandbox_id")
        controlPlaneURL = try body.controlPlaneURL("control_plane_url", allowed: allowed)
        sandboxAuthToken = try body.token("sandbox_auth_token")
    }
}

/// `POST /sandbox/terminate`.
struct TerminateRequest: Sendable {
    var handle: String

    init(_ body: BodyFields) throws(ProviderError) {
        handle = try body.handle("sandbox_id")
    }
}

/// A JSON object body, read field by field; every error names the field (with `prefix` for nested
/// objects) and the rule it broke.
struct BodyFields: Sendable {
    let fields: [String: JSON]
    let prefix: String

    init(body: [UInt8]) throws(ProviderError) {
        guard body.count <= RequestLimits.maxBodyBytes else {
            throw .badRequest("body: \(body.count) bytes is over the limit of \(RequestLimits.maxBodyBytes)")
        }
        guard !body.isEmpty else { throw .badRequest("body: empty; expected a JSON object") }
        let value: JSON
        do {
            value = try JSON.parse(body)
        } catch {
            throw .badRequest("body: not JSON (\(error))")
        }
        guard let fields = value.object else { throw .badRequest("body: expected a JSON object") }
        self.fields = fields
        self.prefix = ""
    }

    private init(fields: [String: JSON], prefix: String) {
        self.fields = fields
        self.prefix = prefix
    }

    func object(_ name: String) throws(ProviderError) -> BodyFields {
        guard let value = fields[name], !value.isNull else { throw .badRequest("\(prefix)\(name): required") }
        guard let object = value.object else { throw .badRequest("\(prefix)\(name): expected an object") }
        return BodyFields(fields: object, prefix: prefix + name + ".")
    }

    /// A string field: required ones must be present and non-empty; at most `limit` UTF-8 bytes, no
    /// control characters.
    func text(_ name: String, limit: Int, required: Bool = true) throws(ProviderError) -> String? {
        guard let value = fields[name], !value.isNull else {
            if required { throw .badRequest("\(prefix)\(name): required") }
            return nil
        }
        guard let text = value.string else { throw .badRequest("\(prefix)\(name): expected a string") }
        if text.isEmpty {
            if required { throw .badRequest("\(prefix)\(name): must not be empty") }
            return nil
        }
        guard text.utf8.count <= limit else {
            throw .badRequest("\(prefix)\(name): \(text.utf8.count) bytes is over the limit of \(limit)")
        }
        guard !text.unicodeScalars.contains(where: { $0.value < 0x20 || $0.value == 0x7f }) else {
            throw .badRequest("\(prefix)\(name): must not contain control characters")
        }
        return text
    }

    func required(_ name: String, limit: Int) throws(ProviderError) -> String {
        guard let text = try text(name, limit: limit) else { throw .badRequest("\(prefix)\(name): required") }
        return text
    }

    /// Letters, digits, `-`, `_` (it becomes the branch `dispatch/<session_id>`).
    func sessionID(_ name: String) throws(ProviderError) -> String {
        let text = try required(name, limit: RequestLimits.maxIDBytes)
        guard Self.only(text, extra: "-_") else { throw .badRequest("\(prefix)\(name): only letters, digits, '-' and '_'") }
        return text
    }

    func sandboxID(_ name: String) throws(ProviderError) -> String {
        let text = try required(name, limit: RequestLimits.maxSandboxIDBytes)
        guard Self.only(text, extra: "-_.") else { throw .badRequest("\(prefix)\(name): only letters, digits, '-', '_' and '.'") }
        return text
    }

    /// A GitHub owner or repository name: letters, digits, `-`, `_`, `.`, not starting with `.` or `-`.
    func repoPart(_ name: String) throws(ProviderError) -> String {
        let text = try required(name, limit: RequestLimits.maxRepoPartBytes)
        guard Self.only(text, extra: "-_."), !text.hasPrefix("."), !text.hasPrefix("-") else {
            throw .badRequest("\(prefix)\(name): only letters, digits, '-', '_' and '.', not starting with '.' or '-'")
        }
        return text
    }

    /// Printable ASCII without spaces.
    func token(_ name: String) throws(ProviderError) -> String {
        let text = try required(name, limit: RequestLimits.maxTokenBytes)
        guard text.utf8.allSatisfy({ $0 > 0x20 && $0 < 0x7f }) else {
            throw .badRequest("\(prefix)\(name): printable ASCII without spaces only")
        }
        return text
    }

    func controlPlaneURL(_ name: String, allowed: [ControlPlaneURL.AllowedHost]) throws(ProviderError) -> ControlPlaneURL {
        let text = try required(name, limit: ControlPlaneURL.maxBytes)
        let url: ControlPlaneURL
        do {
            url = try ControlPlaneURL(parsing: text)
        } catch {
            throw .badRequest("\(prefix)\(name): \(error)")
        }
        guard url.isAllowed(by: allowed) else {
            let hint = allowed.isEmpty ? " (the list is empty, so every host is refused)" : ""
            throw .badRequest("\(prefix)\(name): \(url.host):\(url.port) is not in ALLOWED_CONTROL_PLANE_HOSTS\(hint)")
        }
        return url
    }

    /// An optional object of environment variables for the agent: names of capital letters, digits and
    /// `_` that the sandbox's own environment does not use, string values without NUL.
    func userEnvironment(_ name: String) throws(ProviderError) -> [String: String] {
        guard let value = fields[name], !value.isNull else { return [:] }
        guard let object = value.object else { throw .badRequest("\(prefix)\(name): expected an object of strings") }
        guard object.count <= RequestLimits.maxUserVariables else {
            throw .badRequest("\(prefix)\(name): \(object.count) variables; at most \(RequestLimits.maxUserVariables)")
        }
        var total = 0
        var environment: [String: String] = [:]
        for (key, entry) in object {
            if let problem = AgentEnvironment.problem(withName: key) { throw .badRequest("\(prefix)\(name): \(problem)") }
            guard let text = entry.string else { throw .badRequest("\(prefix)\(name).\(key): expected a string") }
            guard text.utf8.count <= RequestLimits.maxUserVariableBytes, !text.utf8.contains(0) else {
                throw .badRequest("\(prefix)\(name).\(key): at most \(RequestLimits.maxUserVariableBytes) bytes, no NUL")
            }
            total += key.utf8.count + text.utf8.count + 2
            environment[key] = text
        }
        guard total <= RequestLimits.maxUserEnvironmentBytes else {
            throw .badRequest("\(prefix)\(name): \(total) bytes in all; at most \(RequestLimits.maxUserEnvironmentBytes)")
        }
        return environment
    }

    func agent(_ name: String) throws(ProviderError) -> Agent {
        guard let text = try text(name, limit: 32, required: false) else { return .shell }
        guard let agent = Agent(rawValue: text) else { throw .badRequest("\(prefix)\(name): shell or opencode, not \(text)") }
        return agent
    }

    /// The provider's handle (`modal_object_id`): `local-<hex>`.
    func handle(_ name: String) throws(ProviderError) -> String {
        let text = try required(name, limit: RequestLimits.maxIDBytes)
        guard SandboxRecord.isHandle(text) else {
            throw .badRequest("\(prefix)\(name): \"\(text)\" is not a handle of this provider (modal_object_id, local-<hex>)")
        }
        return text
    }

    func imageID(_ name: String) throws(ProviderError) -> String {
        let text = try required(name, limit: RequestLimits.maxIDBytes)
        guard SnapshotStore.isImageID(text) else { throw .badRequest("\(prefix)\(name): \"\(text)\" is not a snapshot id (snap-<hex>)") }
        return text
    }

    private static func only(_ text: String, extra: String) -> Bool {
        let allowed = Set(extra.utf8)
        return text.utf8.allSatisfy { byte in
            (byte >= 0x30 && byte <= 0x39) || (byte | 0x20 >= 0x61 && byte | 0x20 <= 0x7a) || allowed.contains(byte)
        }
    }
}
