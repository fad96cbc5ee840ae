/// The rule for names of the agent's secrets, which become environment variables in its sandbox: the
/// control plane checks them when they are stored, the provider again when a sandbox starts.
enum AgentEnvironment {
    static let maxNameBytes = 64

    /// Names the bridge's own environment has (Apps/DISPATCH.md) or that change how programs start.
    static let reservedNames: Set<String> = [
        "SANDBOX_ID", "SESSION_ID", "CONTROL_PLANE_URL", "SANDBOX_AUTH_TOKEN", "REPO_OWNER", "REPO_NAME", "WORKSPACE",
        "AGENT", "SESSION_CONFIG", "GIT_PUSH_URL_TEMPLATE", "HEARTBEAT_INTERVAL_SECONDS", "RESTORED_FROM_SNAPSHOT",
        "OPENCODE_URL", "PATH", "HOME", "USER", "SHELL", "PWD", "LD_PRELOAD", "LD_LIBRARY_PATH",
    ]

    /// Why `name` cannot name a secret, or nil when it can: capital letters, digits and `_`, not
    /// starting with a digit, at most `maxNameBytes`, and not reserved.
    static func problem(withName name: String) -> String? {
        let digits = UInt8(ascii: "0")...UInt8(ascii: "9"), capitals = UInt8(ascii: "A")...UInt8(ascii: "Z")
        guard !name.isEmpty, name.utf8.count <= maxNameBytes else { return "a name has 1 to \(maxNameBytes) characters" }
        guard let first = name.utf8.first, !digits.contains(first),
              name.utf8.allSatisfy({ $0 == UInt8(ascii: "_") || capitals.contains($0) || digits.contains($0) }) else {
            return "\"\(name.prefix(80))\" is not a variable name: capital letters, digits and '_', not starting with a digit (like NPM_TOKEN)"
        }
        if reservedNames.contains(name) { return "\(name) is reserved for the sandbox's own environment" }
        return nil
    }
}
