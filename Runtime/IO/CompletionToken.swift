/// What an io_uring operation was, packed into the 64-bit `user_data` of its SQE so a completion finds
/// its handler without any lookup structure beyond the loop's handler table.
///
/// Layout, most significant bit first:
/// - bits 63–40: generation of the handler slot (24 bits); a stale completion for a reused slot is dropped
/// - bits 39–8:  handler slot index (32 bits)
/// - bits 7–0:   `IOOperation` raw value
public struct CompletionToken: Equatable, Sendable {
    public var slot: UInt32
    public var generation: UInt32
    public var operation: IOOperation

    static let generationMask: UInt32 = 0xFF_FFFF

    public init(slot: UInt32, generation: UInt32, operation: IOOperation) {
        precondition(generation <= Self.generationMask, "generation wraps at 24 bits")
        self.slot = slot
        self.generation = generation
        self.operation = operation
    }

    public var userData: UInt64 {
        UInt64(generation) << 40 | UInt64(slot) << 8 | UInt64(operation.rawValue)
    }

    /// Returns nil for user data no handler of ours produced (an unknown operation byte).
    public init?(userData: UInt64) {
        guard let operation = IOOperation(rawValue: UInt8(truncatingIfNeeded: userData)) else { return nil }
        self.operation = operation
        self.slot = UInt32(truncatingIfNeeded: userData >> 8)
        self.generation = UInt32(truncatingIfNeeded: userData >> 40) & Self.generationMask
    }
}

/// The kinds of operation a loop submits. A handler sees the kind with each completion.
public enum IOOperation: UInt8, Sendable {
    case accept = 1
    case receive
    case send
    case connect
    case close
    case cancel
    case wakeup
    case shutdown
    case fsync
}
