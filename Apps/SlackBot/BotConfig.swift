import RuntimeAPI

/// The bot's settings: vars from `app.jsonc` (`runtime deploy slack-bot --var NAME=VALUE` overrides them)
/// and secrets (`runtime secret put slack-bot NAME`). A secret that is not set, or set empty, reads as
/// nil, so an optional one (ANTHROPIC_API_KEY) missing changes behaviour and breaks nothing.
struct BotConfig: Sendable {
    var pathPrefix: String
    var slackAPIURL: String
    var anthropicAPIURL: String
    var webAppURL: String
    var defaultModel: String
    var classificationModel: String
    var slackBotToken: String?
    var slackSigningSecret: String?
    var internalSecret: String?
    var anthropicAPIKey: String?

    /// What `/events` and `/interactions` answer (503) until both Slack secrets are set.
    static let slackNotConfigured = "Slack is not configured: set SLACK_SIGNING_SECRET and SLACK_BOT_TOKEN "
        + "(runtime secret put slack-bot NAME)"
    static let internalSecretMissing = "INTERNAL_CALLBACK_SECRET is not set (runtime secret put slack-bot INTERNAL_CALLBACK_SECRET)"

    init(_ env: Env) {
        func value(_ name: String, _ fallback: String) -> String {
            guard let text = env.vars[name]?.trimmedSpaces, !text.isEmpty else { return fallback }
            return text
        }
        func secret(_ name: String) -> String? {
            guard let text = env.secrets[name]?.trimmedSpaces, !text.isEmpty else { return nil }
            return text
        }
        var prefix = value("PATH_PREFIX", "")
        while prefix.hasSuffix("/") { prefix.removeLast() }
        pathPrefix = prefix
        slackAPIURL = Self.withoutTrailingSlash(value("SLACK_API_URL", "https://slack.com/api"))
        anthropicAPIURL = Self.withoutTrailingSlash(value("ANTHROPIC_API_URL", "https://api.anthropic.com"))
        webAppURL = Self.withoutTrailingSlash(value("WEB_APP_URL", "http://127.0.0.1:8787"))
        defaultModel = value("DEFAULT_MODEL", Models.fallback)
        classificationModel = value("CLASSIFICATION_MODEL", Models.fallback)
        slackBotToken = secret("SLACK_BOT_TOKEN")
        slackSigningSecret = secret("SLACK_SIGNING_SECRET")
        internalSecret = secret("INTERNAL_CALLBACK_SECRET")
        anthropicAPIKey = secret("ANTHROPIC_API_KEY")
    }

    /// The route a request path names: PATH_PREFIX removed when present. The control plane's service
    /// binding calls `/callbacks/complete` with no prefix, the public routes come with it; both work.
    func routePath(_ path: String) -> String {
        guard !pathPrefix.isEmpty else { return path }
        if path == pathPrefix { return "/" }
        if path.hasPrefix(pathPrefix + "/") { return String(path.dropFirst(pathPrefix.count)) }
        return path
    }

    /// The web app's page of a session.
    func sessionURL(_ sessionID: String) -> String { webAppURL + "/session/" + sessionID }

    private static func withoutTrailingSlash(_ url: String) -> String {
        var url = url
        while url.hasSuffix("/") { url.removeLast() }
        return url
    }
}

/// Size limits on everything the bot parses or sends; past one, a clear status (413 for bodies).
enum Limits {
    /// Largest Events API request body (Slack's are a few KB; a message is at most 40,000 characters).
    static let maxEventBodyBytes = 512 * 1024
    /// Largest interactions request body (form-encoded, one `payload` field).
    static let maxInteractionBodyBytes = 512 * 1024
    /// Largest completion callback body (ids, a timestamp and a small context object).
    static let maxCallbackBodyBytes = 64 * 1024
    /// Longest `url_verification` challenge echoed back.
    static let maxChallengeBytes = 1024
    /// Longest Slack id (user, channel, team, event id) or message timestamp accepted.
    static let maxSlackIDBytes = 64
    /// Longest session or message id of the control plane accepted (its own limit).
    static let maxSessionIDBytes = 128
    /// Longest request text sent as a prompt (the control plane takes 256 KiB).
    static let maxPromptBytes = 200 * 1024
    /// Session titles: the request's first characters.
    static let maxTitleCharacters = 100
    /// Largest answer read from Slack, the control plane or Anthropic.
    static let maxSlackResponseBytes = 2 * 1024 * 1024
    static let maxControlPlaneResponseBytes = 8 * 1024 * 1024
    static let maxAnthropicResponseBytes = 256 * 1024
    /// Thread messages read for context (`conversations.replies`), and characters kept of each.
    static let threadContextMessages = 10
    static let maxContextMessageCharacters = 500
    /// The completion summary: characters of the agent's last text, cut at a sentence break.
    static let maxSummaryCharacters = 2000
    /// A Slack message's fallback `text`: the summary's first characters.
    static let fallbackTextCharacters = 150
    /// Key tool actions listed in the completion message, and characters of a command shown.
    static let maxKeyActions = 5
    static let maxActionDetailCharacters = 80
    /// Repositories offered in the "which repository?" menu when the classifier has no alternatives.
    static let maxRepoChoices = 5
    /// Events read per completion: pages of the control plane's maximum page size.
    static let eventPageSize = 200
    static let maxEventPages = 10
    /// Classifier answer size (the Messages API `max_tokens`).
    static let classifierMaxTokens = 500
}

/// How long things last, and how long the bot waits.
enum Lifetimes {
    /// Slack request timestamps more than this far from now are refused (replays).
    static let slackSignatureWindowSeconds: Int64 = 300
    /// Completion callback timestamps (milliseconds) more than this far from now are refused.
    static let callbackWindowMilliseconds: Int64 = 5 * 60 * 1000
    /// An `event_id` seen is ignored when Slack delivers it again within this long.
    static let eventDedupe: Duration = .seconds(3600)
    /// A completion callback handled is ignored when it arrives again within this long.
    static let callbackDedupe: Duration = .seconds(3600)
    /// A request waiting for the user to pick its repository.
    static let pendingRequest: Duration = .seconds(3600)
    /// The control plane's repository list, cached in KV.
    static let repoCache: Duration = .seconds(300)
    /// HTTP 429 from Slack: at most this many retries, each waiting Retry-After seconds, capped.
    static let maxRateLimitRetries = 3
    static let maxRetryAfterSeconds = 30
    /// The wait when a 429 carries no usable Retry-After.
    static let defaultRetryAfterSeconds = 1
    /// Outbound calls to Slack and Anthropic.
    static let outboundTimeouts = FetchTimeouts(connect: .seconds(10), read: .seconds(30), total: .seconds(60))
}

/// The models a Slack user can pick (reference §1.6's canonical ids).
enum Models {
    static let fallback = "claude-haiku-4-5"
    static let choices: [(id: String, name: String)] = [
        ("claude-haiku-4-5", "Claude Haiku 4.5"),
        ("claude-sonnet-4-5", "Claude Sonnet 4.5"),
        ("claude-opus-4-5", "Claude Opus 4.5"),
    ]

    static func name(_ id: String) -> String { choices.first { $0.id == id }?.name ?? id }
    static func isChoice(_ id: String) -> Bool { choices.contains { $0.id == id } }
}

extension String {
    var trimmedSpaces: String {
        var text = Substring(self)
        while let first = text.first, first.isWhitespace { text.removeFirst() }
        while let last = text.last, last.isWhitespace { text.removeLast() }
        return String(text)
    }
}
