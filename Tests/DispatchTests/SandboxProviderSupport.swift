import Foundation
import RuntimeCrypto
import Testing

/// A runtime with Apps/SandboxProvider deployed, a local bare repository to clone, and a stand-in for
/// `dispatch-bridge`: a shell script that records its environment, its working directory and which host
/// paths it can see into the workspace, then sleeps (so tests can find its processes and watch them die).
final class ProviderWorld: @unchecked Sendable {
    /// The world of the suite running now (see `ProviderWorldTrait`).
    @TaskLocal static var current: ProviderWorld?

    /// Longest wait for anything a sandbox does (start, die, disappear).
    static let sandboxTimeout: Duration = .seconds(30)
    /// The files the stand-in bridge writes into its workspace, suffixed with `-<SANDBOX_ID>` (a restored
    /// workspace still holds the files of the bridge it was archived from).
    static let environmentFile = ".bridge-env"
    static let probeFile = ".bridge-probe"
    static let directoryFile = ".bridge-cwd"
    /// The names Apps/DISPATCH.md gives every bridge (RESTORED_FROM_SNAPSHOT and OPENCODE_URL come on top when they apply).
    static let contractNames: Set<String> = [
        "SANDBOX_ID", "SESSION_ID", "CONTROL_PLANE_URL", "SANDBOX_AUTH_TOKEN", "REPO_OWNER", "REPO_NAME", "WORKSPACE", "AGENT",
        "SESSION_CONFIG", "GIT_PUSH_URL_TEMPLATE", "HEARTBEAT_INTERVAL_SECONDS",
    ]

    /// A repository whose stand-in bridge fails at once (it prints `crashingBridgeSays` and exits 3).
    static let crashingRepository = "crashing"
    static let crashingBridgeSays = "fake bridge: cannot start"

    let runtime: RuntimeWorld
    let secret = "sandbox-api-secret-" + UUID().uuidString
    let sandboxRoot: String
    let bridgeScript: String
    /// `README.md` of the test repository (unique per world).
    let readme = "widgets " + UUID().uuidString + "\n"
    /// Host paths the stand-in bridge reports as visible or hidden: the state directory, the repository
    /// and /root (hidden under bubblewrap), and the Swift runtime libraries (visible: the bridge needs them).
    let probedPaths: [String]

    var controlPlaneURL: String { "http://127.0.0.1:\(runtime.port)" }

    /// `vars` replace the defaults (allowlist = this runtime, root, bridge, repository template);
    /// `sandboxRoot` defaults to a folder of the runtime world's own.
    init(vars: [String: String] = [:], sandboxRoot: String? = nil, putSecret: Bool = true) throws {
        runtime = try RuntimeWorld()
        do {
            self.sandboxRoot = sandboxRoot ?? runtime.root + "/sandbox-root"
            bridgeScript = runtime.root + "/fake-bridge.sh"
            probedPaths = [runtime.stateDirectory, RuntimeWorld.repoRoot(), "/root"] + (Self.swiftLibraryDirectory().map { [$0] } ?? [])
            let repos = runtime.root + "/repos"
            try Self.makeRepository(at: repos + "/acme/widgets.git", readme: readme, scratch: runtime.root + "/repo-source")
            try Self.makeRepository(at: repos + "/acme/\(Self.crashingRepository).git", readme: readme,
                                    scratch: runtime.root + "/repo-source-crashing")
            try Self.fakeBridge(probing: probedPaths).write(toFile: bridgeScript, atomically: true, encoding: .utf8)
            chmod(bridgeScript, 0o755)
            if putSecret { try runtime.putSecret("sandbox-provider", "SANDBOX_API_SECRET", secret) }
            var all = ["ALLOWED_CONTROL_PLANE_HOSTS": "127.0.0.1:\(runtime.port)", "SANDBOX_ROOT": self.sandboxRoot,
                       "BRIDGE_PATH": bridgeScript, "REPO_URL_TEMPLATE": repos + "/{owner}/{name}.git"]
            all.merge(vars) { _, given in given }
            try runtime.deploy(RuntimeWorld.repoRoot() + "/Apps/SandboxProvider", vars: all)
        } catch {
            runtime.stop()
            throw error
        }
    }

    func stop() { runtime.stop() }

    // MARK: - Calls

    /// The service bearer (reference §1.15), made here independently of Apps/Shared.
    func token(at milliseconds: Int64 = Int64(Date().timeIntervalSince1970 * 1000), secret: String? = nil) -> String {
        let stamp = String(milliseconds)
        return "Bearer " + stamp + "." + Hex.encode(Digest.hmacSHA256(key: Array((secret ?? self.secret).utf8), Array(stamp.utf8)))
    }

    /// `POST /sandbox-provider<route>` with a JSON body and a fresh token (unless `authorization` is given).
    func post(_ route: String, _ body: [String: Any], authorization: String? = nil) async throws -> TestHTTPResponse {
        try await post(route, bytes: Array(try JSONSerialization.data(withJSONObject: body)), authorization: authorization)
    }

