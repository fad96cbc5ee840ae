import Foundation
import Testing
#if canImport(Glibc)
import Glibc
#endif

/// The `shell` agent end to end: a prompt's command runs in the workspace, its output streams as
/// cumulative tokens in order, and exactly one `execution_complete` ends it (success, failure, stop);
/// prompts queue while commands keep being handled.
@Suite("Bridge: shell agent", .timeLimit(.minutes(2)))
struct BridgeShellTests {
    /// The `token` contents of one prompt, in order.
    static func tokens(_ world: BridgeTestWorld, _ messageId: String) -> [String] {
        world.controlPlane.frames("token", messageId: messageId).compactMap { $0["content"] as? String }
    }

    @Test("streams stdout and stderr in order as cumulative text, with the author's git identity, and completes")
    func streamsAndCompletes() async throws {
        try await BridgeTestWorld.with(gitRepository: true) { world in
            let bridge = try world.startBridge()
            try await world.waitForReady()
            let command = "echo one; sleep 0.2; echo two >&2; sleep 0.2; echo three; git config user.name; pwd"
            try world.prompt("m1", command, author: ["userId": "u1", "githubName": "Ada Lovelace",
                                                    "githubEmail": "ada@example.com"])
            let done = try await world.controlPlane.waitForFrame("execution_complete", messageId: "m1")
            #expect(done["success"] as? Bool == true)
            #expect(done["error"] == nil)

            let expected = "one\ntwo\nthree\nAda Lovelace\n\(world.workspace)\n"
            let tokens = Self.tokens(world, "m1")
            #expect(tokens.last == expected, "the final text is all the output: \(tokens)")
            #expect(tokens.count >= 2, "the output streamed in several tokens: \(tokens)")
            for (earlier, later) in zip(tokens, tokens.dropFirst()) {
                #expect(later.hasPrefix(earlier), "each token holds the text so far: \(earlier.debugDescription) then \(later.debugDescription)")
            }
            let partIds = Set(world.controlPlane.frames("token", messageId: "m1").compactMap { $0["partId"] as? String })
            #expect(partIds.count == 1)

            let sequence = world.controlPlane.frames(of: "m1").map { frame -> String in
                let type = frame["type"] as? String ?? "?"
                return type == "tool_call" ? "tool_call:\(frame["status"] as? String ?? "?")" : type
            }
            let withoutTokens = sequence.filter { $0 != "token" }
            #expect(withoutTokens == ["tool_call:running", "tool_call:completed", "execution_complete"])
            #expect(sequence.firstIndex(of: "token")! > sequence.firstIndex(of: "tool_call:running")!)
            #expect(sequence.lastIndex(of: "token")! < sequence.firstIndex(of: "tool_call:completed")!)
            let calls = world.controlPlane.frames("tool_call", messageId: "m1")
            #expect(calls.first?["tool"] as? String == "bash")
            #expect((calls.first?["args"] as? [String: Any])?["command"] as? String == command)
            #expect(calls.last?["output"] as? String == "exit status 0")
            #expect(calls.first?["callId"] as? String == calls.last?["callId"] as? String)

            #expect(try world.git(["config", "--local", "user.email"]) == "ada@example.com")
            #expect(try await world.shutDown(bridge) == 0)
        }
    }

    @Test("a non-zero exit completes with success false, the exit status as the error, the output kept")
    func failingCommand() async throws {
        try await BridgeTestWorld.with { world in
            let bridge = try world.startBridge()
            try await world.waitForReady()
            try world.prompt("m-fail", "echo about to fail; exit 3")
            let done = try await world.controlPlane.waitForFrame("execution_complete", messageId: "m-fail")
            #expect(done["success"] as? Bool == false)
            #expect(done["error"] as? String == "exit status 3")
            #expect(Self.tokens(world, "m-fail").last == "about to fail\n")
            let finished = world.controlPlane.frames("tool_call", messageId: "m-fail").last
            #expect(finished?["status"] as? String == "error")
            #expect(finished?["output"] as? String == "exit status 3")
            #expect(try await world.shutDown(bridge) == 0)
        }
    }

