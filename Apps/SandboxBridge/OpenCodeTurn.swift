/// One prompt's OpenCode events turned into the bridge's: the translation of §2.5, pure (no I/O), so the
/// agent only feeds it events and carries out what it returns.
///
/// - Events of other sessions are dropped; `server.*` events are ignored.
/// - Only parts of assistant messages whose `parentID` is this turn's user message count.
/// - Text parts become cumulative `token`s (the full `text` when given, else `delta`s added up).
/// - Tool parts become `tool_call`s, skipped while pending without input and sent once per call id and
///   status (a task tool also per summary length and last sub-status; a question tool also once its
///   request id is known, which goes in `args.id`). Bash output is searched for ports.
/// - `step-start` / `step-finish` parts become `step_start` / `step_finish`.
/// - `session.idle`, or `session.status` idle, once the turn has started, ends it; `session.error`
///   fails it (an abort is reported as such, for the agent to call it stopped).
///
/// Threading: a value, owned by the agent's turn.
struct OpenCodeTurn {
    enum Action: Sendable {
        case token(partID: String, content: String)
        case event(BridgeEvent)
        case scanPorts(String)
        /// OpenCode finished the turn: fetch the final text, then complete.
        case idle
        /// `session.error`: the turn failed with this message.
        case failed(String)
        /// `session.error` of kind `MessageAbortedError`.
        case aborted
    }

    /// Tool names that ask the user something (compared lowercased), as in the original.
    static let questionTools: Set<String> = ["question", "askuserquestion", "mcp__conductor__askuserquestion"]

    let sessionID: String
    /// The id of the user message this turn sent to OpenCode.
    let userMessageID: String
    /// The control plane's message id, which every event carries.
    let messageID: String

    /// OpenCode has begun this turn (it reported the session busy, or our message): an idle before that is
    /// a leftover of the previous turn.
    private(set) var started = false
    private var assistantIDs: Set<String> = []
    private var partTypes: [String: String] = [:]
    /// Text seen per text part.
    private var texts: [String: String] = [:]
    private var toolKeys: Set<String> = []
    private var lastTitle: String?
    private var questionByCall: [String: String] = [:]
    private var lastQuestionID: String?
    /// The latest part of each question tool call, to send again once its request id is known.
    private var questionParts: [String: JSONValue] = [:]

    init(sessionID: String, userMessageID: String, messageID: String) {
        self.sessionID = sessionID
        self.userMessageID = userMessageID
        self.messageID = messageID
    }

    /// The session an event is about, if it names one.
    static func session(of type: String, _ properties: JSONValue) -> String? {
        if type.hasPrefix("session."), type != "session.status", type != "session.idle", type != "session.error",
           let id = properties["info"]?["id"]?.string {
            return id
        }
        return properties["sessionID"]?.string ?? properties["info"]?["sessionID"]?.string
            ?? properties["part"]?["sessionID"]?.string
    }

    mutating func handle(_ event: JSONValue) -> [Action] {
        guard let type = event["type"]?.string, !type.hasPrefix("server.") else { return [] }
        let properties = event["properties"] ?? [:]
        let session = Self.session(of: type, properties)
        if let session, session != sessionID { return [] }
        switch type {
        case "session.updated":
            guard let title = properties["info"]?["title"]?.nonEmptyString, title != lastTitle else { return [] }
            lastTitle = title
            return [.event(.sessionTitleUpdated(title: title, messageID: messageID))]
        case "session.status":
            switch properties["status"]?["type"]?.string {
            case "busy", "retry":
                started = true
                return []
            case "idle": return started ? [.idle] : []
            default: return []
            }
        case "session.idle":
            return started ? [.idle] : []
        case "session.error":
            // An error naming no session is OpenCode's own; it concerns this turn only once it runs.
            guard session != nil || started else { return [] }
            let error = properties["error"] ?? [:]
            let name = error["name"]?.nonEmptyString
            if name == "MessageAbortedError" { return [.aborted] }
            let message = error["data"]?["message"]?.nonEmptyString ?? error["message"]?.nonEmptyString ?? name
                ?? "OpenCode reported an error"
            return [.event(.error(messageID: messageID, error: message)), .failed(message)]
        case "message.updated":
            let info = properties["info"] ?? [:]
            guard let id = info["id"]?.string else { return [] }
            if id == userMessageID { started = true }
            if info["role"]?.string == "assistant", info["parentID"]?.string == userMessageID {
                assistantIDs.insert(id)
                started = true
            }
            return []
        case "question.asked":
            guard let id = properties["id"]?.nonEmptyString else { return [] }
            lastQuestionID = id
            guard let callID = properties["tool"]?["callID"]?.nonEmptyString else { return [] }
            questionByCall[callID] = id
            guard let part = questionParts[callID] else { return [] }
            return handlePart(part, delta: nil)
        case "message.part.updated":
            return handlePart(properties["part"] ?? [:], delta: properties["delta"]?.string)
        case "message.part.delta":
            guard let message = properties["messageID"]?.string, assistantIDs.contains(message),
                  let partID = properties["partID"]?.string, partTypes[partID] == "text",
                  properties["field"]?.string ?? "text" == "text", let delta = properties["delta"]?.string else { return [] }
            texts[partID, default: ""] += delta
            return tokenAction(partID)
        default:
            return []
        }
    }

