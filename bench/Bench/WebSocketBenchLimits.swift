/// The bench's own WebSocket client limits and pacing; every fixed number of `bench ws` is here.
enum WebSocketBenchLimits {
    /// From starting a connect to the 101: past it the attempt counts as failed. Generous, so a SYN the
    /// server's full backlog dropped (retransmitted after 1 s, then 3 s) is not mistaken for a limit.
    static let handshakeTimeout: Duration = .seconds(10)
    /// Wait before a connection that failed or was closed during the load reconnects, so a server that
    /// refuses everything is not hammered in a tight loop.
    static let reconnectDelay: Duration = .milliseconds(100)
    /// Connects plus upgrades in flight at once, for the whole process (split over the loops). Opening
    /// thousands at once would overflow the server's accept backlog and measure SYN retransmits.
    static let maxConnectsInFlight = 256
    /// `bench ws idle` opens fewer at once: each new member's greeting is delivered to the whole room, and
    /// a small window keeps that queued work (window x room size deliveries) short enough that upgrades
    /// are still answered promptly.
    static let idleConnectsInFlight = 32
    /// `bench ws idle`: how long a member waits for its own greeting to come back before it counts an
    /// error and lets the next connection open.
    static let greetingTimeout: Duration = .seconds(30)
    /// How long a segment waits for all of its connections to be open before the load starts anyway.
    static let openTimeout: Duration = .seconds(60)
    /// How long stopping waits for the close handshakes before the next segment starts regardless.
    static let closeWait: Duration = .seconds(5)
    /// `bench ws idle`: the deliveries of the one message per connection have finished once none has
    /// arrived for this long...
    static let quietPeriod: Duration = .seconds(1)
    /// ...or, at the latest, this long after the last connection opened. The greetings cost about n²/2
    /// deliveries per room of n members (11 million for 15 000 connections in 10 rooms), which a server
    /// doing 50 000 deliveries/s needs minutes for.
    static let maxDrainWait: Duration = .seconds(600)
    /// Rooms `bench ws idle` spreads its connections over, by default (`-0` ... `-9` after the path).
    static let defaultIdleRooms = 10
    /// A process this close to its descriptor limit (listeners, rings, eventfds and our spare descriptors
    /// take a few) is reported as out of descriptors.
    static let descriptorLimitMargin = 16
    /// Largest message the bench accepts from a server.
    static let maxMessageBytes = 1 << 20
}
