import Foundation

/// Runs blocking work (git, tar, deleting a tree) on a thread of its own, so a runtime loop thread is
/// never held by it; the awaiting request resumes on its loop when the work is done.
enum OffLoop {
    static func run<T: Sendable>(_ name: String, _ work: @escaping @Sendable () throws -> T) async throws -> T {
        try await withCheckedThrowingContinuation { continuation in
            let thread = Thread { continuation.resume(with: Result { try work() }) }
            thread.name = "sandbox-provider " + name
            thread.start()
        }
    }

    /// Starts `work` on a thread of its own without waiting for it.
    static func detach(_ name: String, _ work: @escaping @Sendable () -> Void) {
        let thread = Thread(block: work)
        thread.name = "sandbox-provider " + name
        thread.start()
    }

    /// Runs `work` on a thread of its own; nil when it takes longer than `seconds` (it goes on).
    static func runBounded<T: Sendable>(seconds: Double, name: String, _ work: @escaping @Sendable () -> T) async -> T? {
        await withCheckedContinuation { (continuation: CheckedContinuation<T?, Never>) in
            let once = ResumeOnce(continuation)
            detach(name) { once.resume(work()) }
            DispatchQueue.global().asyncAfter(deadline: .now() + seconds) { once.resume(nil) }
        }
    }
}

/// A continuation resumed by whichever of two parties comes first.
private final class ResumeOnce<T: Sendable>: @unchecked Sendable {
    private let lock = NSLock()
    private var continuation: CheckedContinuation<T?, Never>?

    init(_ continuation: CheckedContinuation<T?, Never>) { self.continuation = continuation }

    func resume(_ value: T?) {
        lock.lock()
        let pending = continuation
        continuation = nil
        lock.unlock()
        pending?.resume(returning: value)
    }
}
