import Foundation
import Testing

/// The `opencode` agent end to end against Tests/Python/fake_opencode.py, whose turns are scripted by
/// the prompt's text ("scenario:<name>"): the event stream opened before the prompt, ascending message
/// ids, parentID and session filtering, cumulative tokens, tool call dedupe, ports, titles, errors, abort
/// on stop, question replies on the same stream, and the session kept across restarts.
@Suite("Bridge: opencode agent", .timeLimit(.minutes(2)))
struct BridgeOpenCodeTests {
    static func tokens(_ world: BridgeTestWorld, _ messageId: String) -> [String] {
        world.controlPlane.frames("token", messageId: messageId).compactMap { $0["content"] as? String }
    }

    static func toolCalls(_ world: BridgeTestWorld, _ messageId: String) -> [String] {
        world.controlPlane.frames("tool_call", messageId: messageId).map {
            "\($0["callId"] as? String ?? "?"):\($0["status"] as? String ?? "?")"
        }
    }

    @Test("happy path: events before prompt_async, filtered parts, cumulative tokens with the final text, ports, steps, title")
    func happyPath() async throws {
        try await BridgeTestWorld.with(openCode: true) { world in
            let openCode = try #require(world.openCode)
            let bridge = try world.startBridge()
            let ready = try await world.waitForReady()
            #expect(ready["opencodeSessionId"] as? String == "ses_fake1", "the session is made before connecting")

            try world.prompt("m1", "scenario:happy", model: "anthropic/claude-sonnet-4")
            let done = try await world.controlPlane.waitForFrame("execution_complete", messageId: "m1")
            #expect(done["success"] as? Bool == true, "\(done)")

            let prompt = try #require(openCode.requests("POST", "/session/ses_fake1/prompt_async").first)
            #expect((prompt["subscribers"] as? Int ?? 0) >= 1, "GET /event was open before the prompt was posted")
            let body = try #require(prompt["body"] as? [String: Any])
            let userMessageID = try #require(body["messageID"] as? String)
            #expect(userMessageID.hasPrefix("msg_") && userMessageID.count == 30, "\(userMessageID)")
            #expect((body["model"] as? [String: String]) == ["providerID": "anthropic", "modelID": "claude-sonnet-4"])
            #expect(((body["parts"] as? [[String: Any]])?.first?["text"] as? String) == "scenario:happy")
            #expect((prompt["query"] as? String)?.contains("directory=") == true)

            let tokens = Self.tokens(world, "m1")
            #expect(tokens.last == "Hello world", "the final text came from GET /session/{id}/message: \(tokens)")
            #expect(tokens.contains("Hello"))
            for (earlier, later) in zip(tokens, tokens.dropFirst()) {
                #expect(later.hasPrefix(earlier), "cumulative: \(earlier) then \(later)")
            }
            #expect(Set(world.controlPlane.frames("token", messageId: "m1").compactMap { $0["partId"] as? String }) == ["prt_text1"])
            #expect(!world.controlPlane.output.text.contains("NOT OURS"), "another message's parts are dropped")
            #expect(!world.controlPlane.output.text.contains("OTHER SESSION"), "another session's events are dropped")

            #expect(Self.toolCalls(world, "m1") == ["call_1:completed", "call_2:completed"])
            let ports = world.controlPlane.frames("port_detected").compactMap { $0["port"] as? Int }
            #expect(ports == [3000, 8080], "each port once, none below 1024")
            #expect(world.controlPlane.frames("step_start", messageId: "m1").count == 1)
            let step = try #require(world.controlPlane.frames("step_finish", messageId: "m1").first)
            #expect(step["cost"] as? Double == 0.25)
            #expect((step["tokens"] as? [String: Int]) == ["input": 10, "output": 5])
            #expect(step["reason"] as? String == "stop")
            let titles = world.controlPlane.frames("session_title_updated").compactMap { $0["title"] as? String }
            #expect(titles == ["Fix the bug"])
            #expect(world.controlPlane.frames("execution_complete", messageId: "m1").count == 1)
            #expect(world.controlPlane.frames(of: "m1").last?["type"] as? String == "execution_complete")

            // A second prompt: the same session, a later message id.
            try world.prompt("m2", "scenario:quick", model: "claude-short")
            try await world.controlPlane.waitForFrame("execution_complete", messageId: "m2")
            let second = try #require(openCode.requests("POST", "/session/ses_fake1/prompt_async").last?["body"] as? [String: Any])
            let secondID = try #require(second["messageID"] as? String)
            #expect(secondID > userMessageID, "message ids ascend: \(userMessageID) then \(secondID)")
            #expect((second["model"] as? [String: String]) == ["providerID": "anthropic", "modelID": "claude-short"])
            #expect(openCode.requests("POST", "/session").count == 1)
            #expect(try await world.shutDown(bridge) == 0)

            // A new bridge (a restart, or a restored snapshot) keeps the conversation's session.
            let again = try world.startBridge(["RESTORED_FROM_SNAPSHOT": "true"])
            let readyAgain = try await world.waitForReady(connection: 2)
            #expect(readyAgain["opencodeSessionId"] as? String == "ses_fake1")
            #expect(openCode.requests("GET", "/session/ses_fake1").count == 1, "it checked the kept session")
            #expect(openCode.requests("POST", "/session").count == 1, "and made no new one")
            #expect(try await world.shutDown(again) == 0)
        }
    }