    func post(_ route: String, bytes: [UInt8], authorization: String? = nil) async throws -> TestHTTPResponse {
        try await runtime.request("POST", "/sandbox-provider" + route,
                                  headers: ["Content-Type": "application/json", "Authorization": authorization ?? token()], body: bytes)
    }

    func createBody(session: String, sandboxID: String, repo: String = "widgets") -> [String: Any] {
        ["session_id": session, "sandbox_id": sandboxID, "repo_owner": "acme", "repo_name": repo,
         "control_plane_url": controlPlaneURL, "sandbox_auth_token": "token-" + sandboxID, "provider": "anthropic",
         "model": "claude-haiku-4-5", "git_user_name": "Alice Example", "git_user_email": "alice@example.com"]
    }

    /// Creates a sandbox and returns its handle (`modal_object_id`).
    func create(session: String, sandboxID: String) async throws -> String {
        let response = try await post("/sandbox/create", createBody(session: session, sandboxID: sandboxID))
        let data = try #require(Self.data(response), "create: \(response.status) \(response.text)")
        return try #require(data["modal_object_id"] as? String)
    }

    // MARK: - Looking at sandboxes

    func sandboxDirectory(_ handle: String) -> String { sandboxRoot + "/sandboxes/" + handle }
    func workspace(_ handle: String) -> String { sandboxDirectory(handle) + "/workspace" }

    /// Waits for the stand-in bridge of `handle` (told `sandboxID`) to have started, and returns the
    /// environment it got.
    func bridgeEnvironment(_ handle: String, sandboxID: String) async throws -> [String: String] {
        let path = workspace(handle) + "/" + Self.environmentFile + "-" + sandboxID
        try await Self.waitUntil("the bridge of \(handle) writes \(Self.environmentFile)") {
            FileManager.default.fileExists(atPath: path)
        }
        var environment: [String: String] = [:]
        for line in try String(contentsOfFile: path, encoding: .utf8).split(separator: "\n") {
            guard let equals = line.firstIndex(of: "=") else { continue }
            environment[String(line[..<equals])] = String(line[line.index(after: equals)...])
        }
        return environment
    }

    func workspaceFile(_ handle: String, _ name: String) -> String? {
        try? String(contentsOfFile: workspace(handle) + "/" + name, encoding: .utf8)
    }

    /// Host pids of every process whose environment says `SANDBOX_ID=<sandboxID>` (bwrap, the script, sleep).
    static func processes(of sandboxID: String) -> [Int32] {
        let marker = Array("SANDBOX_ID=\(sandboxID)".utf8)
        let me = getpid()
        return ((try? FileManager.default.contentsOfDirectory(atPath: "/proc")) ?? []).compactMap { name in
            guard let pid = Int32(name), pid != me,
                  let environ = readProcFile("/proc/\(pid)/environ") else { return nil }
            // A zombie has no environment any more, and is dead already.
            return environ.split(separator: 0).contains { Array($0) == marker } ? pid : nil
        }
    }

    /// A pid and its start time (`/proc/<pid>/stat` field 22), which tells it from a later process with the same pid.
    static func identity(_ pid: Int32) -> (pid: Int32, start: String)? {
        guard let data = readProcFile("/proc/\(pid)/stat") else { return nil }
        let text = String(decoding: data, as: UTF8.self)
        guard let close = text.lastIndex(of: ")") else { return nil }
        let fields = text[text.index(after: close)...].split(separator: " ")
        return fields.count > 19 ? (pid, String(fields[19])) : nil
    }

    /// True while that very process exists (running or a zombie).
    static func exists(_ process: (pid: Int32, start: String)) -> Bool { identity(process.pid)?.start == process.start }

    /// The folder of the Swift runtime libraries this test process loaded (the runtime and the bridge
    /// are built by the same toolchain).
    static func swiftLibraryDirectory() -> String? {
        guard let maps = readProcFile("/proc/self/maps") else { return nil }
        for line in String(decoding: maps, as: UTF8.self).split(separator: "\n") where line.hasSuffix("/libswiftCore.so") {
            guard let slash = line.firstIndex(of: "/") else { continue }
            return URL(fileURLWithPath: String(line[slash...])).deletingLastPathComponent().path
        }
        return nil
    }

    /// A /proc file read whole (Foundation's whole-file readers stop after its first page).
    static func readProcFile(_ path: String) -> Data? {
        guard let handle = FileHandle(forReadingAtPath: path) else { return nil }
        defer { try? handle.close() }
        return try? handle.readToEnd() ?? Data()
    }

    /// The pid namespace of a process (`pid:[...]`).
    static func pidNamespace(_ pid: Int32) -> String? {
        try? FileManager.default.destinationOfSymbolicLink(atPath: "/proc/\(pid)/ns/pid")
    }

