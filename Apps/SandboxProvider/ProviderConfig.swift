import Foundation
import RuntimeAPI

/// The provider's settings, read from the app's vars (`app.jsonc`, or `runtime deploy --var`). Vars are
/// fixed per deployed version, so one value serves the whole life of a loaded version.
struct ProviderConfig: Sendable, Equatable {
    /// Where sandboxes, snapshots and records live (`SANDBOX_ROOT`).
    var root: String
    /// Clone URL with `{owner}` and `{name}` (`REPO_URL_TEMPLATE`).
    var repoURLTemplate: String
    /// The `dispatch-bridge` executable (`BRIDGE_PATH`, else beside the runtime executable).
    var bridgePath: String
    /// Hard lifetime of a sandbox (`SANDBOX_TIMEOUT_SECONDS`).
    var sandboxTimeout: Duration
    var sandboxTimeoutSeconds: Int
    /// `host[:port]` entries a `control_plane_url` must match (`ALLOWED_CONTROL_PLANE_HOSTS`).
    var allowedControlPlaneHosts: [ControlPlaneURL.AllowedHost]
    /// How sandboxes are confined.
    var isolation: Isolation
    /// Host paths bound read-only at the same path into a bubblewrap sandbox, besides the system
    /// directories: the Swift runtime libraries the bridge links against, and `SANDBOX_READONLY_PATHS`.
    var readOnlyPaths: [String]
    /// Handed to the bridge as-is.
    var gitPushURLTemplate: String
    var heartbeatIntervalSeconds: String
    var openCodeURL: String
    /// Most sandboxes alive at once (`MAX_SANDBOXES`).
    var maxSandboxes: Int

    enum Isolation: Sendable, Equatable {
        /// bubblewrap at this path.
        case bubblewrap(String)
        /// Unconfined processes (bwrap missing, or `SANDBOX_ISOLATION=none`).
        case none

        var name: String {
            switch self {
            case .bubblewrap: "bubblewrap"
            case .none: "none"
            }
        }
    }

    enum Defaults {
        static let repoURLTemplate = "https://github.com/{owner}/{name}.git"
        static let gitPushURLTemplate = "https://x-access-token:{token}@github.com/{owner}/{name}.git"
        static let sandboxTimeoutSeconds = 7200
        static let heartbeatIntervalSeconds = "30"
        static let openCodeURL = "http://127.0.0.1:4096"
        static let maxSandboxes = 32
        static let rootFolderName = "dispatch-sandbox-provider"
        /// Where bwrap is looked for when `SANDBOX_ISOLATION` is `auto` or `bubblewrap`.
        static let bwrapSearchPath = ["/usr/bin/bwrap", "/usr/local/bin/bwrap", "/bin/bwrap"]
    }

    /// A var that does not parse: the provider answers 500 naming it, rather than guess.
    struct Invalid: Error, CustomStringConvertible {
        let description: String
    }

    init(vars: [String: String]) throws(Invalid) {
        func value(_ name: String) -> String? {
            guard let text = vars[name]?.trimmingCharacters(in: .whitespaces), !text.isEmpty else { return nil }
            return text
        }
        root = value("SANDBOX_ROOT") ?? (NSTemporaryDirectory() + Defaults.rootFolderName)
        guard root.hasPrefix("/") else { throw Invalid(description: "SANDBOX_ROOT must be an absolute path, not \(root)") }
        repoURLTemplate = value("REPO_URL_TEMPLATE") ?? Defaults.repoURLTemplate
        bridgePath = value("BRIDGE_PATH") ?? Self.besideRuntime("dispatch-bridge")
        sandboxTimeoutSeconds = Defaults.sandboxTimeoutSeconds
        if let text = value("SANDBOX_TIMEOUT_SECONDS") {
            guard let seconds = Int(text), seconds > 0 else {
                throw Invalid(description: "SANDBOX_TIMEOUT_SECONDS must be a positive number of seconds, not \(text)")
            }
            sandboxTimeoutSeconds = seconds
        }
        sandboxTimeout = .seconds(sandboxTimeoutSeconds)
        maxSandboxes = Defaults.maxSandboxes
        if let text = value("MAX_SANDBOXES") {
            guard let count = Int(text), count > 0 else { throw Invalid(description: "MAX_SANDBOXES must be a positive number, not \(text)") }
            maxSandboxes = count
        }
        do {
            allowedControlPlaneHosts = try ControlPlaneURL.parseAllowList(vars["ALLOWED_CONTROL_PLANE_HOSTS"] ?? "")
        } catch {
            throw Invalid(description: "ALLOWED_CONTROL_PLANE_HOSTS: \(error)")
        }
        switch value("SANDBOX_ISOLATION") ?? "auto" {
        case "auto":
            isolation = Self.findBubblewrap().map { .bubblewrap($0) } ?? .none
        case "bubblewrap":
            guard let path = Self.findBubblewrap() else {
                throw Invalid(description: "SANDBOX_ISOLATION is bubblewrap but bwrap is not installed (apt-get install bubblewrap)")
            }
            isolation = .bubblewrap(path)
        case "none":
            isolation = .none
        case let other:
            throw Invalid(description: "SANDBOX_ISOLATION must be auto, bubblewrap or none, not \(other)")
        }
        var paths = Self.swiftRuntimeLibraryDirectory().map { [$0] } ?? []
        for item in (value("SANDBOX_READONLY_PATHS") ?? "").split(separator: ",") {
            let path = item.trimmingCharacters(in: .whitespaces)
            guard path.hasPrefix("/") else { throw Invalid(description: "SANDBOX_READONLY_PATHS: \(path) is not an absolute path") }
            paths.append(path)
        }
        readOnlyPaths = paths
        gitPushURLTemplate = value("GIT_PUSH_URL_TEMPLATE") ?? Defaults.gitPushURLTemplate
        heartbeatIntervalSeconds = value("HEARTBEAT_INTERVAL_SECONDS") ?? Defaults.heartbeatIntervalSeconds
        guard let heartbeat = Int(heartbeatIntervalSeconds), heartbeat > 0 else {
            throw Invalid(description: "HEARTBEAT_INTERVAL_SECONDS must be a positive number, not \(heartbeatIntervalSeconds)")
        }
        openCodeURL = value("OPENCODE_URL") ?? Defaults.openCodeURL
    }

    var sandboxesDirectory: String { root + "/sandboxes" }
    var snapshotsDirectory: String { root + "/snapshots" }

    /// `name` in the directory of the running executable (the runtime), via /proc/self/exe.
    static func besideRuntime(_ name: String) -> String {
        let executable = (try? FileManager.default.destinationOfSymbolicLink(atPath: "/proc/self/exe")) ?? CommandLine.arguments[0]
        return URL(fileURLWithPath: executable).deletingLastPathComponent().path + "/" + name
    }

    static func findBubblewrap() -> String? {
        Defaults.bwrapSearchPath.first { FileManager.default.isExecutableFile(atPath: $0) }
    }

    /// The folder of the Swift runtime libraries this process loaded (libswiftCore.so): the bridge is
    /// built by the same toolchain and links against the same folder.
    static func swiftRuntimeLibraryDirectory() -> String? {
        guard let bytes = ProcFile.read("/proc/self/maps") else { return nil }
        let maps = String(decoding: bytes, as: UTF8.self)
        for line in maps.split(separator: "\n") where line.hasSuffix("/libswiftCore.so") {
            guard let slash = line.firstIndex(of: "/") else { continue }
            return URL(fileURLWithPath: String(line[slash...])).deletingLastPathComponent().path
        }
        return nil
    }
}
