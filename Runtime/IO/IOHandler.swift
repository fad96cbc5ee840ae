/// Something that owns io_uring operations and receives their completions.
///
/// Threading: a handler belongs to exactly one loop; `ioCompleted` is called on that loop's thread,
/// after the completion batch was copied out of the ring, never from inside the drain.
public protocol IOHandler: AnyObject {
    /// `result` is the CQE's `res` (a negative errno on failure); `flags` its `flags`.
    /// For a receive that used a provided buffer, `buffer` holds the bytes; it is lent for the length of
    /// this call only and goes back to the ring afterwards.
    func ioCompleted(_ operation: IOOperation, result: Int32, flags: UInt32, buffer: UnsafeRawBufferPointer?)
}

/// A handler's registration in its loop's handler table. Submitting uses it to build `user_data`.
public struct HandlerID: Equatable, Sendable {
    public let slot: UInt32
    public let generation: UInt32

    public func token(_ operation: IOOperation) -> CompletionToken {
        CompletionToken(slot: slot, generation: generation, operation: operation)
    }
}

/// Something that batches work within a loop turn and acts once before the loop waits
/// (see `Loop.atEndOfTurn(_:)`).
public protocol EndOfTurnHandler: AnyObject {
    func endOfTurn()
}
