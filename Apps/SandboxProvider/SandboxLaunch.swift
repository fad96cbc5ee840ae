import Foundation
import RuntimeAPI

/// How one sandbox's bridge is started: its environment (exactly the names of Apps/DISPATCH.md, no
/// platform secret, plus the agent's secrets the control plane sent) and its command line
/// (bubblewrap around the bridge, or the bridge alone).
struct SandboxLaunch: Sendable {
    var arguments: [String]
    var environment: [String: String]
    /// The working directory for an unconfined bridge (bubblewrap changes directory itself).
    var directory: String?

    /// What the bridge is told about its session.
    struct Session: Sendable {
        var sandboxID: String
        var sessionID: String
        var repoOwner: String
        var repoName: String
        var controlPlaneURL: ControlPlaneURL
        var sandboxAuthToken: String
        var provider: String?
        var model: String?
        var agent: Agent
        var gitUserName: String?
        var gitUserEmail: String?
        var restored: Bool
        /// The agent's secrets (`user_env_vars`), none of them an `AgentEnvironment.reservedNames` name.
        var userEnvironment: [String: String] = [:]
    }

    /// Where things appear inside a bubblewrap sandbox.
    enum Inside {
        static let workspace = "/workspace"
        static let bridge = "/opt/dispatch/bin/dispatch-bridge"
        static let hostname = "dispatch-sandbox"
        /// System folders bound read-only when they exist (a symlink is recreated as the same symlink).
        static let systemFolders = ["/usr", "/bin", "/sbin", "/lib", "/lib32", "/lib64", "/libx32", "/etc"]
    }

    init(config: ProviderConfig, paths: SandboxPaths, session: Session) {
        let workspace: String
        switch config.isolation {
        case .bubblewrap: workspace = Inside.workspace
        case .none: workspace = paths.workspace
        }
        environment = Self.environment(config: config, session: session, workspace: workspace)
        switch config.isolation {
        case .bubblewrap(let bwrap):
            arguments = Self.bubblewrap(bwrap, config: config, paths: paths)
            directory = nil
        case .none:
            arguments = [config.bridgePath]
            directory = paths.workspace
        }
    }

    static func environment(config: ProviderConfig, session: Session, workspace: String) -> [String: String] {
        var gitUser: JSON = .null
        if session.gitUserName != nil || session.gitUserEmail != nil {
            gitUser = ["name": JSON(session.gitUserName), "email": JSON(session.gitUserEmail)]
        }
        var sessionConfig: JSON = [
            "session_id": .string(session.sessionID), "repo_owner": .string(session.repoOwner),
            "repo_name": .string(session.repoName), "provider": JSON(session.provider), "model": JSON(session.model),
        ]
        if !gitUser.isNull { sessionConfig[set: "git_user"] = gitUser }
        var environment = [
            "SANDBOX_ID": session.sandboxID,
            "SESSION_ID": session.sessionID,
            "CONTROL_PLANE_URL": session.controlPlaneURL.text,
            "SANDBOX_AUTH_TOKEN": session.sandboxAuthToken,
            "REPO_OWNER": session.repoOwner,
            "REPO_NAME": session.repoName,
            "WORKSPACE": workspace,
            "AGENT": session.agent.rawValue,
            "SESSION_CONFIG": sessionConfig.text,
            "GIT_PUSH_URL_TEMPLATE": config.gitPushURLTemplate,
            "HEARTBEAT_INTERVAL_SECONDS": config.heartbeatIntervalSeconds,
        ]
        if session.restored { environment["RESTORED_FROM_SNAPSHOT"] = "true" }
        if session.agent == .opencode { environment["OPENCODE_URL"] = config.openCodeURL }
        // The request parser refused reserved names; the sandbox's own values win regardless.
        environment.merge(session.userEnvironment) { own, _ in own }
        return environment
    }

    /// bwrap: own pid, ipc, uts, cgroup and mount namespaces, all capabilities dropped, killed with the
    /// runtime (`--die-with-parent`); read-only system folders, the Swift runtime libraries and the
    /// bridge; the workspace read-write at /workspace and a private /tmp. The network is shared: the
    /// bridge reaches the control plane on loopback. `env -u PWD` undoes the one variable bwrap adds.
    static func bubblewrap(_ bwrap: String, config: ProviderConfig, paths: SandboxPaths) -> [String] {
        var arguments = [bwrap, "--die-with-parent", "--new-session", "--unshare-pid", "--unshare-ipc", "--unshare-uts",
                         "--unshare-cgroup-try", "--cap-drop", "ALL", "--hostname", Inside.hostname]
        let files = FileManager.default
        for folder in Inside.systemFolders {
            if let target = try? files.destinationOfSymbolicLink(atPath: folder) {
                arguments += ["--symlink", target, folder]
            } else if files.fileExists(atPath: folder) {
                arguments += ["--ro-bind", folder, folder]
            }
        }
        arguments += ["--proc", "/proc", "--dev", "/dev", "--bind", paths.tmp, "/tmp"]
        for path in config.readOnlyPaths where files.fileExists(atPath: path) {
            arguments += ["--ro-bind", path, path]
        }
        arguments += ["--ro-bind", config.bridgePath, Inside.bridge,
                      "--bind", paths.workspace, Inside.workspace, "--chdir", Inside.workspace,
                      "--", "/usr/bin/env", "-u", "PWD", Inside.bridge]
        return arguments
    }
}
