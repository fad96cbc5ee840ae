import Foundation

/// What the provider tells the bridge, all through the environment (Apps/DISPATCH.md, "Inside a
/// sandbox"). Read once at startup; a missing or malformed variable stops the bridge before it connects.
struct BridgeConfig: Sendable {
    enum Agent: String, Sendable {
        case shell
        case opencode
    }

    /// `SESSION_CONFIG`: `{session_id, repo_owner, repo_name, provider, model, git_user?{name,email}}`.
    struct SessionConfig: Sendable {
        var provider: String?
        var model: String?
        var gitUserName: String?
        var gitUserEmail: String?
    }

    static let defaultPushURLTemplate = "https://x-access-token:{token}@github.com/{owner}/{name}.git"
    static let defaultOpenCodeURL = "http://127.0.0.1:4096"
    /// Variables the bridge needs; each must be set and non-empty.
    static let requiredVariables = ["SANDBOX_ID", "SESSION_ID", "CONTROL_PLANE_URL", "SANDBOX_AUTH_TOKEN",
                                    "REPO_OWNER", "REPO_NAME", "WORKSPACE"]
    /// Variables kept out of the environment of everything the bridge starts (the agent's commands, git).
    static let privateVariables: Set<String> = ["SANDBOX_AUTH_TOKEN"]

    let sandboxID: String
    let sessionID: String
    /// `ws://` or `wss://` URL of the session's sandbox socket.
    let webSocketURL: String
    let authToken: String
    let repoOwner: String
    let repoName: String
    let workspace: String
    let agent: Agent
    let sessionConfig: SessionConfig
    let pushURLTemplate: String
    let restoredFromSnapshot: Bool
    let openCodeURL: String
    let heartbeatInterval: Duration
    let promptTimeout: Duration
    /// Temporary directory (`TMPDIR`, else /tmp).
    let temporaryDirectory: String
    /// The environment for child processes: the bridge's own minus `privateVariables`.
    let childEnvironment: [String: String]

    init(environment: [String: String]) throws(BridgeConfigError) {
        func required(_ name: String) throws(BridgeConfigError) -> String {
            guard let value = environment[name], !value.isEmpty else { throw .missing(name) }
            guard !value.contains(where: { $0.isNewline || $0 == "\0" }) else {
                throw .invalid(variable: name, reason: "contains a line break or NUL")
            }
            return value
        }
        func optional(_ name: String) -> String? {
            guard let value = environment[name], !value.isEmpty else { return nil }
            return value
        }
        sandboxID = try required("SANDBOX_ID")
        sessionID = try required("SESSION_ID")
        let controlPlane = try required("CONTROL_PLANE_URL")
        authToken = try required("SANDBOX_AUTH_TOKEN")
        repoOwner = try required("REPO_OWNER")
        repoName = try required("REPO_NAME")
        workspace = try required("WORKSPACE")
        var isDirectory: ObjCBool = false
        guard workspace.hasPrefix("/"), FileManager.default.fileExists(atPath: workspace, isDirectory: &isDirectory),
              isDirectory.boolValue else {
            throw .invalid(variable: "WORKSPACE", reason: "\(workspace) is not an absolute path to a directory")
        }
        webSocketURL = try Self.socketURL(controlPlane: controlPlane, sessionID: sessionID)

        let agentName = optional("AGENT") ?? Agent.shell.rawValue
        guard let agent = Agent(rawValue: agentName) else {
            throw .invalid(variable: "AGENT", reason: "\"\(agentName)\" is neither shell nor opencode")
        }
        self.agent = agent
        sessionConfig = try Self.sessionConfig(optional("SESSION_CONFIG"))
        pushURLTemplate = optional("GIT_PUSH_URL_TEMPLATE") ?? Self.defaultPushURLTemplate
        restoredFromSnapshot = optional("RESTORED_FROM_SNAPSHOT") == "true"
        openCodeURL = String((optional("OPENCODE_URL") ?? Self.defaultOpenCodeURL).trimmingSuffix("/"))
        guard openCodeURL.hasPrefix("http://") || openCodeURL.hasPrefix("https://") else {
            throw .invalid(variable: "OPENCODE_URL", reason: "expected an http:// or https:// URL")
        }
        heartbeatInterval = try Self.seconds(optional("HEARTBEAT_INTERVAL_SECONDS"), name: "HEARTBEAT_INTERVAL_SECONDS")
            ?? BridgeLimits.defaultHeartbeatInterval
        promptTimeout = try Self.seconds(optional("PROMPT_TIMEOUT_SECONDS"), name: "PROMPT_TIMEOUT_SECONDS")
            ?? BridgeLimits.defaultPromptTimeout
        temporaryDirectory = String((optional("TMPDIR") ?? "/tmp").trimmingSuffix("/"))
        childEnvironment = environment.filter { !Self.privateVariables.contains($0.key) }
    }

