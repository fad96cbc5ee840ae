import RuntimeAPI

/// The control plane's settings, read from the app's vars (`runtime deploy --var NAME=VALUE` overrides
/// them) with the defaults of reference §2.6 and §1.17.
struct Config: Sendable {
    var pathPrefix: String
    var workerURL: String
    var webAppURL: String
    var sandboxProviderURL: String
    var githubAPIURL: String
    var modelProvider: String
    var defaultModel: String
    var agent: String
    var inactivityTimeoutMs: Int64
    var executionTimeoutMs: Int64
    var subscribeTimeoutMs: Int64
    var heartbeatStaleMs: Int64

    init(_ env: Env) {
        func value(_ name: String, _ fallback: String) -> String {
            guard let text = env.vars[name], !text.isEmpty else { return fallback }
            return text
        }
        func milliseconds(_ name: String, _ fallback: Int64) -> Int64 {
            guard let text = env.vars[name], let number = Int64(text), number > 0 else { return fallback }
            return number
        }
        var prefix = value("PATH_PREFIX", "")
        while prefix.hasSuffix("/") { prefix.removeLast() }
        pathPrefix = prefix
        workerURL = Self.trimmed(value("WORKER_URL", "http://127.0.0.1:8787/api"))
        webAppURL = Self.trimmed(value("WEB_APP_URL", "http://127.0.0.1:8787"))
        sandboxProviderURL = Self.trimmed(value("SANDBOX_PROVIDER_URL", "http://127.0.0.1:8787/sandbox-provider"))
        githubAPIURL = Self.trimmed(value("GITHUB_API_URL", "https://api.github.com"))
        modelProvider = value("MODEL_PROVIDER", "anthropic")
        defaultModel = value("DEFAULT_MODEL", Models.defaultModel)
        agent = value("AGENT", "shell")
        inactivityTimeoutMs = milliseconds("SANDBOX_INACTIVITY_TIMEOUT_MS", Timing.inactivityTimeoutMs)
        executionTimeoutMs = milliseconds("EXECUTION_TIMEOUT_MS", Timing.executionTimeoutMs)
        subscribeTimeoutMs = milliseconds("SUBSCRIBE_TIMEOUT_MS", Timing.subscribeTimeoutMs)
        heartbeatStaleMs = milliseconds("HEARTBEAT_STALE_MS", Timing.heartbeatStaleMs)
    }

    private static func trimmed(_ url: String) -> String {
        var url = url
        while url.hasSuffix("/") { url.removeLast() }
        return url
    }
}

/// The lifecycle timings of reference §2.6 (control plane side), in milliseconds.
enum Timing {
    /// A sandbox with no prompt activity for this long is snapshotted and stopped (when nobody watches).
    static let inactivityTimeoutMs: Int64 = 10 * 60 * 1000
    /// How much longer a watched or questioning sandbox is kept when the inactivity timeout hits.
    static let inactivityExtensionMs: Int64 = 5 * 60 * 1000
    /// A sandbox whose last heartbeat is older than this is stale.
    static let heartbeatStaleMs: Int64 = 90 * 1000
    /// A spawn stuck in spawning/connecting longer than this is marked failed.
    static let spawnStuckMs: Int64 = 2 * 60 * 1000
    /// No new spawn within this long of the last one (unless it failed or stopped).
    static let spawnCooldownMs: Int64 = 30 * 1000
    /// `ready` without a socket: wait this long after the spawn before trying again.
    static let readyWithoutSocketMs: Int64 = 60 * 1000
    /// The circuit breaker: this many spawn failures within the window stop further spawns.
    static let breakerFailures = 3
    static let breakerWindowMs: Int64 = 5 * 60 * 1000
    /// A prompt still processing after this long is failed and the queue moves on.
    static let executionTimeoutMs: Int64 = 60 * 60 * 1000
    /// A client that has not subscribed this long after connecting is closed with 4008.
    static let subscribeTimeoutMs: Int64 = 30 * 1000
    /// How long PR creation waits for the sandbox's push.
    static let pushTimeoutMs: Int64 = 180 * 1000
    /// The floor for re-arming the alarm.
    static let minimumAlarmDelayMs: Int64 = 1000
}

/// Size limits on what clients and sandboxes may send; each has a clear error past it.
enum Limits {
    static let maxRequestBodyBytes = 1024 * 1024
    static let maxPromptBytes = 256 * 1024
    static let maxTitleBytes = 512
    static let maxNameBytes = 256
    static let maxClientFrameBytes = 512 * 1024
    static let maxSandboxFrameBytes = 1024 * 1024
    static let maxAttachments = 16
    /// Replay to a late joiner (reference §1.11).
    static let replayMessages = 100
    static let replayEvents = 2000
    /// Page sizes of the REST lists.
    static let defaultSessionPage = 50
    static let maxSessionPage = 100
    static let maxEventPage = 200
    static let maxMessagePage = 100
    /// Sockets per session (clients and the sandbox).
    static let maxClientsPerSession = 256
}

/// Model ids (reference §1.6): canonical names, plus `provider/model` ids passed through unchanged.
enum Models {
    static let defaultModel = "claude-haiku-4-5"
    static let canonical: Set<String> = ["claude-opus-4-5", "claude-sonnet-4-5", "claude-haiku-4-5"]

    /// A model id the session may use: a canonical id, or `provider/model` (such as the web's full
    /// Bedrock ids, which the original silently dropped). Nil for anything else.
    static func normalize(_ id: String?) -> String? {
        guard let id = id?.trimmed, !id.isEmpty, id.utf8.count <= 200 else { return nil }
        if canonical.contains(id) { return id }
        let parts = id.split(separator: "/", maxSplits: 1)
        if parts.count == 2, !parts[0].isEmpty, !parts[1].isEmpty,
           id.allSatisfy({ $0.isLetter || $0.isNumber || "-._:/@".contains($0) }) {
            return id
        }
        return nil
    }

    /// What the sandbox gets: `provider/model`.
    static func sandboxModel(_ id: String, provider: String) -> String {
        id.contains("/") ? id : provider + "/" + id
    }
}

extension String {
    var trimmed: String {
        var text = Substring(self)
        while let first = text.first, first.isWhitespace { text.removeFirst() }
        while let last = text.last, last.isWhitespace { text.removeLast() }
        return String(text)
    }
}
