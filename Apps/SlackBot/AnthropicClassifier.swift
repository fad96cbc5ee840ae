import RuntimeAPI

/// The LLM classifier (reference §3 step 4) over the Anthropic Messages API: `POST
/// {ANTHROPIC_API_URL}/v1/messages` with `x-api-key` and `anthropic-version: 2023-06-01`. The model is
/// asked for raw JSON `{repoId|null, confidence, reasoning, alternatives[]}`; anything else it answers
/// (prose, an unknown repository, a bad confidence) is an error, and the caller falls back to keywords.
struct AnthropicClassifier: Sendable {
    let baseURL: String
    let apiKey: String
    let model: String

    static let apiVersion = "2023-06-01"
    /// Characters of the request, of the channel topic and of the thread shown to the model.
    static let maxRequestCharacters = 4000
    static let maxContextCharacters = 4000

    enum Failure: Error, CustomStringConvertible {
        case http(status: Int, message: String)
        case unusableAnswer(String)
        var description: String {
            switch self {
            case .http(let status, let message): "Anthropic API answered \(status): \(message)"
            case .unusableAnswer(let reason): "unusable classifier answer: \(reason)"
            }
        }
    }

    /// The classifier of `config`, or nil when ANTHROPIC_API_KEY is not set.
    init?(_ config: BotConfig) {
        guard let key = config.anthropicAPIKey else { return nil }
        baseURL = config.anthropicAPIURL
        apiKey = key
        model = config.classificationModel
    }

    func verdict(_ request: String, context: ConversationContext, repos: [Repo]) async throws -> ClassifierVerdict {
        let body: JSON = [
            "model": .string(model), "max_tokens": .int(Int64(Limits.classifierMaxTokens)),
            "messages": [["role": "user", "content": .string(Self.prompt(request, context: context, repos: repos))]],
        ]
        var headers = Headers()
        headers.set("x-api-key", apiKey)
        headers.set("anthropic-version", Self.apiVersion)
        headers.set("Content-Type", "application/json")
        let response = try await fetch(FetchRequest(baseURL + "/v1/messages", method: "POST", headers: headers, body: body.bytes,
                                                    timeouts: Lifetimes.outboundTimeouts))
        let bytes = try await response.bodyBytes(limit: Limits.maxAnthropicResponseBytes)
        let answer = try? JSON.parse(bytes)
        guard (200..<300).contains(response.status) else {
            throw Failure.http(status: response.status, message: answer?["error"]?["message"]?.string ?? "")
        }
        let text = answer?["content"]?.array?.compactMap { $0["type"]?.string == "text" ? $0["text"]?.string : nil }.joined() ?? ""
        return try Self.parseVerdict(text, repos: repos)
    }

    /// The model's text as a verdict about `repos`.
    static func parseVerdict(_ text: String, repos: [Repo]) throws(Failure) -> ClassifierVerdict {
        // Models sometimes wrap the object in a code fence or a sentence: take the outermost braces.
        guard let open = text.firstIndex(of: "{"), let close = text.lastIndex(of: "}"), open < close,
              let object = try? JSON.parse(String(text[open...close])), object.object != nil else {
            throw .unusableAnswer("no JSON object in \"\(text.prefix(80))\"")
        }
        guard let level = object["confidence"]?.string.flatMap({ Confidence(rawValue: $0.lowercased()) }) else {
            throw .unusableAnswer("confidence is not high, medium or low")
        }
        func repo(_ id: String) -> Repo? { repos.first { $0.id == id.lowercased() } }
        var chosen: Repo?
        switch object["repoId"] {
        case .none, .null?: chosen = nil
        case .string(let id)?:
            guard let found = repo(id) else { throw .unusableAnswer("repoId \"\(id.prefix(80))\" is not in the list") }
            chosen = found
        default: throw .unusableAnswer("repoId is neither a string nor null")
        }
        let alternatives = (object["alternatives"]?.array ?? []).compactMap { $0.string.flatMap(repo) }
        return ClassifierVerdict(repo: chosen, confidence: chosen == nil ? .low : level,
                                 reasoning: object["reasoning"]?.string ?? "", alternatives: alternatives)
    }

    static func prompt(_ request: String, context: ConversationContext, repos: [Repo]) -> String {
        var lines = ["You route requests made in a Slack workspace to the code repository they are about.", "", "Repositories:"]
        for repo in repos {
            lines.append("- id: \(repo.id)")
            if let description = repo.description, !description.isEmpty { lines.append("  description: \(description)") }
            if !repo.aliases.isEmpty { lines.append("  aliases: \(repo.aliases.joined(separator: ", "))") }
            if !repo.keywords.isEmpty { lines.append("  keywords: \(repo.keywords.joined(separator: ", "))") }
            lines.append("  default branch: \(repo.defaultBranch)")
            lines.append("  private: \(repo.isPrivate)")
        }
        lines.append("")
        lines.append("Slack channel: " + (context.channel.name.map { "#\($0) " } ?? "") + "(id \(context.channel.id))")
        if let topic = context.channel.topic { lines.append("Channel topic: " + String(topic.prefix(maxContextCharacters))) }
        if let purpose = context.channel.purpose { lines.append("Channel purpose: " + String(purpose.prefix(maxContextCharacters))) }
        if let thread = context.threadText {
            lines += ["", "Earlier messages in the thread:", String(thread.prefix(maxContextCharacters))]
        }
        lines += [
            "", "Request:", String(request.prefix(maxRequestCharacters)), "",
            "Answer with only a JSON object, no other text:",
            #"{"repoId": "<an id from the list, or null>", "confidence": "high" | "medium" | "low", "#
                + #""reasoning": "<one sentence>", "alternatives": ["<other ids that could fit>"]}"#,
        ]
        return lines.joined(separator: "\n")
    }
}
