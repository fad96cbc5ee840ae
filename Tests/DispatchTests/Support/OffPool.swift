import Foundation

/// Runs blocking work (starting runtimes, `runtime deploy`, which compiles) on a thread of its own, so
/// it never holds one of the few cooperative-pool threads other suites' tasks run on.
func offPool<T: Sendable>(_ body: @escaping @Sendable () throws -> T) async throws -> T {
    try await withCheckedThrowingContinuation { continuation in
        Thread.detachNewThread { continuation.resume(with: Result { try body() }) }
    }
}
