/// Bytes waiting to be sent on one socket. Memory is malloc'd and never moves while the kernel reads
/// it: a socket appends to a *staging* buffer while the *in-flight* one is being sent, then swaps.
///
/// Ownership: owned by one `StreamSocket`; returned to its loop's `SendBufferPool` when empty, so an
/// idle connection holds no send memory.
final class SendBuffer {
    private(set) var base: UnsafeMutableRawPointer
    private(set) var capacity: Int
    /// Bytes stored.
    private(set) var count = 0
    /// Bytes already sent (the kernel took them).
    var sent = 0

    init(capacity: Int) {
        self.capacity = capacity
        base = UnsafeMutableRawPointer.allocate(byteCount: capacity, alignment: 16)
    }

    deinit { base.deallocate() }

    var unsent: Int { count - sent }

    /// Appends bytes, growing if needed. Never call while this buffer is in flight.
    func append(_ bytes: UnsafeRawBufferPointer) {
        guard bytes.count > 0 else { return }
        reserve(count + bytes.count)
        (base + count).copyMemory(from: bytes.baseAddress!, byteCount: bytes.count)
        count += bytes.count
    }

    private func reserve(_ needed: Int) {
        guard needed > capacity else { return }
        var newCapacity = capacity
        while newCapacity < needed { newCapacity *= 2 }
        let newBase = UnsafeMutableRawPointer.allocate(byteCount: newCapacity, alignment: 16)
        newBase.copyMemory(from: base, byteCount: count)
        base.deallocate()
        base = newBase
        capacity = newCapacity
    }

    func reset() {
        count = 0
        sent = 0
    }
}

/// A loop's spare send buffers. Small ones are kept for reuse; big ones are freed so one large
/// response does not pin memory forever.
final class SendBufferPool {
    static let bufferBytes = 16 * 1024
    static let maxPooledBuffers = 256
    private var spare: [SendBuffer] = []

    func take() -> SendBuffer { spare.popLast() ?? SendBuffer(capacity: Self.bufferBytes) }

    func give(_ buffer: SendBuffer) {
        guard spare.count < Self.maxPooledBuffers, buffer.capacity <= 4 * Self.bufferBytes else { return }
        buffer.reset()
        spare.append(buffer)
    }
}
