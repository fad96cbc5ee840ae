import Foundation
import Testing

/// The web app in a real browser (issue "Show"): headless Chromium driven by Selenium and chromedriver
/// (Tests/Python/browser_session.py) against the runtime with the control plane, the local sandbox
/// provider running the real bridge with the shell agent, and the web app signing in through the fake
/// GitHub OAuth server. The script checks each step itself and prints PASS/FAIL lines; screenshots of
/// the session list and the session page go to test-output/screenshots/.
@Suite("Web app in a browser", .serialized, .timeLimit(.minutes(8)))
struct WebBrowserTests {
    @Test("sign in via OAuth, create a session, stream a shell command's output live, a second user sees presence and the same output, an unlisted user is denied")
    func browserSession() async throws {
        let scratch = NSTemporaryDirectory() + "web-browser-" + UUID().uuidString
        try FileManager.default.createDirectory(atPath: scratch, withIntermediateDirectories: true)
        _ = try Fixtures.bareRepository(root: scratch + "/repos", owner: "acme", name: "widgets")
        let world = try await offPool {
            try WebWorld(webVars: ["ALLOWED_USERS": "alice,bob"], controlPlaneVars: ["HEARTBEAT_STALE_MS": "600000"],
                         withProvider: ["REPO_URL_TEMPLATE": scratch + "/repos/{owner}/{name}.git",
                                        "BRIDGE_PATH": try DispatchBinaries.bridge(), "SANDBOX_ROOT": scratch + "/sandboxes"])
        }
        defer { world.stop() }
        let screenshots = RuntimeWorld.repoRoot() + "/test-output/screenshots"
        try FileManager.default.createDirectory(atPath: screenshots, withIntermediateDirectories: true)
        for name in ["session-list.png", "session-page.png"] { try? FileManager.default.removeItem(atPath: screenshots + "/" + name) }

        let run = try await offPool {
            try BrowserScript.run(["--base", world.baseURL, "--screenshots", screenshots, "--repo", "acme/widgets"],
                                  timeoutSeconds: 300)
        }
        #expect(run.status == 0, "browser_session.py failed:\n\(run.output)\n--- runtime log (tail) ---\n\(world.runtime.serverLog().suffix(4000))")
        for step in ["signed in through GitHub OAuth", "saved a secret on the secrets page", "created an automation", "edited the automation", "output streamed while running",
                     "bob sees alice's presence",
                     "an unlisted user is denied", "ALL PASSED"] {
            #expect(run.output.contains(step), "missing step: \(step)")
        }
        for name in ["session-list.png", "session-page.png"] {
            let size = (try? FileManager.default.attributesOfItem(atPath: screenshots + "/" + name)[.size] as? Int) ?? 0
            #expect(size > 10_000, "screenshot \(name) was not written")
        }
    }
}

extension WebBrowserTests {
    @Test("the session page's question cards, grouped tool calls described by kind, the Tasks and Files changed panels, PR link and Stop against a scripted sandbox, and a reconnect with replay after an unclean drop")
    func interactiveParts() async throws {
        let scratch = NSTemporaryDirectory() + "web-scripted-" + UUID().uuidString
        try FileManager.default.createDirectory(atPath: scratch, withIntermediateDirectories: true)
        _ = try Fixtures.bareRepository(root: scratch + "/repos", owner: "acme", name: "widgets")
        // The sandbox process only sleeps: the browser script plays its bridge.
        let sleeper = scratch + "/sleeper.sh"
        try "#!/bin/sh\nexec sleep 600\n".write(toFile: sleeper, atomically: true, encoding: .utf8)
        try FileManager.default.setAttributes([.posixPermissions: 0o755], ofItemAtPath: sleeper)
        let world = try await offPool {
            try WebWorld(controlPlaneVars: ["HEARTBEAT_STALE_MS": "600000"],
                         withProvider: ["REPO_URL_TEMPLATE": scratch + "/repos/{owner}/{name}.git", "BRIDGE_PATH": sleeper,
                                        "SANDBOX_ROOT": scratch + "/sandboxes"])
        }
        defer { world.stop() }
        let screenshots = RuntimeWorld.repoRoot() + "/test-output/screenshots"
        try FileManager.default.createDirectory(atPath: screenshots, withIntermediateDirectories: true)
        let run = try await offPool {
            try BrowserScript.run(["--runtime", world.baseURL, "--screenshots", screenshots], script: "browser_scripted.py",
                                  timeoutSeconds: 240)
        }
        #expect(run.status == 0, "browser_scripted.py failed:\n\(run.output)\n--- runtime log (tail) ---\n\(world.runtime.serverLog().suffix(4000))")
        for step in ["question card's answer reached the sandbox", "grouped", "tools are described by kind",
                     "the compare link, then the PR link, are shown", "a follow-up waited its turn", "Stop reached the sandbox", "reconnected by itself", "ALL PASSED"] {
            #expect(run.output.contains(step), "missing step: \(step)")
        }
    }
}

/// Runs a Python browser driver to its end, killing it past the timeout. Its output goes to a file,
/// not a pipe: a Chromium child left behind by a killed driver would hold a pipe open forever.
enum BrowserScript {
    static func run(_ arguments: [String], script: String = "browser_session.py", timeoutSeconds: Int) throws
        -> (status: Int32, output: String) {
        let log = NSTemporaryDirectory() + "browser-session-\(UUID().uuidString).log"
        _ = FileManager.default.createFile(atPath: log, contents: nil)
        let handle = try FileHandle(forWritingTo: URL(fileURLWithPath: log))
        defer { try? FileManager.default.removeItem(atPath: log) }
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        process.arguments = ["python3", RuntimeWorld.repoRoot() + "/Tests/Python/" + script] + arguments
        process.standardOutput = handle
        process.standardError = handle
        process.standardInput = FileHandle.nullDevice
        try process.run()
        let deadline = Date().addingTimeInterval(TimeInterval(timeoutSeconds))
        while process.isRunning, Date() < deadline { usleep(100_000) }
        var timedOut = false
        if process.isRunning {
            timedOut = true
            kill(process.processIdentifier, SIGKILL)
        }
        process.waitUntilExit()
        try? handle.close()
        let output = (try? String(contentsOfFile: log, encoding: .utf8)) ?? ""
        return (process.terminationStatus, output + (timedOut ? "\n(killed after \(timeoutSeconds) s)" : ""))
    }
}