    /// `CONTROL_PLANE_URL` (`http(s)://host:port`, or already `ws(s)://`) as the sandbox socket's URL.
    static func socketURL(controlPlane: String, sessionID: String) throws(BridgeConfigError) -> String {
        var base = Substring(controlPlane.trimmingSuffix("/"))
        let scheme: String
        if base.hasPrefix("https://") {
            scheme = "wss://"
            base = base.dropFirst(8)
        } else if base.hasPrefix("http://") {
            scheme = "ws://"
            base = base.dropFirst(7)
        } else if base.hasPrefix("wss://") {
            scheme = "wss://"
            base = base.dropFirst(6)
        } else if base.hasPrefix("ws://") {
            scheme = "ws://"
            base = base.dropFirst(5)
        } else {
            throw .invalid(variable: "CONTROL_PLANE_URL", reason: "expected an http:// or https:// URL")
        }
        guard !base.isEmpty, !base.contains("?"), !base.contains("#") else {
            throw .invalid(variable: "CONTROL_PLANE_URL", reason: "expected http(s)://host:port")
        }
        let unreserved = CharacterSet(charactersIn: "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-._~")
        let session = sessionID.addingPercentEncoding(withAllowedCharacters: unreserved) ?? sessionID
        return "\(scheme)\(base)/sessions/\(session)/ws?type=sandbox"
    }

    static func sessionConfig(_ text: String?) throws(BridgeConfigError) -> SessionConfig {
        guard let text else { return SessionConfig() }
        let value: JSONValue
        do {
            value = try JSONValue.parse(text)
        } catch {
            throw .invalid(variable: "SESSION_CONFIG", reason: "\(error)")
        }
        guard value.object != nil else { throw .invalid(variable: "SESSION_CONFIG", reason: "not a JSON object") }
        return SessionConfig(provider: value["provider"]?.nonEmptyString, model: value["model"]?.nonEmptyString,
                             gitUserName: value["git_user"]?["name"]?.nonEmptyString,
                             gitUserEmail: value["git_user"]?["email"]?.nonEmptyString)
    }

    /// A positive number of seconds (fractions allowed), or nil when unset.
    static func seconds(_ text: String?, name: String) throws(BridgeConfigError) -> Duration? {
        guard let text else { return nil }
        guard let value = Double(text), value.isFinite, value > 0 else {
            throw .invalid(variable: name, reason: "\"\(text)\" is not a positive number of seconds")
        }
        return .milliseconds(Int64((value * 1000).rounded(.up)))
    }
}

/// Why the bridge refused to start.
enum BridgeConfigError: Error, CustomStringConvertible {
    case missing(String)
    case invalid(variable: String, reason: String)

    var description: String {
        switch self {
        case .missing(let name): "environment variable \(name) is missing or empty; it is required"
        case .invalid(let name, let reason): "environment variable \(name): \(reason)"
        }
    }
}

extension String {
    func trimmingSuffix(_ suffix: String) -> Substring {
        var text = Substring(self)
        while text.hasSuffix(suffix) { text = text.dropLast(suffix.count) }
        return text
    }
}
