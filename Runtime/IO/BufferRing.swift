import CURing
#if canImport(Glibc)
import Glibc
#endif

/// A provided-buffer ring: receive buffers the kernel picks from when a multishot receive has data,
/// so a connection that is idle holds no buffer of its own.
///
/// Ownership: a buffer belongs to the kernel until a completion names its id; the loop lends it to
/// one `ioCompleted` call and then `recycle`s it. Recycling a buffer twice is a bug and traps.
final class BufferRing {
    let group: Int32
    let bufferBytes: Int
    let count: Int
    private let ring: UnsafeMutablePointer<io_uring>
    private let buffers: UnsafeMutablePointer<io_uring_buf_ring>
    private let memory: UnsafeMutableRawPointer
    private let mask: Int32
    /// Which buffers are with the kernel, to catch double recycling.
    private var withKernel: [Bool]
    /// Whether the ring is still registered with `ring` (see `unregister`).
    private var registered = true

    init(ring: UnsafeMutablePointer<io_uring>, group: Int32, bufferBytes: Int, count: Int) throws(IOError) {
        self.ring = ring
        self.group = group
        self.bufferBytes = bufferBytes
        self.count = count
        self.mask = Int32(count - 1)
        var error: Int32 = 0
        guard let buffers = curing_setup_buf_ring(ring, UInt32(count), group, &error) else {
            throw IOError(errno: error, "register provided-buffer ring (needs Linux 5.19+)")
        }
        self.buffers = buffers
        self.memory = UnsafeMutableRawPointer.allocate(byteCount: bufferBytes * count, alignment: 4096)
        self.withKernel = Array(repeating: false, count: count)
        for id in 0..<count {
            add(id, offset: id)
        }
        io_uring_buf_ring_advance(buffers, Int32(count))
    }

    /// Takes the ring back from the kernel. The owner of the io_uring calls this before it exits the
    /// io_uring: unregistering needs the io_uring alive, and stored properties are released only after
    /// their owner's deinit ran (so relying on this object's deinit would touch a freed io_uring).
    func unregister() {
        guard registered else { return }
        registered = false
        curing_free_buf_ring(ring, buffers, UInt32(count), group)
    }

    deinit {
        unregister()
        memory.deallocate()
    }

    /// The bytes of buffer `id` that a completion filled.
    func bytes(id: Int, length: Int) -> UnsafeRawBufferPointer {
        precondition(id >= 0 && id < count, "buffer id out of range")
        precondition(length >= 0 && length <= bufferBytes, "completion longer than its buffer")
        return UnsafeRawBufferPointer(start: memory + id * bufferBytes, count: length)
    }

    /// Marks buffer `id` as taken by a completion.
    func taken(id: Int) {
        precondition(withKernel[id], "buffer \(id) completed twice")
        withKernel[id] = false
    }

    /// Gives buffer `id` back to the kernel.
    func recycle(id: Int) {
        add(id, offset: 0)
        io_uring_buf_ring_advance(buffers, 1)
    }

    private func add(_ id: Int, offset: Int) {
        precondition(!withKernel[id], "buffer \(id) recycled twice")
        withKernel[id] = true
        io_uring_buf_ring_add(buffers, memory + id * bufferBytes, UInt32(bufferBytes), UInt16(id), mask,
                              Int32(offset))
    }
}
