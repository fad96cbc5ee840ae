import RuntimeAPI
import RuntimeHTTP
import RuntimeIO
import RuntimeTLS
import Synchronization

/// The `opencode` agent: each prompt is one OpenCode turn in the sandbox's OpenCode session (§2.5).
///
/// A turn opens `GET /event` first and waits for its first event (OpenCode subscribes a stream to its bus
/// only after sending the head, then says `server.connected`), then posts the prompt with `prompt_async`
/// under a fresh ascending message id, and translates events (`OpenCodeTurn`) until OpenCode reports the session idle (the final
/// text then comes from `GET /session/{id}/message`), an error, or the prompt is stopped or times out
/// (`POST /session/{id}/abort` either way). A `question_reply` during the turn is posted to
/// `/question/{id}/reply` and the same stream goes on: there is never a second consumer.
final class OpenCodeAgent: AgentBackend {
    let config: BridgeConfig
    let client: OpenCodeClient
    let loops: [Loop]
    let tls: TLSContext?
    let ids: AscendingID
    let store: OpenCodeSessionStore

    /// Everything a turn waits for, from every source, in one stream.
    enum TurnInput: Sendable {
        case event(JSONValue)
        case stop
        case questionReply(requestID: String, answers: JSONValue)
        case timeout
        /// After an abort: OpenCode did not settle in time.
        case settleTimeout
        /// OpenCode's stream sent no first event in time: send the prompt anyway.
        case subscribeWaitOver
        case streamEnded(String)
    }

    init(config: BridgeConfig, http: HTTPClient, loops: [Loop], tls: TLSContext?, ids: AscendingID) {
        self.config = config
        client = OpenCodeClient(baseURL: config.openCodeURL, directory: config.workspace, http: http)
        self.loops = loops
        self.tls = tls
        self.ids = ids
        store = OpenCodeSessionStore(config: config)
    }

    var readySessionID: String? { store.current }

    func prepare() async {
        do {
            let id = try await session(waitingUpTo: BridgeLimits.openCodeStartupWait)
            BridgeLog.info("OpenCode session \(id)")
        } catch {
            BridgeLog.warn("no OpenCode session yet (\(error)); trying again at the first prompt")
        }
    }

    /// The session to use: the kept one if OpenCode still has it, else a new one. Retries while OpenCode
    /// cannot be reached, up to `wait`; an answer it does not like is thrown at once.
    func session(waitingUpTo wait: Duration) async throws -> String {
        if let confirmed = store.confirmed { return confirmed }
        let deadline = ContinuousClock.now + wait
        while true {
            do {
                if let kept = store.current {
                    if try await client.sessionExists(kept) {
                        store.confirm()
                        return kept
                    }
                    BridgeLog.info("OpenCode no longer has session \(kept); making a new one")
                    store.forget()
                }
                let id = try await client.createSession()
                store.save(id)
                return id
            } catch let failure as OpenCodeClient.Failure {
                throw failure
            } catch {
                guard ContinuousClock.now + BridgeLimits.openCodeRetryInterval < deadline else { throw error }
                try? await Task.sleep(for: BridgeLimits.openCodeRetryInterval)
            }
        }
    }

    func run(_ prompt: Prompt, emitter: PromptEmitter, control: PromptControl) async -> PromptOutcome {
        if control.isStopRequested { return .stopped }
        let sessionID: String
        do {
            sessionID = try await session(waitingUpTo: BridgeLimits.openCodeStartupWait)
        } catch {
            return .failed("OpenCode is not available: \(error)")
        }
        let userMessageID = ids.next("msg")
        let (inputs, feed) = AsyncStream<TurnInput>.makeStream()
        // A client of the turn's own, closed at its end: that ends the event stream even while it waits.
        let streamClient = HTTPClient(loops: loops, tls: tls)
        defer {
            feed.finish()
            streamClient.closeAll()
        }
        let stream: Response
        do {
            stream = try await client.openEvents(on: streamClient, timeout: config.promptTimeout)
        } catch {
            return .failed("cannot open OpenCode's event stream: \(error)")
        }
        let pump = Task { await Self.pump(stream, into: feed) }
        control.listen { signal in
            switch signal {
            case .stop: feed.yield(.stop)
            case .questionReply(let requestID, let answers): feed.yield(.questionReply(requestID: requestID, answers: answers))
            }
        }
        let timeout = config.promptTimeout
        let timer = Task {
            try? await Task.sleep(for: timeout)
            if !Task.isCancelled { feed.yield(.timeout) }
        }
        let subscribeWait = Task {
            try? await Task.sleep(for: BridgeLimits.openCodeSubscribeWait)
            if !Task.isCancelled { feed.yield(.subscribeWaitOver) }
        }
        defer {
            control.stopListening()
            timer.cancel()
            subscribeWait.cancel()
            pump.cancel()
        }

        var turn = OpenCodeTurn(sessionID: sessionID, userMessageID: userMessageID, messageID: prompt.messageID)
        /// The prompt goes out once the stream's first event shows OpenCode subscribed it to the bus.
        var posted = false
        /// Set once the turn is being ended (stop or timeout): the outcome, reported once OpenCode settles.
        var ending: PromptOutcome?
        for await input in inputs {
            if !posted {
                switch input {
                case .event, .subscribeWaitOver:
                    if case .subscribeWaitOver = input {
                        BridgeLog.warn("OpenCode's event stream sent nothing within \(BridgeLimits.openCodeSubscribeWait.readable); sending the prompt anyway")
                    }
                    subscribeWait.cancel()
                    do {
                        try await client.promptAsync(session: sessionID, body: promptBody(prompt, userMessageID: userMessageID))
                    } catch {
                        if case OpenCodeClient.Failure.status(404, _, _, _) = error { store.forget() }
                        return .failed("OpenCode did not take the prompt: \(error)")
                    }
                    posted = true
                case .stop: return .stopped
                case .timeout: return .failed("timed out after \(timeout.readable)")
                case .streamEnded(let reason):
                    return .failed("OpenCode's event stream ended before the prompt was sent: \(reason)")
                case .questionReply, .settleTimeout: break
                }
            }
            switch input {
            case .event(let event):
                for action in turn.handle(event) {
                    if let ending {
                        switch action {
                        case .idle, .aborted, .failed: return ending
                        default: continue
                        }
                    }
                    switch action {
                    case .token(let partID, let content): await emitter.token(partID: partID, content: content)
                    case .event(let event): await emitter.send(event)
                    case .scanPorts(let text): await emitter.scanForPorts(text)
                    case .idle:
                        await sendFinalText(&turn, sessionID: sessionID, emitter: emitter)
                        return .succeeded
                    case .failed(let message): return .failed(message)
                    case .aborted: return .failed("OpenCode aborted the turn")
                    }
                }
            case .stop, .timeout:
                guard ending == nil else { continue }
                if case .timeout = input {
                    BridgeLog.warn("prompt \(prompt.messageID) ran past \(timeout.readable); aborting the OpenCode turn")
                    ending = .failed("timed out after \(timeout.readable)")
                } else {
                    ending = .stopped
                }
                await abort(sessionID)
                Task {
                    try? await Task.sleep(for: BridgeLimits.abortSettleWait)
                    feed.yield(.settleTimeout)
                }
            case .settleTimeout:
                if let ending { return ending }
            case .subscribeWaitOver:
                continue
            case .questionReply(let requestID, let answers):
                guard ending == nil else { continue }
                do {
                    try await client.replyToQuestion(requestID: requestID, answers: answers)
                } catch {
                    BridgeLog.warn("question_reply \(requestID): \(error)")
                    await emitter.send(.error(messageID: prompt.messageID, error: "the answer to question \(requestID) did not reach OpenCode: \(error)"))
                }
            case .streamEnded(let reason):
                if let ending { return ending }
                await abort(sessionID)
                return .failed("OpenCode's event stream ended before the turn did: \(reason)")
            }
        }
        return ending ?? .failed("the turn ended without an outcome")
    }

