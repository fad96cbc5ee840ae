import Synchronization

/// One session of `bench session`: its id, its clients' ws-tokens, its bridge once the provider was called,
/// and how far its events got, which its clients and its bridge share. An event is acknowledged once the
/// first of the session's clients received it; since every client receives the session's events in order,
/// the highest sequence number any client has seen acknowledges every event up to it.
///
/// Threading: loop-bound once the run hands it to the loop; `@unchecked Sendable` only for that hand-over.
final class SessionEntry: @unchecked Sendable {
    let index: Int
    let id: String
    /// One ws-token per client, issued for user `bench-<client>`.
    var tokens: [String] = []
    /// The bridge connected for the latest `/sandbox/create` (or restore) of this session.
    var bridge: SessionBridge?
    /// Every event up to this sequence number is acknowledged.
    private(set) var acknowledged = 0

    init(index: Int, id: String) {
        self.index = index
        self.id = id
    }

    /// A client received event `seq`.
    func received(seq: Int) {
        guard seq > acknowledged else { return }
        acknowledged = seq
        bridge?.acknowledgedMore()
    }

    /// The bridge gave up waiting for events up to `seq` (`SessionBenchLimits.ackTimeout`).
    func writeOff(through seq: Int) {
        acknowledged = max(acknowledged, seq)
    }
}

/// What the clients and bridges of a run count beside `WebSocketStats`: the setup's progress (read by the
/// main thread) and the checks of the fan-out (read on the loop).
final class SessionTally: @unchecked Sendable {
    /// Clients whose (latest) subscription got to `history_complete`.
    let subscribed = Atomic<Int>(0)
    /// Bridges that got their `prompt` command.
    let prompted = Atomic<Int>(0)
    /// Clients that saw their session's `execution_complete` after the load.
    let completed = Atomic<Int>(0)
    /// `sandbox_error` messages clients were sent (a spawn that failed).
    let sandboxErrors = Atomic<Int>(0)
    /// Events sent, over the whole run (warm-up included), per session index. Loop-bound.
    var sentPerSession: [Int]
    /// Events a client received with a lower sequence number than one it had already received. Loop-bound.
    var outOfOrder = 0
    /// Events a rate-paced bridge did not send because `--in-flight` were unacknowledged. Loop-bound.
    var skipped = 0
    /// Events written off after `SessionBenchLimits.ackTimeout` with no client receiving them. Loop-bound.
    var writtenOff = 0
    /// The latest `sandbox_error` a client was sent (a failed spawn says why here). Loop-bound.
    var lastSandboxError: String?

    init(sessions: Int) {
        sentPerSession = Array(repeating: 0, count: sessions)
    }
}
