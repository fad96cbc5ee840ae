/// A one-shot timer on a loop. Owners keep one `LoopTimer` and re-arm it (a connection moves its
/// single deadline from "idle" to "header" to "request"), so arming allocates nothing.
///
/// Threading: create, arm and cancel on the owning loop only; the callback runs there.
public final class LoopTimer {
    /// Monotonic nanoseconds at which the timer fires; meaningful only while armed.
    public internal(set) var deadline: UInt64 = 0
    /// Position in the loop's heap, or -1 when not armed.
    var heapIndex = -1
    let callback: () -> Void

    public init(_ callback: @escaping () -> Void) { self.callback = callback }

    public var isArmed: Bool { heapIndex >= 0 }
}

/// A binary min-heap of armed timers ordered by deadline, with O(log n) re-arm and cancel: each
/// timer knows its own index, so no search and no lazily deleted entries pile up.
struct TimerHeap {
    private var timers: [LoopTimer] = []

    var count: Int { timers.count }
    var earliest: LoopTimer? { timers.first }

    mutating func arm(_ timer: LoopTimer, at deadline: UInt64) {
        if timer.isArmed {
            let old = timer.deadline
            timer.deadline = deadline
            if deadline < old { siftUp(timer.heapIndex) } else { siftDown(timer.heapIndex) }
            return
        }
        timer.deadline = deadline
        timer.heapIndex = timers.count
        timers.append(timer)
        siftUp(timer.heapIndex)
    }

    mutating func cancel(_ timer: LoopTimer) {
        guard timer.isArmed else { return }
        let index = timer.heapIndex
        precondition(timers[index] === timer, "timer heap index out of sync")
        let last = timers.count - 1
        if index != last {
            swapAt(index, last)
        }
        timers.removeLast()
        timer.heapIndex = -1
        if index < timers.count {
            siftDown(index)
            siftUp(index)
        }
    }

    /// Removes and returns the earliest timer if it is due at `now`.
    mutating func popDue(now: UInt64) -> LoopTimer? {
        guard let first = timers.first, first.deadline <= now else { return nil }
        cancel(first)
        return first
    }

    private mutating func swapAt(_ a: Int, _ b: Int) {
        timers.swapAt(a, b)
        timers[a].heapIndex = a
        timers[b].heapIndex = b
    }

    private mutating func siftUp(_ start: Int) {
        var child = start
        while child > 0 {
            let parent = (child - 1) / 2
            guard timers[child].deadline < timers[parent].deadline else { return }
            swapAt(child, parent)
            child = parent
        }
    }

    private mutating func siftDown(_ start: Int) {
        var parent = start
        while true {
            let left = 2 * parent + 1
            guard left < timers.count else { return }
            var smallest = left
            let right = left + 1
            if right < timers.count, timers[right].deadline < timers[left].deadline { smallest = right }
            guard timers[smallest].deadline < timers[parent].deadline else { return }
            swapAt(parent, smallest)
            parent = smallest
        }
    }
}
