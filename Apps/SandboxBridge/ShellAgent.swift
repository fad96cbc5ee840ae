/// The `shell` agent: a prompt's content is a command for `/bin/sh -c`, run in the workspace in a process
/// group of its own, its combined stdout and stderr streamed as the text of one part. So the platform
/// works end to end without an LLM.
///
/// Events: `tool_call {tool:"bash", args:{command}, status:"running"}`, then `token`s with the output so
/// far, then `tool_call` `completed` (exit status 0) or `error`, with the exit status as its output.
/// `stop` sends SIGTERM to the group, then SIGKILL after `BridgeLimits.killGrace`; so does the prompt
/// timeout.
struct ShellAgent: AgentBackend {
    let config: BridgeConfig
    let ids: AscendingID

    func prepare() async {}

    var readySessionID: String? { nil }

    func run(_ prompt: Prompt, emitter: PromptEmitter, control: PromptControl) async -> PromptOutcome {
        if control.isStopRequested { return .stopped }
        let callID = ids.next("call")
        let partID = ids.next("prt")
        var call = BridgeEvent.ToolCall(messageID: prompt.messageID, tool: "bash", args: ["command": .string(prompt.content)],
                                        callID: callID, status: "running", output: "", metadata: nil)
        await emitter.send(.toolCall(call))
        let process: Subprocess
        do {
            process = try Subprocess.spawn(["/bin/sh", "-c", prompt.content], environment: config.childEnvironment)
        } catch {
            call.status = "error"
            call.output = "\(error)"
            await emitter.send(.toolCall(call))
            return .failed("\(error)")
        }
        control.listen { signal in
            switch signal {
            case .stop: process.terminateGroup()
            case .questionReply(let requestID, _):
                BridgeLog.info("question_reply \(requestID) ignored: the shell agent asks no questions")
            }
        }
        defer { control.stopListening() }
        let timeout = config.promptTimeout
        let timer = Task { () throws -> Bool in
            try await Task.sleep(for: timeout)
            BridgeLog.warn("prompt \(prompt.messageID) ran past \(timeout.readable); ending its process group")
            process.terminateGroup()
            return true
        }

        var output = CappedText(limit: BridgeLimits.maxPartTextBytes)
        /// The end of the previous chunk, so a `localhost:3000` split across two reads is still found.
        var tail: [UInt8] = []
        var exit: Subprocess.ExitStatus = .signaled(9)
        for await event in process.events {
            switch event {
            case .output(let bytes):
                output.append(bytes)
                await emitter.token(partID: partID, content: output.text)
                let window = tail + bytes
                await emitter.scanForPorts(String(decoding: window, as: UTF8.self))
                tail = Array(window.suffix(32))
            case .exited(let status):
                exit = status
            }
        }
        timer.cancel()
        let timedOut = (try? await timer.value) ?? false
        await emitter.flush()
        call.status = exit.isSuccess ? "completed" : "error"
        call.output = exit.description
        await emitter.send(.toolCall(call))
        if control.isStopRequested { return .stopped }
        if timedOut { return .failed("timed out after \(timeout.readable)") }
        return exit.isSuccess ? .succeeded : .failed(exit.description)
    }

    func answerOutsidePrompt(requestID: String, answers: JSONValue) async {
        BridgeLog.info("question_reply \(requestID) ignored: the shell agent asks no questions")
    }

    func shutdown() async {}
}
