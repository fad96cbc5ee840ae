import Histogram
import Synchronization

/// Counts and latencies of the connections on one loop. Loop-bound while the load runs; read after.
final class LoopStats: @unchecked Sendable {
    var histogram = Histogram<UInt64>(highestTrackableValue: 60_000_000, numberOfSignificantValueDigits: .three)
    var errors = 0
    var non2xx = 0
    var lastError: String?
    /// Responses so far, read by the progress printer on another thread.
    let completed = Atomic<Int>(0)

    func record(latencyNanoseconds: UInt64) {
        _ = histogram.record(max(1, latencyNanoseconds / 1000))
        completed.add(1, ordering: .relaxed)
    }

    func recordStatus(_ status: Int) {
        if !(200..<300).contains(status) { non2xx += 1 }
    }
}
