import CZlib

/// Raw deflate (no zlib header) for permessage-deflate messages: each message is compressed and sync-flushed
/// so it ends on a byte boundary, and the flush's trailing 00 00 FF FF is removed (RFC 7692 §7.2.1).
///
/// One instance belongs to one connection's sending side and keeps the LZ77 window between messages
/// (context takeover) unless told to reset it. Not thread-safe: use it from one thread at a time.
final class DeflateCompressor {
    /// What an empty message compresses to: an empty stored block without its LEN/NLEN (RFC 7692 §7.2.3.6).
    static let emptyMessage: [UInt8] = [0x00]
    /// Output is produced this many bytes at a time (a message of any size costs memory for what it
    /// compresses to, not for zlib's worst-case bound).
    static let outputStepBytes = DeflateDecompressor.outputStepBytes

    private let stream: UnsafeMutablePointer<z_stream>

    /// Sets up compression at zlib `level` (0-9, or -1 for zlib's default) with a window of `2^windowBits`
    /// bytes (9...15: zlib cannot produce raw deflate with the 256-byte window of 8) and `memoryLevel` (1-9).
    init(level: Int, windowBits: Int, memoryLevel: Int) {
        precondition((9...15).contains(windowBits), "zlib compresses with 9 through 15 window bits, not \(windowBits)")
        precondition((-1...9).contains(level), "zlib levels are -1 through 9, not \(level)")
        precondition((1...9).contains(memoryLevel), "zlib memory levels are 1 through 9, not \(memoryLevel)")
        stream = .allocate(capacity: 1)
        stream.initialize(to: z_stream())
        let status = czlib_deflate_init(stream, Int32(level), -Int32(windowBits), Int32(memoryLevel))
        precondition(status == Z_OK, "deflateInit2 failed with \(status): zlib could not allocate its state")
    }

    deinit {
        deflateEnd(stream)
        stream.deinitialize(count: 1)
        stream.deallocate()
    }

    /// Appends the compressed payload of one whole message to `out`. With `resetAfter`, the next message is
    /// compressed without reference to this one (no context takeover).
    func compressMessage(_ input: UnsafeRawBufferPointer, into out: inout [UInt8], resetAfter: Bool) {
        guard let base = input.baseAddress, input.count > 0 else {
            // zlib emits nothing for a flush without new input; the empty stored block is what it would say.
            out.append(contentsOf: Self.emptyMessage)
            return
        }
        let start = out.count
        var cursor = UnsafeMutablePointer(mutating: base.assumingMemoryBound(to: UInt8.self))
        var remaining = input.count
        while true {
            let room = Self.outputStepBytes
            let end = out.count
            out.append(contentsOf: DeflateDecompressor.zeros[..<room])
            let feed = min(remaining, Int(UInt32.max))
            let (status, produced, consumed) = out.withUnsafeMutableBufferPointer { buffer in
                stream.pointee.next_in = cursor
                stream.pointee.avail_in = UInt32(feed)
                stream.pointee.next_out = buffer.baseAddress! + end
                stream.pointee.avail_out = UInt32(room)
                let status = deflate(stream, Z_SYNC_FLUSH)
                return (status, room - Int(stream.pointee.avail_out), feed - Int(stream.pointee.avail_in))
            }
            out.removeLast(room - produced)
            cursor += consumed
            remaining -= consumed
            precondition(status == Z_OK || status == Z_BUF_ERROR, "deflate failed with \(status) on valid state")
            // A flush is complete once zlib returns with output room to spare and all input taken.
            if remaining == 0 && produced < room { break }
        }
        let tail = DeflateDecompressor.messageTail
        precondition(out.count - start >= tail.count
                     && (0..<tail.count).allSatisfy { out[out.count - tail.count + $0] == tail[$0] },
                     "a sync flush ends with 00 00 FF FF")
        out.removeLast(tail.count)
        if resetAfter { deflateReset(stream) }
    }
}
