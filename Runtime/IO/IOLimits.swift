/// Sizes of the per-loop IO resources. Everything here is allocated when a loop starts.
public struct IOLimits: Sendable {
    /// Submission queue entries per loop. A full queue is flushed to the kernel and retried, so this
    /// bounds batching, not concurrency.
    public static let defaultSubmissionQueueEntries: UInt32 = 1024
    /// Completion queue entries: multishot accept and recv produce completions faster than we submit,
    /// so the CQ is sized at 8x the SQ (liburing's advice).
    public static let defaultCompletionQueueEntries: UInt32 = 8 * 1024
    /// Bytes per provided receive buffer. A read never returns more than this at once.
    public static let defaultReceiveBufferBytes = 16 * 1024
    /// Provided receive buffers per loop (a power of two). Buffers are lent only for the length of one
    /// completion callback, so this bounds how many reads can land between two loop turns; it costs
    /// count x bytes of memory per loop (16 MiB at the defaults).
    public static let defaultReceiveBufferCount = 1024
    /// Completions copied out of the CQ per drain, before any callback runs.
    public static let completionBatch = 256

    public var submissionQueueEntries: UInt32
    public var completionQueueEntries: UInt32
    public var receiveBufferBytes: Int
    public var receiveBufferCount: Int

    public init(submissionQueueEntries: UInt32 = defaultSubmissionQueueEntries,
                completionQueueEntries: UInt32 = defaultCompletionQueueEntries,
                receiveBufferBytes: Int = defaultReceiveBufferBytes,
                receiveBufferCount: Int = defaultReceiveBufferCount) {
        self.submissionQueueEntries = submissionQueueEntries
        self.completionQueueEntries = completionQueueEntries
        self.receiveBufferBytes = receiveBufferBytes
        self.receiveBufferCount = receiveBufferCount
    }

    /// Checks the relations between the limits; called when a loop starts.
    public func validate() {
        precondition(receiveBufferCount > 0 && receiveBufferCount & (receiveBufferCount - 1) == 0,
                     "receiveBufferCount must be a power of two")
        precondition(receiveBufferCount <= 32_768, "buffer ids are 16-bit")
        precondition(completionQueueEntries >= submissionQueueEntries, "CQ must be at least as large as SQ")
        precondition(receiveBufferBytes >= 512, "receive buffers below 512 bytes fragment every request")
    }
}
