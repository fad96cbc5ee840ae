import Foundation

/// Everything one bridge test needs, in a fresh temporary folder: a workspace (a git repository when
/// asked), the fake control plane (and fake OpenCode when asked), and the bridges started against them.
/// `BridgeTestWorld.with` always cleans up: bridges killed if still running, fakes stopped, folder removed.
final class BridgeTestWorld: @unchecked Sendable {
    let root: String
    let workspace: String
    let token = "sandbox-token-" + UUID().uuidString
    let sandboxID = "sb-" + UUID().uuidString.prefix(8).lowercased()
    let sessionID = "session-" + UUID().uuidString.prefix(8).lowercased()
    let controlPlane: BridgeTestControlPlane
    let openCode: BridgeTestOpenCode?
    private(set) var bridges: [BridgeTestProcess] = []

    /// The workspace's branch when it is a repository.
    static let branch = "dispatch/test"

    private init(refusals: [(status: Int, count: Int)], gitRepository: Bool, openCode: Bool) throws {
        root = NSTemporaryDirectory() + "bridge-test-" + UUID().uuidString
        workspace = root + "/workspace"
        for directory in [workspace, root + "/tmp", root + "/home"] {
            try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        }
        controlPlane = try BridgeTestControlPlane(token: token, sandboxID: sandboxID, sessionID: sessionID,
                                                  refusals: refusals)
        do {
            self.openCode = openCode ? try BridgeTestOpenCode() : nil
        } catch {
            controlPlane.stop()
            throw error
        }
        if gitRepository {
            try git(["init", "-q", "-b", Self.branch])
            try "hello\n".write(toFile: workspace + "/README.md", atomically: true, encoding: .utf8)
            try git(["add", "README.md"])
            try git(["commit", "-q", "-m", "first"])
        }
    }

    /// Runs `body` with a new world, then cleans up whatever happened.
    static func with(refusals: [(status: Int, count: Int)] = [], gitRepository: Bool = false, openCode: Bool = false,
                     _ body: (BridgeTestWorld) async throws -> Void) async throws {
        let world = try await bridgeTestOffPool {
            try BridgeTestWorld(refusals: refusals, gitRepository: gitRepository, openCode: openCode)
        }
        do {
            try await body(world)
        } catch {
            world.cleanUp()
            throw error
        }
        world.cleanUp()
    }

    func cleanUp() {
        for bridge in bridges { bridge.kill() }
        controlPlane.stop()
        openCode?.stop()
        try? FileManager.default.removeItem(atPath: root)
    }

    /// The environment the provider gives a bridge (Apps/DISPATCH.md), with `overrides` (nil removes).
    func environment(_ overrides: [String: String?] = [:]) -> [String: String] {
        var environment: [String: String] = [
            "PATH": ProcessInfo.processInfo.environment["PATH"] ?? "/usr/bin:/bin",
            "HOME": root + "/home",
            "TMPDIR": root + "/tmp",
            "LANG": "C.UTF-8",
            "SANDBOX_ID": sandboxID,
            "SESSION_ID": sessionID,
            "CONTROL_PLANE_URL": controlPlane.url,
            "SANDBOX_AUTH_TOKEN": token,
            "REPO_OWNER": "acme",
            "REPO_NAME": "widgets",
            "WORKSPACE": workspace,
            "AGENT": openCode == nil ? "shell" : "opencode",
            "SESSION_CONFIG": #"{"session_id":"s","repo_owner":"acme","repo_name":"widgets","provider":"anthropic","model":"claude-default"}"#,
        ]
        if let openCode { environment["OPENCODE_URL"] = openCode.url }
        for (name, value) in overrides { environment[name] = value }
        return environment
    }

    /// Starts a bridge in the workspace.
    @discardableResult
    func startBridge(_ overrides: [String: String?] = [:]) throws -> BridgeTestProcess {
        let bridge = try BridgeTestProcess(environment: environment(overrides), directory: workspace)
        bridges.append(bridge)
        return bridge
    }

    /// Waits for the bridge's `ready` on connection `connection` (1 is the first).
    @discardableResult
    func waitForReady(connection: Int = 1) async throws -> [String: Any] {
        try await controlPlane.waitForFrame("ready") { $0["connection"] as? Int == connection }
    }

    func prompt(_ messageId: String, _ content: String, model: String? = nil, author: [String: String]? = nil) throws {
        var frame: [String: Any] = ["type": "prompt", "messageId": messageId, "content": content]
        if let model { frame["model"] = model }
        if let author { frame["author"] = author }
        try controlPlane.send(frame)
    }

    /// Sends `shutdown` and returns the bridge's exit status.
    func shutDown(_ bridge: BridgeTestProcess) async throws -> Int32 {
        try controlPlane.send(["type": "shutdown"])
        return try await bridge.waitForExit()
    }

    /// Everything the fakes and bridges recorded, for failure messages.
    func describe() -> String {
        controlPlane.describe() + "\n" + (openCode?.describe() ?? "") + "\n"
            + bridges.map { "bridge log:\n" + $0.log.text }.joined(separator: "\n")
    }

    /// Runs git with a fixed identity (in the workspace unless told otherwise); returns its output.
    @discardableResult
    func git(_ arguments: [String], in directory: String? = nil) throws -> String {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        process.arguments = ["git"] + arguments
        process.currentDirectoryURL = URL(fileURLWithPath: directory ?? workspace)
        var environment = ProcessInfo.processInfo.environment
        for (name, value) in ["GIT_AUTHOR_NAME": "Fixture", "GIT_AUTHOR_EMAIL": "fixture@example.com",
                              "GIT_COMMITTER_NAME": "Fixture", "GIT_COMMITTER_EMAIL": "fixture@example.com",
                              "HOME": root + "/home"] {
            environment[name] = value
        }
        process.environment = environment
        let output = Pipe()
        process.standardOutput = output
        process.standardError = output
        try process.run()
        let data = output.fileHandleForReading.readDataToEndOfFile()
        process.waitUntilExit()
        let text = String(decoding: data, as: UTF8.self)
        guard process.terminationStatus == 0 else {
            throw BridgeTestError(description: "git \(arguments.joined(separator: " ")) failed: \(text)")
        }
        return text.trimmingCharacters(in: .whitespacesAndNewlines)
    }
}
