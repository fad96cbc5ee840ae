import Foundation
import Synchronization

/// The bridge itself: takes the control plane's commands, runs prompts one at a time in the background
/// with the agent while the socket keeps serving `stop`, `push`, `question_reply` and `shutdown`, and
/// reports exactly one `execution_complete` per prompt.
///
/// A prompt that arrives while another runs waits its turn. One the bridge has already (the control
/// plane may send it again after a reconnect) is not run twice: if it finished, its `execution_complete`
/// is sent again.
///
/// Threading: an actor; prompts run in tasks of their own and report back here.
actor Bridge {
    private let config: BridgeConfig
    private let link: ControlPlaneLink
    private let agent: any AgentBackend
    private let git: Git
    private let ports = PortDetector()

    private struct Running {
        let prompt: Prompt
        let control: PromptControl
        let task: Task<Void, Never>
    }

    private var waiting: [Prompt] = []
    private var running: Running?
    /// Outcomes of recent prompts by message id, oldest first.
    private var completed: [(messageID: String, outcome: PromptOutcome)] = []
    private var shuttingDown = false
    /// Pushes run one at a time, each after the previous.
    private var lastPush: Task<Void, Never>?

    init(config: BridgeConfig, link: ControlPlaneLink, agent: any AgentBackend) {
        self.config = config
        self.link = link
        self.agent = agent
        git = Git(config: config)
    }

    /// Serves until `shutdown` (0) or a refusal by the control plane (`ExitCode.refused`).
    func run() async -> Int32 {
        await agent.prepare()
        if let name = config.sessionConfig.gitUserName, let email = config.sessionConfig.gitUserEmail {
            await git.setIdentity(name: name, email: email)
        }
        let outcome = await link.run { [self] command in await self.handle(command) }
        switch outcome {
        case .finished:
            BridgeLog.info("shut down")
            return 0
        case .refused(let status):
            BridgeLog.error("the control plane refused this sandbox with HTTP \(status) (\(Self.meaning(of: status))); exiting")
            await stopEverything()
            return ExitCode.refused
        }
    }

    static func meaning(of status: Int) -> String {
        switch status {
        case 401: "the sandbox token was not accepted"
        case 403: "the sandbox id is not the session's"
        case 404: "no such session"
        case 410: "the sandbox was stopped or is stale"
        default: "refused"
        }
    }

    /// One command from the control plane. Returns quickly: prompts and pushes run in tasks of their own.
    func handle(_ command: JSONValue) async {
        let type = command["type"]?.string ?? ""
        switch type {
        case "prompt":
            guard let prompt = Prompt(command: command) else {
                BridgeLog.warn("ignored a prompt without a messageId")
                return
            }
            enqueue(prompt)
        case "stop":
            if let running {
                BridgeLog.info("stopping prompt \(running.prompt.messageID)")
                running.control.signal(.stop)
            } else {
                BridgeLog.info("stop: no prompt is running")
            }
        case "push":
            let previous = lastPush
            let (git, link) = (self.git, self.link)
            lastPush = Task {
                await previous?.value
                link.send(await git.push(command))
            }
        case "question_reply":
            guard let requestID = command["requestId"]?.nonEmptyString else {
                BridgeLog.warn("ignored a question_reply without a requestId")
                return
            }
            let answers = command["answers"] ?? .array([])
            if let running {
                running.control.signal(.questionReply(requestID: requestID, answers: answers))
            } else {
                let agent = self.agent
                Task { await agent.answerOutsidePrompt(requestID: requestID, answers: answers) }
            }
        case "shutdown":
            await shutdown()
        default:
            BridgeLog.info("ignored a command of type \"\(type)\"")
        }
    }

    /// `shutdown`, SIGTERM, SIGINT: stops the running prompt (its `execution_complete` says stopped),
    /// completes the waiting ones as stopped, lets a push in progress finish, and ends the link.
    func shutdown() async {
        guard !shuttingDown else { return }
        shuttingDown = true
        BridgeLog.info("shutting down")
        for prompt in waiting {
            link.send(.executionComplete(messageID: prompt.messageID, success: false, error: PromptOutcome.stopped.event.error))
        }
        waiting = []
        if let running {
            running.control.signal(.stop)
            await running.task.value
        }
        await lastPush?.value
        await agent.shutdown()
        link.finish()
    }

    /// Before exiting on a refusal: ends the running prompt, waiting at most `BridgeLimits.exitStopWait`.
    private func stopEverything() async {
        shuttingDown = true
        waiting = []
        guard let running else { return }
        running.control.signal(.stop)
        let task = running.task
        let resumed = Mutex(false)
        await withCheckedContinuation { (continuation: CheckedContinuation<Void, Never>) in
            let resumeOnce: @Sendable () -> Void = {
                if resumed.withLock({ done in defer { done = true }; return !done }) { continuation.resume() }
            }
            Task {
                await task.value
                resumeOnce()
            }
            Task {
                try? await Task.sleep(for: BridgeLimits.exitStopWait)
                resumeOnce()
            }
        }
    }

    private func enqueue(_ prompt: Prompt) {
        let id = prompt.messageID
        if running?.prompt.messageID == id || waiting.contains(where: { $0.messageID == id }) {
            BridgeLog.info("prompt \(id) is already here; not running it twice")
            return
        }
        if let done = completed.last(where: { $0.messageID == id }) {
            BridgeLog.info("prompt \(id) already ran; sending its execution_complete again")
            let (success, error) = done.outcome.event
            link.send(.executionComplete(messageID: id, success: success, error: error))
            return
        }
        guard !shuttingDown else {
            link.send(.executionComplete(messageID: id, success: false, error: PromptOutcome.stopped.event.error))
            return
        }
        waiting.append(prompt)
        startNext()
    }

    private func startNext() {
        guard running == nil, !shuttingDown, !waiting.isEmpty else { return }
        let prompt = waiting.removeFirst()
        let control = PromptControl()
        let (agent, link, git, ports) = (self.agent, self.link, self.git, self.ports)
        BridgeLog.info("prompt \(prompt.messageID) starts")
        let task = Task {
            let outcome = await Self.execute(prompt, control: control, agent: agent, link: link, git: git, ports: ports)
            self.finished(prompt, outcome: outcome)
        }
        running = Running(prompt: prompt, control: control, task: task)
    }

    /// Runs one prompt and sends its one `execution_complete`.
    private static func execute(_ prompt: Prompt, control: PromptControl, agent: any AgentBackend,
                                link: ControlPlaneLink, git: Git, ports: PortDetector) async -> PromptOutcome {
        if let name = prompt.authorName, let email = prompt.authorEmail {
            await git.setIdentity(name: name, email: email)
        }
        let emitter = PromptEmitter(messageID: prompt.messageID, link: link, ports: ports)
        var outcome = await agent.run(prompt, emitter: emitter, control: control)
        if control.isStopRequested { outcome = .stopped }
        await emitter.flush()
        let (success, error) = outcome.event
        await emitter.send(.executionComplete(messageID: prompt.messageID, success: success, error: error))
        return outcome
    }

    private func finished(_ prompt: Prompt, outcome: PromptOutcome) {
        BridgeLog.info("prompt \(prompt.messageID) ended: \(outcome)")
        running = nil
        completed.append((prompt.messageID, outcome))
        if completed.count > BridgeLimits.rememberedCompletions { completed.removeFirst() }
        startNext()
    }
}

/// The bridge's exit statuses.
enum ExitCode {
    static let shutdown: Int32 = 0
    /// The environment is incomplete or malformed.
    static let configuration: Int32 = 2
    /// The control plane refused the sandbox for good (401, 403, 404, 410).
    static let refused: Int32 = 3
    /// The bridge could not set itself up (no io_uring, no TLS).
    static let startup: Int32 = 4
}
