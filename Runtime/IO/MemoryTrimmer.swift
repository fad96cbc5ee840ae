import CURing
import Synchronization
#if canImport(Glibc)
import Glibc
#endif

/// Gives freed heap pages back to the system after a burst of frees, such as objects being evicted
/// while their WebSockets hibernate. glibc's allocator keeps freed memory in its arenas (it only returns
/// the top of the heap on its own), so without this a runtime that just put thousands of objects to
/// sleep would keep their pages resident. `malloc_trim` releases every wholly free page of every arena.
///
/// Debounced: a trim runs `delay` after the first request since the last trim, on the trimmer's loop.
/// Threading: `request` from any thread.
public final class MemoryTrimmer: Sendable {
    /// How long after a burst of frees the trim runs.
    public static let defaultDelay: Duration = .seconds(3)

    private let loop: Loop
    private let delay: Duration
    private let requested = Atomic<Bool>(false)
    /// Trims done, for tests and stats.
    private let count = Atomic<Int>(0)

    public init(loop: Loop, delay: Duration = MemoryTrimmer.defaultDelay) {
        self.loop = loop
        self.delay = delay
    }

    public var trims: Int { count.load(ordering: .relaxed) }

    /// Asks for a trim soon. Cheap when one is pending already.
    public func request() {
        guard !requested.exchange(true, ordering: .acquiringAndReleasing) else { return }
        loop.execute { [self] in
            let timer = LoopTimer { [self] in
                requested.store(false, ordering: .releasing)
                malloc_trim(0)
                count.add(1, ordering: .relaxed)
            }
            loop.arm(timer, after: delay)
        }
    }
}