    @Test("stop ends a long sleep and its background children; execution_complete says stopped, once")
    func stopKillsTheGroup() async throws {
        try await BridgeTestWorld.with { world in
            let bridge = try world.startBridge()
            try await world.waitForReady()
            try world.prompt("m-sleep", "sleep 120 & echo child $!; wait; echo never")
            let child = try await bridgeTestWait("the background sleep's pid", context: { world.describe() }) {
                Self.tokens(world, "m-sleep").last.flatMap { text -> Int32? in
                    guard let range = text.range(of: "child ") else { return nil }
                    return Int32(text[range.upperBound...].prefix { $0.isNumber })
                }
            }
            #expect(Self.isAlive(child))
            try world.controlPlane.send(["type": "stop"])
            let done = try await world.controlPlane.waitForFrame("execution_complete", messageId: "m-sleep", timeout: .seconds(10))
            #expect(done["success"] as? Bool == false)
            #expect(done["error"] as? String == "stopped")
            try await bridgeTestWait("the background sleep to be gone") { Self.isAlive(child) ? nil : true }
            #expect(!(Self.tokens(world, "m-sleep").last ?? "").contains("never"))

            // The bridge goes on: the next prompt runs, and nothing more arrives for the stopped one.
            try world.prompt("m-next", "echo next")
            try await world.controlPlane.waitForFrame("execution_complete", messageId: "m-next")
            #expect(world.controlPlane.frames("execution_complete", messageId: "m-sleep").count == 1)
            #expect(try await world.shutDown(bridge) == 0)
        }
    }

    @Test("while a prompt runs: push, a repeated prompt and a second prompt are handled; the second waits its turn")
    func commandsWhileRunning() async throws {
        try await BridgeTestWorld.with(gitRepository: true) { world in
            let remote = world.root + "/remote.git"
            try world.git(["init", "-q", "--bare", remote])
            let bridge = try world.startBridge(["GIT_PUSH_URL_TEMPLATE": remote])
            try await world.waitForReady()
            let gate = world.root + "/tmp/go"
            try world.prompt("m-first", "echo waiting; while [ ! -f '\(gate)' ]; do sleep 0.05; done; echo first done")
            try await world.controlPlane.waitForFrame("tool_call", messageId: "m-first")
            try world.prompt("m-second", "echo second")
            try world.prompt("m-first", "echo this must not run")
            try world.controlPlane.send(["type": "question_reply", "requestId": "que_x", "answers": [["Yes"]]])
            try world.controlPlane.send(["type": "push", "branchName": BridgeTestWorld.branch, "repoOwner": "acme",
                                         "repoName": "widgets", "githubToken": "ghs_unused"])
            let pushed = try await world.controlPlane.waitForFrame("push_complete")
            #expect(pushed["branchName"] as? String == BridgeTestWorld.branch)
            #expect(world.controlPlane.frames("execution_complete").isEmpty, "the first prompt still runs")
            #expect(world.controlPlane.frames(of: "m-second").isEmpty, "the second prompt waits")

            try Data().write(to: URL(fileURLWithPath: gate))
            try await world.controlPlane.waitForFrame("execution_complete", messageId: "m-second")
            let frames = world.controlPlane.frames
            let firstDone = try #require(frames.firstIndex { $0["type"] as? String == "execution_complete" && $0["messageId"] as? String == "m-first" })
            let secondStarts = try #require(frames.firstIndex { $0["messageId"] as? String == "m-second" })
            #expect(firstDone < secondStarts, "the second prompt started after the first completed")
            #expect(world.controlPlane.frames("execution_complete", messageId: "m-first").count == 1)
            #expect(Self.tokens(world, "m-first").last == "waiting\nfirst done\n", "the repeated prompt did not run")
            #expect(Self.tokens(world, "m-second").last == "second\n")
            #expect(try await world.shutDown(bridge) == 0)
        }
    }

    @Test("shutdown during a prompt ends it as stopped, then the bridge exits 0")
    func shutdownStopsThePrompt() async throws {
        try await BridgeTestWorld.with { world in
            let bridge = try world.startBridge()
            try await world.waitForReady()
            try world.prompt("m-long", "echo started; sleep 120")
            try await bridgeTestWait("the prompt's output") { Self.tokens(world, "m-long").isEmpty ? nil : true }
            #expect(try await world.shutDown(bridge) == 0)
            let done = world.controlPlane.frames("execution_complete", messageId: "m-long")
            #expect(done.count == 1)
            #expect(done.first?["error"] as? String == "stopped")
        }
    }

    /// True while `pid` exists and is not a zombie (an orphan may wait for a reaper that never comes).
    static func isAlive(_ pid: Int32) -> Bool {
        guard kill(pid, 0) == 0 else { return false }
        guard let stat = try? String(contentsOfFile: "/proc/\(pid)/stat", encoding: .utf8),
              let close = stat.lastIndex(of: ")") else { return true }
        return stat[stat.index(after: close)...].trimmingCharacters(in: .whitespaces).first != "Z"
    }
}
