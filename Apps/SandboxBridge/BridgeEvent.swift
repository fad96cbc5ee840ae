/// What the bridge tells the control plane (Apps/DISPATCH.md, "Bridge ↔ control plane"): one JSON text
/// frame each, with the original's wire names. The control plane adds `sandboxId` and `timestamp`.
enum BridgeEvent: Sendable {
    case ready(openCodeSessionID: String?)
    case heartbeat
    /// `content` is the whole text of the part so far, not a delta.
    case token(messageID: String, partID: String, content: String)
    case toolCall(ToolCall)
    case stepStart(messageID: String)
    case stepFinish(messageID: String, cost: JSONValue, tokens: JSONValue, reason: JSONValue)
    case error(messageID: String, error: String)
    case executionComplete(messageID: String, success: Bool, error: String?)
    case sessionTitleUpdated(title: String, messageID: String)
    case portDetected(port: Int, messageID: String)
    case pushComplete(branchName: String)
    case pushError(branchName: String, error: String)

    struct ToolCall: Sendable {
        var messageID: String
        var tool: String
        var args: JSONValue
        var callID: String
        /// pending, running, completed or error.
        var status: String
        var output: String
        var metadata: JSONValue?
    }

    var type: String {
        switch self {
        case .ready: "ready"
        case .heartbeat: "heartbeat"
        case .token: "token"
        case .toolCall: "tool_call"
        case .stepStart: "step_start"
        case .stepFinish: "step_finish"
        case .error: "error"
        case .executionComplete: "execution_complete"
        case .sessionTitleUpdated: "session_title_updated"
        case .portDetected: "port_detected"
        case .pushComplete: "push_complete"
        case .pushError: "push_error"
        }
    }

    /// Events a full buffer never drops while the control plane is away: each settles something there.
    var isEssential: Bool {
        switch self {
        case .executionComplete, .pushComplete, .pushError, .error: true
        default: false
        }
    }

    /// Buffered tokens with the same key replace each other (the later one has all the text).
    var coalescingKey: String? {
        if case .token(let messageID, let partID, _) = self { return "\(messageID)\u{0}\(partID)" }
        return nil
    }

    var json: JSONValue {
        var fields: [String: JSONValue] = ["type": .string(type)]
        switch self {
        case .ready(let session):
            if let session { fields["opencodeSessionId"] = .string(session) }
        case .heartbeat:
            fields["status"] = "ready"
        case .token(let messageID, let partID, let content):
            fields["messageId"] = .string(messageID)
            fields["partId"] = .string(partID)
            fields["content"] = .string(content)
        case .toolCall(let call):
            fields["messageId"] = .string(call.messageID)
            fields["tool"] = .string(call.tool)
            fields["args"] = call.args
            fields["callId"] = .string(call.callID)
            fields["status"] = .string(call.status)
            fields["output"] = .string(call.output)
            if let metadata = call.metadata { fields["metadata"] = metadata }
        case .stepStart(let messageID):
            fields["messageId"] = .string(messageID)
        case .stepFinish(let messageID, let cost, let tokens, let reason):
            fields["messageId"] = .string(messageID)
            fields["cost"] = cost
            fields["tokens"] = tokens
            fields["reason"] = reason
        case .error(let messageID, let error):
            fields["messageId"] = .string(messageID)
            fields["error"] = .string(error)
        case .executionComplete(let messageID, let success, let error):
            fields["messageId"] = .string(messageID)
            fields["success"] = .bool(success)
            if let error { fields["error"] = .string(error) }
        case .sessionTitleUpdated(let title, let messageID):
            fields["title"] = .string(title)
            fields["messageId"] = .string(messageID)
        case .portDetected(let port, let messageID):
            fields["port"] = .int(Int64(port))
            fields["messageId"] = .string(messageID)
        case .pushComplete(let branchName):
            fields["branchName"] = .string(branchName)
        case .pushError(let branchName, let error):
            fields["branchName"] = .string(branchName)
            fields["error"] = .string(error)
        }
        return .object(fields)
    }

    /// The frame's text, at most `limit` bytes: a larger token has its content cut, a larger tool call its
    /// output and arguments, each with a note; anything else that is still too large (it cannot be, with
    /// the bridge's own limits) is cut to its essentials.
    func encoded(limit: Int = BridgeLimits.maxOutgoingEventBytes) -> String {
        var event = self
        var budget = limit / 2
        for _ in 0..<8 {
            let text = event.json.text
            if text.utf8.count <= limit { return text }
            switch event {
            case .token(let messageID, let partID, let content):
                event = .token(messageID: messageID, partID: partID, content: TextLimit.fit(content, maxBytes: budget))
            case .toolCall(var call):
                call.output = TextLimit.fit(call.output, maxBytes: budget / 2)
                call.args = call.args.truncatingStrings(maxBytes: budget / 8)
                call.metadata = nil
                event = .toolCall(call)
            case .error(let messageID, let error):
                event = .error(messageID: messageID, error: TextLimit.fit(error, maxBytes: budget))
            case .executionComplete(let messageID, let success, let error):
                event = .executionComplete(messageID: messageID, success: success,
                                           error: error.map { TextLimit.fit($0, maxBytes: budget) })
            case .pushError(let branchName, let error):
                event = .pushError(branchName: branchName, error: TextLimit.fit(error, maxBytes: budget))
            case .sessionTitleUpdated(let title, let messageID):
                event = .sessionTitleUpdated(title: TextLimit.fit(title, maxBytes: budget), messageID: messageID)
            default:
                return text
            }
            budget /= 2
        }
        return event.json.text
    }
}
