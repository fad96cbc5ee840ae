import Synchronization

/// A `prompt` command: `{messageId, content, model, author{userId, githubName, githubEmail}}`.
struct Prompt: Sendable {
    let messageID: String
    let content: String
    /// "provider/modelId", a bare model id, or nil.
    let model: String?
    let authorName: String?
    let authorEmail: String?

    /// Nil when the command has no message id (there would be nothing to report completion against).
    init?(command: JSONValue) {
        guard let messageID = command["messageId"]?.nonEmptyString else { return nil }
        self.messageID = messageID
        content = command["content"]?.string ?? ""
        model = command["model"]?.nonEmptyString
        authorName = command["author"]?["githubName"]?.nonEmptyString
        authorEmail = command["author"]?["githubEmail"]?.nonEmptyString
    }
}

/// How a prompt ended; becomes its one `execution_complete`.
enum PromptOutcome: Sendable, Equatable {
    case succeeded
    case failed(String)
    /// `stop` (or `shutdown`) ended it.
    case stopped

    var event: (success: Bool, error: String?) {
        switch self {
        case .succeeded: (true, nil)
        case .failed(let error): (false, error)
        case .stopped: (false, "stopped")
        }
    }
}

/// What reaches a running prompt from the socket while it runs: `stop`, and answers to its questions.
/// Signals sent before the agent listens wait for it; a stop is also remembered as a flag.
///
/// Threading: any thread.
final class PromptControl: Sendable {
    enum Signal: Sendable {
        case stop
        case questionReply(requestID: String, answers: JSONValue)
    }

    private struct State {
        var stopRequested = false
        var listener: (@Sendable (Signal) -> Void)?
        var waiting: [Signal] = []
    }

    private let state = Mutex(State())

    var isStopRequested: Bool { state.withLock { $0.stopRequested } }

    func signal(_ signal: Signal) {
        let listener = state.withLock { state -> (@Sendable (Signal) -> Void)? in
            if case .stop = signal { state.stopRequested = true }
            guard let listener = state.listener else {
                state.waiting.append(signal)
                return nil
            }
            return listener
        }
        listener?(signal)
    }

    /// Sets who hears signals from now on (replacing the previous listener); signals that waited are
    /// delivered to it at once, in order.
    func listen(_ listener: @escaping @Sendable (Signal) -> Void) {
        let waiting = state.withLock { state -> [Signal] in
            state.listener = listener
            defer { state.waiting = [] }
            return state.waiting
        }
        for signal in waiting { listener(signal) }
    }

    /// No one listens any more; later signals wait (and are dropped with the control).
    func stopListening() { state.withLock { $0.listener = nil } }
}

/// An agent backend: runs one prompt at a time, reporting through its `PromptEmitter`.
protocol AgentBackend: Sendable {
    /// Runs once before the first connection (OpenCode: find or make the session).
    func prepare() async
    /// The OpenCode session id for `ready`, if any; must not block.
    var readySessionID: String? { get }
    /// Runs `prompt` to its end: success, failure, or stopped once `control` says so. Sends no
    /// `execution_complete` (the caller does, exactly once).
    func run(_ prompt: Prompt, emitter: PromptEmitter, control: PromptControl) async -> PromptOutcome
    /// A `question_reply` while no prompt is running.
    func answerOutsidePrompt(requestID: String, answers: JSONValue) async
    /// The bridge is exiting: release what the agent holds (nothing for the shell).
    func shutdown() async
}
