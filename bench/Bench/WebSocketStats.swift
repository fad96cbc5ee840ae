import Histogram
import Synchronization

/// Counts and latencies of the WebSocket connections on one loop. The histogram, errors and failures are
/// loop-bound while the load runs and read on the loop at the end; the atomics are read by the progress
/// printer on the main thread.
final class WebSocketStats: @unchecked Sendable {
    var histogram = Histogram<UInt64>(highestTrackableValue: 60_000_000, numberOfSignificantValueDigits: .three)
    var errors = 0
    var lastError: String?
    /// The first failure to open a connection, kept apart from `lastError` so `bench ws idle` can say which
    /// limit stopped it.
    var firstOpenFailure: WebSocketClientFailure?
    /// Measured messages: echo round trips, or broadcast deliveries (one per member per message).
    let messages = Atomic<Int>(0)
    /// Broadcast only: messages the senders sent and got back.
    let sent = Atomic<Int>(0)
    /// Connections past the upgrade and not yet closed.
    let open = Atomic<Int>(0)
    /// Connections whose first attempt has not yet ended (open, failed or skipped).
    let unsettled = Atomic<Int>(0)
    /// Connections whose socket is still there (connecting, open or closing).
    let live = Atomic<Int>(0)

    /// Records one message and its latency.
    func record(latencyNanoseconds: UInt64) {
        _ = histogram.record(max(1, latencyNanoseconds / 1000))
        messages.add(1, ordering: .relaxed)
    }

    func recordError(_ failure: WebSocketClientFailure) { recordError(failure.description) }

    func recordError(_ message: String) {
        errors += 1
        lastError = message
    }

    /// Starts a measured stretch: forgets what the warm-up recorded. On the loop.
    func reset() {
        histogram.reset()
        errors = 0
        lastError = nil
        messages.store(0, ordering: .relaxed)
        sent.store(0, ordering: .relaxed)
    }

    /// What was recorded since `reset`, as a segment part of `nanoseconds` of wall time. On the loop.
    func snapshot(nanoseconds: UInt64) -> SegmentResult {
        SegmentResult(histogram: histogram, requests: messages.load(ordering: .relaxed), errors: errors, non2xx: 0,
                      nanoseconds: nanoseconds, lastError: lastError)
    }
}
