import RuntimeAPI

/// What a finished prompt did, read from its events and the session's artifacts (reference §3,
/// "Completion"): the agent's last text, its key tool actions, and the pull requests it opened.
struct CompletionReport: Sendable, Equatable {
    struct PullRequest: Sendable, Equatable {
        var url: String
        var number: Int64?
    }

    /// The last `token` text, cut to `Limits.maxSummaryCharacters` at a sentence break.
    var summary: String?
    /// "Ran `make test`", "Edited `Sources/App.swift`": Edit, Write and Bash calls, in order.
    var actions: [String]
    /// How many more key actions there were than `actions` lists.
    var moreActions: Int
    var pullRequests: [PullRequest]
    /// Compare pages of branches pushed without a pull request (the author had no GitHub token).
    var pushedBranches: [String]
    /// `execution_complete`'s error, when the prompt failed.
    var error: String?

    /// Tools whose calls are worth listing.
    static let keyTools: Set<String> = ["edit", "write", "bash"]

    /// `events`: the message's events, oldest first (`GET /sessions/:id/events`). `artifacts`: the
    /// session's (`GET /sessions/:id/artifacts`); only those of `messageID` count. Artifacts from before
    /// they carried a message id count when they were made while the message's events were.
    init(messageID: String, events: [JSON], artifacts: [JSON]) {
        var lastText: String?
        var calls: [JSON] = []
        var callIndex: [String: Int] = [:]
        var pulls: [PullRequest] = []
        var error: String?
        for event in events {
            let data = event["data"] ?? [:]
            switch event["type"]?.string {
            case "token":
                if let text = data["content"]?.string, !text.trimmedSpaces.isEmpty { lastText = text }
            case "tool_call":
                // One call reports several times (running, then completed): its latest report counts.
                let id = data["callId"]?.string ?? event["id"]?.string ?? String(calls.count)
                if let index = callIndex[id] {
                    calls[index] = data
                } else {
                    callIndex[id] = calls.count
                    calls.append(data)
                }
            case "artifact":
                if data["artifactType"]?.string == "pr", let url = data["url"]?.string, Self.isLinkable(url) {
                    pulls.append(PullRequest(url: url, number: data["metadata"]?["number"]?.int ?? data["prNumber"]?.int))
                }
            case "execution_complete":
                if data["success"]?.bool == false { error = data["error"]?.string }
            default:
                break
            }
        }
        let times = events.compactMap { $0["createdAt"]?.int }
        func ofThisMessage(_ artifact: JSON) -> Bool {
            if let owner = artifact["messageId"]?.string { return owner == messageID }
            guard let first = times.min(), let last = times.max(), let created = artifact["createdAt"]?.int else { return false }
            return created >= first && created <= last
        }
        var branches: [String] = []
        for artifact in artifacts where ofThisMessage(artifact) {
            guard let url = artifact["url"]?.string, Self.isLinkable(url) else { continue }
            switch artifact["type"]?.string {
            case "pr" where !pulls.contains(where: { $0.url == url }):
                pulls.append(PullRequest(url: url, number: artifact["metadata"]?["number"]?.int))
            case "branch" where !branches.contains(url):
                branches.append(url)
            default:
                break
            }
        }
        pushedBranches = branches
        let described = calls.compactMap(Self.describe)
        summary = lastText.map { Self.truncated($0, limit: Limits.maxSummaryCharacters) }
        actions = Array(described.prefix(Limits.maxKeyActions))
        moreActions = max(described.count - Limits.maxKeyActions, 0)
        pullRequests = pulls
        self.error = error
    }

    /// One tool call as a line, or nil for tools not worth listing.
    static func describe(_ call: JSON) -> String? {
        guard let tool = call["tool"]?.string?.lowercased(), keyTools.contains(tool) else { return nil }
        let args = call["args"] ?? [:]
        func detail(_ keys: [String]) -> String {
            let value = keys.lazy.compactMap { args[$0]?.string }.first ?? ""
            let line = value.split(separator: "\n", omittingEmptySubsequences: true).first.map(String.init) ?? value
            return SlackText.prefix(line, Limits.maxActionDetailCharacters)
        }
        switch tool {
        case "bash": return "Ran " + code(detail(["command", "cmd"]))
        case "edit": return "Edited " + code(detail(["filePath", "file_path", "path"]))
        default: return "Wrote " + code(detail(["filePath", "file_path", "path"]))
        }
    }

    /// An http(s) URL that fits in a mrkdwn link `<url|label>` unchanged.
    static func isLinkable(_ url: String) -> Bool {
        (url.hasPrefix("https://") || url.hasPrefix("http://")) && url.utf8.count <= 2048
            && !url.contains(where: { $0.isWhitespace || "<>|".contains($0) })
    }

    /// Inline code in mrkdwn; a backtick inside would end it early.
    static func code(_ text: String) -> String {
        "`" + SlackText.escape(text.replacing("`", with: "'")) + "`"
    }

    /// `text` cut to `limit` characters at the last sentence end (or, lacking one in the second half, the
    /// last space), ending in "…".
    static func truncated(_ text: String, limit: Int) -> String {
        let trimmed = text.trimmedSpaces
        guard trimmed.count > limit else { return trimmed }
        let head = Array(trimmed.prefix(limit - 1))
        let floor = head.count / 2
        var cut: Int?
        for index in stride(from: head.count - 1, through: floor, by: -1) where ".!?\n".contains(head[index]) {
            if index + 1 == head.count || head[index + 1].isWhitespace || head[index] == "\n" {
                cut = index + 1
                break
            }
        }
        if cut == nil { cut = (floor..<head.count).last { head[$0].isWhitespace } }
        return String(head[..<(cut ?? head.count)]).trimmedSpaces + "…"
    }
}