    /// `prompt_async`'s body: the text, our message id, and the model when one is known.
    func promptBody(_ prompt: Prompt, userMessageID: String) -> JSONValue {
        var body: [String: JSONValue] = [
            "parts": [["type": "text", "text": .string(prompt.content)]],
            "messageID": .string(userMessageID),
        ]
        if let model = prompt.model ?? config.sessionConfig.model {
            let provider: String
            let modelID: String
            if let slash = model.firstIndex(of: "/") {
                provider = String(model[..<slash])
                modelID = String(model[model.index(after: slash)...])
            } else {
                provider = config.sessionConfig.provider ?? "anthropic"
                modelID = model
            }
            if !provider.isEmpty, !modelID.isEmpty {
                body["model"] = ["providerID": .string(provider), "modelID": .string(modelID)]
            }
        }
        return .object(body)
    }

    private func sendFinalText(_ turn: inout OpenCodeTurn, sessionID: String, emitter: PromptEmitter) async {
        do {
            let messages = try await client.messages(session: sessionID)
            for (partID, content) in turn.finalTexts(messages) {
                await emitter.token(partID: partID, content: content)
            }
        } catch {
            BridgeLog.warn("could not read the turn's final text: \(error)")
        }
    }

    private func abort(_ sessionID: String) async {
        do {
            try await client.abort(session: sessionID)
        } catch {
            BridgeLog.warn("OpenCode abort failed: \(error)")
        }
    }

    func answerOutsidePrompt(requestID: String, answers: JSONValue) async {
        do {
            try await client.replyToQuestion(requestID: requestID, answers: answers)
        } catch {
            BridgeLog.warn("question_reply \(requestID) outside a prompt: \(error)")
        }
    }

    func shutdown() async {}

    /// Reads the event stream into `feed` until it ends, or until the turn is over (the feed finished).
    static func pump(_ response: Response, into feed: AsyncStream<TurnInput>.Continuation) async {
        let writer = EventStreamWriter(feed: feed)
        do {
            switch response.body {
            case .stream(let produce): try await produce(writer)
            case .bytes(let bytes): try await writer.write(bytes)
            case .empty: break
            }
            feed.yield(.streamEnded("OpenCode closed it"))
        } catch {
            feed.yield(.streamEnded("\(error)"))
        }
    }
}

/// Takes the `GET /event` body as it arrives, parses SSE and hands each event's JSON to the turn. Throws
/// once the turn is over, which gives the connection up.
final class EventStreamWriter: BodyWriter {
    struct TurnOver: Error {}

    private let feed: AsyncStream<OpenCodeAgent.TurnInput>.Continuation
    private let parser = Mutex(SSEParser())

    init(feed: AsyncStream<OpenCodeAgent.TurnInput>.Continuation) { self.feed = feed }

    func write(_ bytes: [UInt8]) async throws {
        let (events, skipped) = parser.withLock { parser -> ([[UInt8]], Int) in
            let before = parser.skipped
            let events = parser.feed(bytes)
            return (events, parser.skipped - before)
        }
        if skipped > 0 {
            BridgeLog.warn("skipped \(skipped) OpenCode event(s) over \(BridgeLimits.maxSSEEventBytes) bytes")
        }
        for data in events {
            let event: JSONValue
            do {
                event = try JSONValue.parse(data)
            } catch {
                BridgeLog.warn("skipped an OpenCode event that is not JSON: \(error)")
                continue
            }
            if case .terminated = feed.yield(.event(event)) { throw TurnOver() }
        }
    }
}
