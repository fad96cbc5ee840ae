import CZlib

/// Raw inflate (no zlib header) for permessage-deflate messages, with the output bounded while it is
/// produced, so a small message that expands without end (a zip bomb) is stopped at the limit rather than
/// after it has filled memory.
///
/// One instance belongs to one connection's receiving side and keeps the LZ77 window between messages
/// (context takeover) unless told to reset it. Not thread-safe: use it from one thread at a time.
final class DeflateDecompressor {
    enum Failure: Error, Equatable {
        /// The output would exceed the limit.
        case tooBig
        /// The input is not valid deflate data; zlib's message.
        case corrupt(String)
        /// zlib failed for a reason of its own (out of memory).
        case failed(String)
    }

    /// What the sender removed from the end of every message (RFC 7692 §7.2.1) and the receiver puts back:
    /// the LEN/NLEN of the empty stored block that a sync flush ends with.
    static let messageTail: [UInt8] = [0x00, 0x00, 0xFF, 0xFF]
    /// Output is produced this many bytes at a time, so the buffer grows with the data actually inflated and
    /// the limit is checked after every step.
    static let outputStepBytes = 16 * 1024
    /// What output room is made of before zlib writes into it: appending a slice of this is one copy, where
    /// appending repeated zeros element by element would cost a loop per byte.
    static let zeros = [UInt8](repeating: 0, count: outputStepBytes)

    /// zlib keeps a pointer back to the stream in its state, so the stream must never move: it lives on the
    /// heap for the life of the object.
    private let stream: UnsafeMutablePointer<z_stream>
    private let windowBits: Int
    /// The sender ended its deflate stream (a block with BFINAL set, RFC 7692 §7.2.3.4); the rest of this
    /// message's bytes are padding that zlib would refuse, and the stream restarts with the next message.
    private var reachedStreamEnd = false

    /// Sets up inflation with a window of `2^windowBits` bytes (8...15), at least as large as the sender's.
    init(windowBits: Int) {
        precondition((8...15).contains(windowBits), "deflate window bits are 8 through 15, not \(windowBits)")
        self.windowBits = windowBits
        stream = .allocate(capacity: 1)
        stream.initialize(to: z_stream())
        let status = czlib_inflate_init(stream, -Int32(windowBits))
        precondition(status == Z_OK, "inflateInit2 failed with \(status): zlib could not allocate its state")
    }

    deinit {
        inflateEnd(stream)
        stream.deinitialize(count: 1)
        stream.deallocate()
    }

    /// Inflates the next piece of a message's compressed payload, appending the output to `out`, which may
    /// not grow past `limit` bytes in total (`tooBig` the moment it would).
    func inflate(_ input: UnsafeRawBufferPointer, into out: inout [UInt8], limit: Int) throws(Failure) {
        guard !reachedStreamEnd, let base = input.baseAddress, input.count > 0 else { return }
        var cursor = UnsafeMutablePointer(mutating: base.assumingMemoryBound(to: UInt8.self))
        var remaining = input.count
        while true {
            let room = limit - out.count + 1
            guard room > 0 else { throw .tooBig }
            let step = min(Self.outputStepBytes, room)
            let start = out.count
            out.append(contentsOf: Self.zeros[..<step])
            let feed = min(remaining, Int(UInt32.max))
            let (status, produced, consumed) = out.withUnsafeMutableBufferPointer { buffer in
                stream.pointee.next_in = cursor
                stream.pointee.avail_in = UInt32(feed)
                stream.pointee.next_out = buffer.baseAddress! + start
                stream.pointee.avail_out = UInt32(step)
                let status = CZlib.inflate(stream, Z_SYNC_FLUSH)
                return (status, step - Int(stream.pointee.avail_out), feed - Int(stream.pointee.avail_in))
            }
            out.removeLast(step - produced)
            cursor += consumed
            remaining -= consumed
            if out.count > limit { throw .tooBig }
            switch status {
            case Z_OK, Z_BUF_ERROR:
                // Done when the input is used up and zlib had room to spare (nothing is left inside it).
                if remaining == 0 && produced < step { return }
                if produced == 0 && consumed == 0 {
                    // With room and input, zlib always moves; standing still would loop forever.
                    guard remaining == 0 else { throw .failed("inflate stopped with input left") }
                    return
                }
            case Z_STREAM_END:
                reachedStreamEnd = true
                return
            case Z_DATA_ERROR, Z_NEED_DICT:
                throw .corrupt(message(status))
            default:
                throw .failed(message(status))
            }
        }
    }

    /// Ends a message: inflates the tail its sender stripped, then either keeps the window for the next
    /// message (context takeover) or, when `resetWindow`, starts the next one from nothing.
    func finishMessage(into out: inout [UInt8], limit: Int, resetWindow: Bool) throws(Failure) {
        // withUnsafeBytes does not pass typed errors through, hence the detour.
        var failure: Failure?
        Self.messageTail.withUnsafeBytes { tail in
            do throws(Failure) {
                try inflate(tail, into: &out, limit: limit)
            } catch {
                failure = error
            }
        }
        if let failure { throw failure }
        if reachedStreamEnd {
            reachedStreamEnd = false
            restart(keepingWindow: !resetWindow)
        } else if resetWindow {
            inflateReset(stream)
        }
    }

    /// After the sender ended its stream, the next message starts a new one; with context takeover it may
    /// still refer back into this message, so the window is carried over as the new stream's dictionary.
    private func restart(keepingWindow: Bool) {
        guard keepingWindow else {
            inflateReset(stream)
            return
        }
        var window = [UInt8](repeating: 0, count: 1 << windowBits)
        var length: UInt32 = 0
        let got = window.withUnsafeMutableBufferPointer { inflateGetDictionary(stream, $0.baseAddress, &length) }
        inflateReset(stream)
        if got == Z_OK && length > 0 {
            _ = window.withUnsafeBufferPointer { inflateSetDictionary(stream, $0.baseAddress, length) }
        }
    }

    private func message(_ status: Int32) -> String {
        if let text = stream.pointee.msg { return String(cString: text) }
        return "zlib status \(status)"
    }
}