    // MARK: - Helpers

    /// The envelope's `data` when `success` is true.
    static func data(_ response: TestHTTPResponse) -> [String: Any]? {
        guard let envelope = response.json as? [String: Any], envelope["success"] as? Bool == true else { return nil }
        return envelope["data"] as? [String: Any]
    }

    /// The envelope's `error` when `success` is false.
    static func error(_ response: TestHTTPResponse) -> String? {
        guard let envelope = response.json as? [String: Any], envelope["success"] as? Bool == false else { return nil }
        return envelope["error"] as? String
    }

    struct Timeout: Error, CustomStringConvertible {
        let description: String
    }

    /// Polls `condition` until it holds; throws after `timeout`.
    static func waitUntil(_ what: String, timeout: Duration = sandboxTimeout, _ condition: () throws -> Bool) async throws {
        let deadline = ContinuousClock.now + timeout
        while try !condition() {
            guard ContinuousClock.now < deadline else { throw Timeout(description: "timed out after \(timeout) waiting until \(what)") }
            try await Task.sleep(for: .milliseconds(25))
        }
    }

    /// Sandbox ids differ between runs, so two test processes on one machine never see each other's sandboxes.
    static func uniqueSuffix() -> String { String(UUID().uuidString.prefix(8)).lowercased() }

    static func matches(_ text: String, prefix: String, hexCount: Int) -> Bool {
        guard text.hasPrefix(prefix) else { return false }
        let hex = text.dropFirst(prefix.count)
        return hex.count == hexCount && hex.allSatisfy { $0.isHexDigit && !$0.isUppercase }
    }

    /// A bare repository with one commit of `README.md` on `main`.
    static func makeRepository(at bare: String, readme: String, scratch: String) throws {
        try FileManager.default.createDirectory(atPath: scratch, withIntermediateDirectories: true)
        try FileManager.default.createDirectory(atPath: bare, withIntermediateDirectories: true)
        try git(["init", "--quiet", "--bare", "--initial-branch=main", bare])
        try git(["init", "--quiet", "--initial-branch=main", scratch])
        try readme.write(toFile: scratch + "/README.md", atomically: true, encoding: .utf8)
        try git(["-C", scratch, "add", "README.md"])
        try git(["-C", scratch, "-c", "user.name=Test", "-c", "user.email=test@example.com", "commit", "--quiet", "-m", "first"])
        try git(["-C", scratch, "push", "--quiet", bare, "main"])
    }

    /// Runs git and returns its trimmed output; throws with it when git fails.
    @discardableResult
    static func git(_ arguments: [String]) throws -> String {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        process.arguments = ["git"] + arguments
        let output = Pipe()
        process.standardOutput = output
        process.standardError = output
        try process.run()
        let data = output.fileHandleForReading.readDataToEndOfFile()
        process.waitUntilExit()
        let text = String(decoding: data, as: UTF8.self).trimmingCharacters(in: .whitespacesAndNewlines)
        guard process.terminationStatus == 0 else { throw Timeout(description: "git \(arguments.joined(separator: " ")): \(text)") }
        return text
    }

    /// The stand-in bridge. It writes the probe and its directory first and its environment last (by
    /// rename), so a present environment file means the others are complete.
    static func fakeBridge(probing paths: [String]) -> String {
        let probes = paths.map { "if [ -e '\($0)' ]; then echo \"visible \($0)\"; else echo \"hidden \($0)\"; fi" }
            .joined(separator: "\n    ")
        return """
            #!/bin/sh
            # Test stand-in for dispatch-bridge: records what it got and what it sees, then waits to be killed.
            if [ "$REPO_NAME" = '\(crashingRepository)' ]; then echo '\(crashingBridgeSays)' >&2; exit 3; fi
            {
                \(probes)
            } > "$WORKSPACE/\(probeFile)-$SANDBOX_ID"
            pwd > "$WORKSPACE/\(directoryFile)-$SANDBOX_ID"
            tr '\\0' '\\n' < /proc/$$/environ > "$WORKSPACE/\(environmentFile).partial"
            mv "$WORKSPACE/\(environmentFile).partial" "$WORKSPACE/\(environmentFile)-$SANDBOX_ID"
            exec sleep 3600

            """
    }
}

/// Gives a suite one `ProviderWorld` for all its tests (`ProviderWorld.current`), stopped after the last.
struct ProviderWorldTrait: SuiteTrait, TestScoping {
    let vars: [String: String]

    func provideScope(for test: Test, testCase: Test.Case?, performing function: @Sendable () async throws -> Void) async throws {
        let world = try await offPool { try ProviderWorld(vars: vars) }
        defer { world.stop() }
        try await ProviderWorld.$current.withValue(world) { try await function() }
    }
}

extension Trait where Self == ProviderWorldTrait {
    static func providerWorld(vars: [String: String] = [:]) -> Self { ProviderWorldTrait(vars: vars) }
}
