/// Every fixed number of `bench session`: its bounds, windows, timeouts and pacing.
enum SessionBenchLimits {
    /// Most sessions one run creates.
    static let maxSessions = 10_000
    /// Most clients per session: the control plane accepts at most 256 client sockets per session
    /// (`Limits.maxClientsPerSession`).
    static let maxClientsPerSession = 256
    /// Largest `--in-flight`.
    static let maxInFlight = 10_000
    /// Largest `--rate`, in events per second per session.
    static let maxRate = 100_000.0
    /// Default `--in-flight`: unacknowledged events per session, so the session object always has the
    /// next few events waiting and can commit them together.
    static let defaultInFlight = 8

    /// REST calls (create, ws-token, prompt) in flight at once, one keep-alive connection each.
    static let restConnections = 16
    /// A REST call with no complete answer after this long fails. A prompt's answer waits for the control
    /// plane's call to the provider, which the bench answers at once.
    static let restTimeout: Duration = .seconds(30)
    /// Longest REST answer body read.
    static let maxResponseBodyBytes = 1 << 20

    /// Client connects plus subscriptions in flight at once: each subscription makes the session object
    /// replay its history and send presence to every client already subscribed.
    static let subscribesInFlight = 128
    /// The run gives up on subscribing when no client got to `history_complete` for this long. (Not a
    /// total: each subscription sends the session's presence list to every client already subscribed, so
    /// filling a session costs the control plane about clients³ bytes, and 100 sessions of 100 clients take
    /// two minutes.)
    static let subscribeStallTimeout: Duration = .seconds(30)
    /// Bridge connects (upgrades with the sandbox token) in flight at once.
    static let bridgeConnectsInFlight = 64

    /// After the prompts: how long the control plane has to call `/sandbox/create` for every session, and
    /// every bridge to connect and get its `prompt` command.
    static let sandboxStartTimeout: Duration = .seconds(30)
    /// Bridges send `heartbeat` this often; the control plane marks a sandbox stale after
    /// `HEARTBEAT_STALE_MS` (90 s by default) without one.
    static let heartbeatInterval: Duration = .seconds(20)
    /// An event that none of its session's clients received within this long counts as lost, and the
    /// session's in-flight window reopens (so one lost event does not stall the session forever).
    static let ackTimeout: Duration = .seconds(10)
    /// How often a bridge checks its oldest unacknowledged event against `ackTimeout`.
    static let ackCheckInterval: Duration = .seconds(1)
    /// After the measured time: how long to wait for `execution_complete` to reach every client, so the
    /// missing-delivery count covers every event sent.
    static let drainWait: Duration = .seconds(30)

    /// Largest request the provider side accepts (head and body).
    static let maxProviderBodyBytes = 1 << 20
}