    @Test("tool parts: skipped while pending without input, one tool_call per call id and status, task summaries")
    func toolDedupe() async throws {
        try await BridgeTestWorld.with(openCode: true) { world in
            let bridge = try world.startBridge()
            try await world.waitForReady()
            try world.prompt("m-tools", "scenario:tools")
            let done = try await world.controlPlane.waitForFrame("execution_complete", messageId: "m-tools")
            #expect(done["success"] as? Bool == true)
            #expect(Self.toolCalls(world, "m-tools") == [
                "call_a:pending", "call_a:running", "call_a:completed", "call_b:running", "call_b:error",
                "call_t:running", "call_t:running",
            ])
            let calls = world.controlPlane.frames("tool_call", messageId: "m-tools")
            let completed = try #require(calls.first { $0["callId"] as? String == "call_a" && $0["status"] as? String == "completed" })
            #expect(completed["output"] as? String == "contents")
            #expect(completed["tool"] as? String == "read")
            #expect((completed["args"] as? [String: Any])?["filePath"] as? String == "/x")
            #expect(calls.first { $0["status"] as? String == "error" }?["output"] as? String == "no such file")
            let summaries = calls.filter { $0["callId"] as? String == "call_t" }
                .map { (($0["metadata"] as? [String: Any])?["summary"] as? [Any])?.count }
            #expect(summaries == [1, 2])
            #expect(try await world.shutDown(bridge) == 0)
        }
    }

    @Test("session.error: an error event, and execution_complete fails with OpenCode's message")
    func sessionError() async throws {
        try await BridgeTestWorld.with(openCode: true) { world in
            let bridge = try world.startBridge()
            try await world.waitForReady()
            try world.prompt("m-error", "scenario:error")
            let done = try await world.controlPlane.waitForFrame("execution_complete", messageId: "m-error")
            #expect(done["success"] as? Bool == false)
            #expect(done["error"] as? String == "invalid API key")
            let errors = world.controlPlane.frames("error", messageId: "m-error")
            #expect(errors.count == 1)
            #expect(errors.first?["error"] as? String == "invalid API key")
            #expect(Self.tokens(world, "m-error") == ["Trying"])
            #expect(world.controlPlane.frames("execution_complete", messageId: "m-error").count == 1)

            // The next prompt is unaffected.
            try world.prompt("m-ok", "scenario:quick")
            let next = try await world.controlPlane.waitForFrame("execution_complete", messageId: "m-ok")
            #expect(next["success"] as? Bool == true)
            #expect(try await world.shutDown(bridge) == 0)
        }
    }

    @Test("stop aborts the OpenCode turn: POST /session/{id}/abort, execution_complete stopped, once")
    func stopAborts() async throws {
        try await BridgeTestWorld.with(openCode: true) { world in
            let openCode = try #require(world.openCode)
            let bridge = try world.startBridge()
            try await world.waitForReady()
            try world.prompt("m-hang", "scenario:hang")
            try await world.controlPlane.waitForFrame("tool_call", messageId: "m-hang") { $0["callId"] as? String == "call_h" }
            #expect(openCode.requests("POST", "/session/ses_fake1/abort").isEmpty)
            try world.controlPlane.send(["type": "stop"])
            try await openCode.waitForRequest("POST", "/session/ses_fake1/abort")
            let done = try await world.controlPlane.waitForFrame("execution_complete", messageId: "m-hang")
            #expect(done["success"] as? Bool == false)
            #expect(done["error"] as? String == "stopped")
            #expect(!Self.tokens(world, "m-hang").contains { $0.contains("AFTER ABORT") }, "nothing is relayed after the stop")
            #expect(world.controlPlane.frames("error", messageId: "m-hang").isEmpty, "the abort is not reported as an error")

            try world.prompt("m-after", "scenario:quick")
            try await world.controlPlane.waitForFrame("execution_complete", messageId: "m-after")
            #expect(world.controlPlane.frames("execution_complete", messageId: "m-hang").count == 1)
            #expect(try await world.shutDown(bridge) == 0)
        }
    }

    @Test("a turn past PROMPT_TIMEOUT_SECONDS is aborted and fails as timed out")
    func turnTimeout() async throws {
        try await BridgeTestWorld.with(openCode: true) { world in
            let openCode = try #require(world.openCode)
            let bridge = try world.startBridge(["PROMPT_TIMEOUT_SECONDS": "1"])
            try await world.waitForReady()
            try world.prompt("m-slow", "scenario:hang")
            let done = try await world.controlPlane.waitForFrame("execution_complete", messageId: "m-slow")
            #expect(done["success"] as? Bool == false)
            #expect(done["error"] as? String == "timed out after 1 s")
            #expect(openCode.requests("POST", "/session/ses_fake1/abort").count == 1)
            #expect(try await world.shutDown(bridge) == 0)
        }
    }

    @Test("question_reply during a turn is posted to /question/{id}/reply and the same event stream goes on")
    func questionReply() async throws {
        try await BridgeTestWorld.with(openCode: true) { world in
            let openCode = try #require(world.openCode)
            let bridge = try world.startBridge()
            try await world.waitForReady()
            try world.prompt("m-ask", "scenario:question")
            let asked = try await world.controlPlane.waitForFrame("tool_call", messageId: "m-ask") {
                ($0["args"] as? [String: Any])?["id"] as? String == "que_1"
            }
            #expect(asked["tool"] as? String == "question")
            #expect(asked["status"] as? String == "running")
            try world.controlPlane.send(["type": "question_reply", "requestId": "que_1", "answers": [["Yes"]]])
            let reply = try await openCode.waitForRequest("POST", "/question/que_1/reply")
            #expect((reply["body"] as? [String: Any])?["answers"] as? [[String]] == [["Yes"]])
            let done = try await world.controlPlane.waitForFrame("execution_complete", messageId: "m-ask")
            #expect(done["success"] as? Bool == true)
            #expect(Self.tokens(world, "m-ask").last == "Thanks, done")
            #expect(Self.toolCalls(world, "m-ask").last == "call_q:completed")
            #expect(openCode.requests("GET", "/event").count == 1, "one event stream for the whole turn")
            #expect(world.controlPlane.frames("execution_complete").count == 1)
            #expect(try await world.shutDown(bridge) == 0)
        }
    }
}
