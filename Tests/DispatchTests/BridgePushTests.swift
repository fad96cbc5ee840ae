import Foundation
import Testing

/// `push`: force-pushes HEAD to the current branch of the URL `GIT_PUSH_URL_TEMPLATE` makes (here a local
/// bare repository), and reports failures without the token.
@Suite("Bridge: push", .timeLimit(.minutes(2)))
struct BridgePushTests {
    @Test("pushes HEAD to refs/heads/<current branch> with -f (over a diverged remote) and says push_complete")
    func pushesToTheTemplate() async throws {
        try await BridgeTestWorld.with(gitRepository: true) { world in
            // The template's {owner} and {name} come from the command.
            let remote = world.root + "/remotes/acme-corp/widgets.git"
            try FileManager.default.createDirectory(atPath: remote, withIntermediateDirectories: true)
            try world.git(["init", "-q", "--bare", remote])
            // A commit on the remote's branch that the workspace lacks: only a force push replaces it.
            let other = world.root + "/other"
            try world.git(["clone", "-q", remote, other], in: world.root)
            try world.git(["checkout", "-q", "-b", BridgeTestWorld.branch], in: other)
            try "diverged\n".write(toFile: other + "/other.txt", atomically: true, encoding: .utf8)
            try world.git(["add", "other.txt"], in: other)
            try world.git(["commit", "-q", "-m", "diverged"], in: other)
            try world.git(["push", "-q", "origin", BridgeTestWorld.branch], in: other)

            try "work\n".write(toFile: world.workspace + "/work.txt", atomically: true, encoding: .utf8)
            try world.git(["add", "work.txt"])
            try world.git(["commit", "-q", "-m", "work"])
            let head = try world.git(["rev-parse", "HEAD"])

            let bridge = try world.startBridge(["GIT_PUSH_URL_TEMPLATE": world.root + "/remotes/{owner}/{name}.git"])
            try await world.waitForReady()
            try world.controlPlane.send(["type": "push", "branchName": BridgeTestWorld.branch, "repoOwner": "acme-corp",
                                         "repoName": "widgets", "githubToken": "ghs_not_needed_here"])
            let result = try await bridgeTestWait("push_complete or push_error", context: { world.describe() }) {
                world.controlPlane.frames.first { ["push_complete", "push_error"].contains($0["type"] as? String) }
            }
            #expect(result["type"] as? String == "push_complete", "\(result)")
            #expect(result["branchName"] as? String == BridgeTestWorld.branch)
            #expect(try world.git(["--git-dir", remote, "rev-parse", "refs/heads/\(BridgeTestWorld.branch)"]) == head)
            #expect(try await world.shutDown(bridge) == 0)
        }
    }

    @Test("a failing push says push_error with git's reason, and neither the event nor the log holds the token")
    func failureKeepsTheTokenOut() async throws {
        try await BridgeTestWorld.with(gitRepository: true) { world in
            let token = "ghs_SECRET_" + UUID().uuidString.replacingOccurrences(of: "-", with: "")
            // git names the URL it cannot use, token and all, in its error.
            let bridge = try world.startBridge(["GIT_PUSH_URL_TEMPLATE": world.root + "/nowhere/{token}/{name}.git"])
            try await world.waitForReady()
            try world.controlPlane.send(["type": "push", "branchName": BridgeTestWorld.branch, "repoOwner": "acme",
                                         "repoName": "widgets", "githubToken": token])
            let failure = try await world.controlPlane.waitForFrame("push_error")
            #expect(failure["branchName"] as? String == BridgeTestWorld.branch)
            let error = try #require(failure["error"] as? String)
            #expect(error.contains("git push failed"), "\(error)")
            #expect(error.contains("***"), "git's output is quoted with the token blanked: \(error)")
            #expect(!error.contains(token))
            #expect(!world.controlPlane.output.text.contains(token), "no frame carries the token")
            #expect(!bridge.log.text.contains(token), "the log does not either")

            // A template that needs a token, and a command without one.
            try world.controlPlane.send(["type": "push", "branchName": BridgeTestWorld.branch])
            try await bridgeTestWait("a second push_error") {
                world.controlPlane.frames("push_error").count == 2 ? true : nil
            }
            #expect((world.controlPlane.frames("push_error").last?["error"] as? String)?.contains("githubToken") == true)
            #expect(try await world.shutDown(bridge) == 0)
        }
    }
}
