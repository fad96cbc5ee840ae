import RuntimeWebSocket

/// Every size limit and timeout of the bridge, named in one place. Those with an environment variable
/// (see `BridgeConfig`) are defaults the environment may override.
enum BridgeLimits {
    // MARK: Control plane link

    /// Largest message accepted from the control plane, counted after reassembly (a prompt's content is
    /// most of it). A larger one closes the socket with 1009 and the bridge reconnects.
    static let maxIncomingMessageBytes = 4 * 1024 * 1024
    /// Largest event the bridge sends: what the control plane (a runtime app) accepts by default. An event
    /// that would be larger has its text cut to fit (`BridgeEvent.encoded()`).
    static let maxOutgoingEventBytes = WebSocketLimits.defaultMaxMessageBytes
    /// First wait before reconnecting; it doubles after each failed attempt.
    static let reconnectInitialDelay: Duration = .seconds(1)
    /// Longest wait between reconnect attempts.
    static let reconnectMaxDelay: Duration = .seconds(60)
    /// `HEARTBEAT_INTERVAL_SECONDS` unless set.
    static let defaultHeartbeatInterval: Duration = .seconds(30)
    /// Upgrade statuses after which reconnecting cannot help, so the bridge exits: 401 (token), 403
    /// (sandbox id), 404 (no such session), 410 (sandbox stopped or stale).
    static let fatalUpgradeStatuses: Set<Int> = [401, 403, 404, 410]
    /// Events kept while the control plane is unreachable, sent on the next connection. Tokens of one part
    /// replace each other (each carries the whole text), so this counts mostly tool calls and steps.
    static let maxBufferedEvents = 10_000
    /// Bytes of events kept while the control plane is unreachable; past either limit the oldest events go
    /// first (never an `execution_complete` or a push result).
    static let maxBufferedBytes = 32 * 1024 * 1024
    /// After `shutdown`, how long the control plane has to answer our close frame before the bridge exits
    /// anyway.
    static let shutdownCloseWait: Duration = .seconds(5)

    // MARK: Prompts

    /// `PROMPT_TIMEOUT_SECONDS` unless set: the longest one prompt may run, with either agent. The original
    /// capped OpenCode turns at 300 s, too short for real work.
    static let defaultPromptTimeout: Duration = .seconds(30 * 60)
    /// Token events of one part go out at most this often (about 20 a second); the last text always goes.
    static let tokenInterval: Duration = .milliseconds(50)
    /// Most text kept for one part; the shell agent's whole output is one part. Past it the text ends with a
    /// truncation note and further bytes are only counted. Half the outgoing event limit, so JSON escaping
    /// rarely forces a second cut.
    static let maxPartTextBytes = 512 * 1024
    /// Longest string kept in a `tool_call`'s output or in any string of its arguments.
    static let maxToolFieldBytes = 64 * 1024
    /// Prompts whose outcome is remembered, so a prompt the control plane sends again (after a reconnect)
    /// is answered with its `execution_complete` instead of running twice.
    static let rememberedCompletions = 256
    /// How long a stopped or refused bridge waits for the running prompt to wind down before exiting.
    static let exitStopWait: Duration = .seconds(10)

    // MARK: Shell agent and git

    /// After `stop` sends SIGTERM to the prompt's process group, SIGKILL follows after this.
    static let killGrace: Duration = .seconds(2)
    /// After the shell exits, how long processes it left in the background may keep its output open
    /// before the bridge stops reading (they keep running).
    static let outputDrainGrace: Duration = .milliseconds(500)
    /// One read from a child's output pipe.
    static let readChunkBytes = 64 * 1024
    /// `git config`, `git rev-parse`.
    static let gitCommandTimeout: Duration = .seconds(30)
    /// `git push`; below the control plane's 180 s wait, so its answer arrives in time.
    static let pushTimeout: Duration = .seconds(150)
    /// Output kept from a git command.
    static let maxGitOutputBytes = 64 * 1024
    /// Tail of git's (redacted) output quoted in a `push_error`.
    static let maxPushErrorDetailBytes = 600

    // MARK: OpenCode

    /// Longest SSE event (its data lines together) read from `GET /event`; a longer one is skipped whole.
    static let maxSSEEventBytes = 8 * 1024 * 1024
    /// At startup, how long OpenCode may take to answer before the bridge connects without a session (it
    /// tries again at the first prompt).
    static let openCodeStartupWait: Duration = .seconds(30)
    /// Between attempts to reach an OpenCode that is not up yet.
    static let openCodeRetryInterval: Duration = .milliseconds(500)
    /// After `GET /event` answered, how long to wait for its first event (`server.connected`, sent once
    /// the stream is subscribed) before sending the prompt anyway.
    static let openCodeSubscribeWait: Duration = .seconds(5)
    /// Connect timeout for OpenCode requests.
    static let openCodeConnectTimeout: Duration = .seconds(5)
    /// Whole-request timeout for OpenCode calls other than the event stream.
    static let openCodeRequestTimeout: Duration = .seconds(60)
    /// Largest OpenCode response body read (the session's message list is the large one).
    static let maxOpenCodeResponseBytes = 32 * 1024 * 1024
    /// After `POST /session/{id}/abort`, how long to wait for OpenCode to report the session idle before
    /// the stopped prompt completes anyway.
    static let abortSettleWait: Duration = .seconds(5)
    /// Ports reported by `port_detected` are in this range.
    static let detectablePorts = 1024...65535
}

extension Duration {
    /// "1800 s", "0.5 s": for logs and error texts.
    var readable: String {
        let (seconds, attoseconds) = components
        if attoseconds == 0 { return "\(seconds) s" }
        let tenths = (Double(seconds) + Double(attoseconds) / 1e18) * 10
        return "\(tenths.rounded() / 10) s"
    }
}