    private mutating func handlePart(_ part: JSONValue, delta: String?) -> [Action] {
        guard let partID = part["id"]?.string, let message = part["messageID"]?.string,
              assistantIDs.contains(message), let type = part["type"]?.string else { return [] }
        partTypes[partID] = type
        switch type {
        case "text":
            if let text = part["text"]?.string {
                texts[partID] = text
            } else if let delta {
                texts[partID, default: ""] += delta
            }
            return tokenAction(partID)
        case "tool":
            return toolActions(part, partID: partID)
        case "step-start":
            return [.event(.stepStart(messageID: messageID))]
        case "step-finish":
            return [.event(.stepFinish(messageID: messageID, cost: part["cost"] ?? .null, tokens: part["tokens"] ?? .null,
                                       reason: part["reason"] ?? .null))]
        default:
            return []
        }
    }

    private func tokenAction(_ partID: String) -> [Action] {
        guard let text = texts[partID], !text.isEmpty else { return [] }
        return [.token(partID: partID, content: TextLimit.truncate(text, maxBytes: BridgeLimits.maxPartTextBytes))]
    }

    private mutating func toolActions(_ part: JSONValue, partID: String) -> [Action] {
        let state = part["state"] ?? [:]
        let status = state["status"]?.string ?? "pending"
        let input = state["input"] ?? .null
        if status == "pending", input.isEmptyValue { return [] }
        let tool = part["tool"]?.string ?? "unknown"
        let lowered = tool.lowercased()
        let callID = part["callID"]?.nonEmptyString ?? partID
        var args = input.object ?? (input.isNull ? [:] : ["input": input])
        var key = "\(callID)\u{0}\(status)"
        var metadata: JSONValue?
        if Self.questionTools.contains(lowered) {
            questionParts[callID] = part
            if let question = questionByCall[callID] ?? lastQuestionID { args["id"] = .string(question) }
            key += "\u{0}\(args["id"]?.string ?? "")"
        } else if args["id"] == nil {
            args["id"] = .string(partID)
        }
        if lowered == "task", let summary = state["metadata"]?["summary"]?.array {
            key += "\u{0}\(summary.count)\u{0}\(summary.last?["state"]?["status"]?.string ?? "")"
            metadata = ["summary": .array(summary)]
        }
        var actions: [Action] = []
        if lowered == "bash" {
            for text in [state["output"]?.string, state["metadata"]?["output"]?.string].compactMap({ $0 }) {
                actions.append(.scanPorts(text))
            }
        }
        guard toolKeys.insert(key).inserted else { return actions }
        let output = switch status {
        case "completed": state["output"]?.string ?? ""
        case "error": state["error"]?.string ?? "error"
        default: ""
        }
        let call = BridgeEvent.ToolCall(
            messageID: messageID, tool: tool,
            args: JSONValue.object(args).truncatingStrings(maxBytes: BridgeLimits.maxToolFieldBytes), callID: callID,
            status: status, output: TextLimit.truncate(output, maxBytes: BridgeLimits.maxToolFieldBytes),
            metadata: metadata?.truncatingStrings(maxBytes: BridgeLimits.maxToolFieldBytes))
        actions.insert(.event(.toolCall(call)), at: 0)
        return actions
    }

    /// Text parts of this turn's assistant messages in `messages` (`GET /session/{id}/message`) that are
    /// longer than what the events carried: their final text, to send as last tokens.
    mutating func finalTexts(_ messages: [JSONValue]) -> [(partID: String, content: String)] {
        var result: [(partID: String, content: String)] = []
        for item in messages {
            let info = item["info"] ?? [:]
            guard info["role"]?.string == "assistant", let id = info["id"]?.string,
                  info["parentID"]?.string == userMessageID || assistantIDs.contains(id) else { continue }
            for part in item["parts"]?.array ?? [] {
                guard part["type"]?.string == "text", let partID = part["id"]?.string,
                      let text = part["text"]?.string,
                      text.utf8.count > (texts[partID]?.utf8.count ?? 0) else { continue }
                texts[partID] = text
                result.append((partID, TextLimit.truncate(text, maxBytes: BridgeLimits.maxPartTextBytes)))
            }
        }
        return result
    }
}
