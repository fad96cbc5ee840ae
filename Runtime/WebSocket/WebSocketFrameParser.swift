/// An incremental RFC 6455 frame parser for one connection: bytes in, whole messages and control frames out,
/// with permessage-deflate (RFC 7692) when it was negotiated. No IO.
///
/// Bytes may arrive in pieces of any size, split anywhere; the result is the same as if they had arrived at
/// once. Every rule is checked as soon as the bytes it depends on are in: a frame header is judged field by
/// field (a message over the limit is refused from its header, before its payload is buffered), text is
/// validated as UTF-8 while it arrives (failing at the first impossible byte), and a compressed message is
/// refused the moment inflating it crosses the limit.
///
/// Ownership and threading: one parser belongs to one connection and is used from one thread at a time (the
/// connection's loop). It is a class because its zlib state cannot be copied; it keeps the bytes of the
/// message being assembled and, with compression, the peer's LZ77 window.
public final class WebSocketFrameParser {
    private enum State {
        /// Reading a frame header; its bytes so far are in `headerBytes`.
        case header
        /// Reading the payload of the frame in `frame`.
        case payload
        /// A close frame arrived; later bytes are ignored (the peer may send nothing after it).
        case closed
        /// A call threw; every later call throws the same error.
        case failed(WebSocketProtocolError)
    }

    private enum MessageKind {
        case text, binary
    }

    /// The data message being assembled from its frames.
    private enum Message {
        case none
        case open(MessageKind, compressed: Bool)
    }

    /// The frame whose payload is being read. It lives beside `state` rather than in it so the payload path
    /// updates it in place.
    private struct Frame {
        var opcode: WebSocketOpcode
        var fin: Bool
        var maskingKey: UInt32?
        /// Payload bytes still to come.
        var remaining: Int
        /// Payload bytes already read: where the masking key continues.
        var offset = 0
    }

    /// Masked compressed input is unmasked through a buffer of at most this many bytes before inflating, so
    /// the copy does not grow with the size of the pieces the caller hands in.
    static let unmaskStepBytes = 16 * 1024
    /// Most bytes reserved for a message on the word of its first frame's header. The header is only a
    /// claim: reserving all it announces would let a peer make every connection allocate up to the message
    /// limit without sending a byte of it. Past this, the buffer grows with the bytes that actually arrive.
    static let maxUpfrontReserveBytes = 64 * 1024
    /// The bits of RSV that mark a compressed message (RSV1) and the ones no extension we know uses.
    private static let compressedRSV: UInt8 = 0b100
    private static let unknownRSV: UInt8 = 0b011

    /// Which end of the connection this parser serves; it decides which masking is required.
    public let role: WebSocketRole
    public let limits: WebSocketLimits
    /// What permessage-deflate negotiated, or nil if it is off (then RSV1 is a protocol error).
    public let deflate: PerMessageDeflateParameters?

    private var state = State.header
    private var headerBytes: [UInt8] = []
    /// Meaningful only while `state` is `.payload`.
    private var frame = Frame(opcode: .continuation, fin: false, maskingKey: nil, remaining: 0)
    private var message = Message.none
    /// The open message's payload so far, unmasked and inflated.
    private var messageBytes: [UInt8] = []
    /// Compressed bytes the open message has carried on the wire, against `maxCompressedMessageBytes`.
    private var compressedBytes = 0
    private var utf8 = UTF8Validator()
    /// The open control frame's payload (at most 125 bytes).
    private var controlBytes: [UInt8] = []
    private var unmaskBuffer: [UInt8] = []
    /// Made at the first compressed message, so connections that never get one never pay for zlib.
    private var decompressor: DeflateDecompressor?

    /// The message limit as a byte count (a negative setting means nothing but empty messages).
    private var messageLimit: Int { max(0, limits.maxMessageBytes) }

    /// A parser for `role` that accepts messages within `limits`, and compressed ones if `deflate` is set.
    public init(role: WebSocketRole, limits: WebSocketLimits = WebSocketLimits(),
                deflate: PerMessageDeflateParameters? = nil) {
        self.role = role
        self.limits = limits
        self.deflate = deflate
        // No buffer is reserved up front: most headers arrive whole and are read in place, and an idle
        // (hibernated) connection should hold no heap it does not use.
    }

    /// True once a close frame has been parsed; every later byte is ignored.
    public var isClosed: Bool {
        if case .closed = state { return true }
        return false
    }

    /// True when nothing of a frame or a fragmented message is buffered: what the parser holds is only its
    /// configuration and, with context takeover, the peer's compression window.
    public var isAtMessageBoundary: Bool {
        guard case .header = state, headerBytes.isEmpty, case .none = message else { return false }
        return true
    }

    /// Parses from the start of `bytes`; returns how many bytes it consumed and at most one event.
    ///
    /// The parser copies whatever it needs to keep, so the caller may reuse `bytes` as soon as the call
    /// returns. A call without an event always consumed every byte (`consumed == bytes.count`); a call with an
    /// event may have stopped early, and the caller calls again with the bytes after `consumed`. Events come
    /// in wire order: control frames that arrived between a message's fragments come before that message.
    ///
    /// Throws at the first violation, and after a throw the parser is dead (every later call throws the same
    /// error): the endpoint sends a close frame with `error.closeCode` and `error.reason`, then closes.
    public func next(_ bytes: UnsafeRawBufferPointer) throws(WebSocketProtocolError)
        -> (consumed: Int, event: WebSocketEvent?) {
        if case .failed(let error) = state { throw error }
        do throws(WebSocketProtocolError) {
            return try advance(bytes)
        } catch {
            state = .failed(error)
            throw error
        }
    }

    /// Parses all of `bytes`, appending every event to `events`. On a throw, `events` already holds the events
    /// that came before the violation, so they can still be delivered.
    public func feed(_ bytes: UnsafeRawBufferPointer, into events: inout [WebSocketEvent])
        throws(WebSocketProtocolError) {
        var offset = 0
        while true {
            let (consumed, event) = try next(UnsafeRawBufferPointer(rebasing: bytes[offset...]))
            offset += consumed
            guard let event else { return }
            events.append(event)
        }
    }

    /// `feed(_:into:)` for an array.
    public func feed(_ bytes: [UInt8], into events: inout [WebSocketEvent]) throws(WebSocketProtocolError) {
        // A closure that throws typed errors straight through `withUnsafeBytes` crashes the 6.3 compiler.
        var failure: WebSocketProtocolError?
        bytes.withUnsafeBytes { raw in
            do throws(WebSocketProtocolError) {
                try feed(raw, into: &events)
            } catch {
                failure = error
            }
        }
        if let failure { throw failure }
    }

    // MARK: Frames

    private func advance(_ bytes: UnsafeRawBufferPointer) throws(WebSocketProtocolError)
        -> (consumed: Int, event: WebSocketEvent?) {
        var offset = 0
        while true {
            switch state {
            case .failed(let error):
                throw error
            case .closed:
                return (bytes.count, nil)
            case .header:
                guard case let (header, headerEnd)? = try readHeader(bytes, from: offset) else {
                    return (bytes.count, nil)
                }
                offset = headerEnd
                if let event = try begin(header) { return (offset, event) }
            case .payload:
                guard offset < bytes.count else { return (bytes.count, nil) }
                let count = min(frame.remaining, bytes.count - offset)
                try read(UnsafeRawBufferPointer(rebasing: bytes[offset..<offset + count]))
                offset += count
                if frame.remaining == 0, let event = try end() { return (offset, event) }
            }
        }
    }

    /// Reads header bytes from `offset` on. Returns the header and where it ended once it is complete; nil
    /// when every byte was taken and more are needed. The checks run at the same points whether the header
    /// arrives whole or byte by byte, so both see the same error.
    private func readHeader(_ bytes: UnsafeRawBufferPointer, from start: Int) throws(WebSocketProtocolError)
        -> (WebSocketFrameHeader, Int)? {
        var offset = start
        if headerBytes.isEmpty, bytes.count - offset >= 2 {
            let size = WebSocketFrameHeader.size(secondByte: bytes[offset + 1])
            if bytes.count - offset >= size {
                let raw = UnsafeRawBufferPointer(rebasing: bytes[offset..<offset + size])
                try checkStart(first: raw[0], second: raw[1])
                try checkLength(WebSocketFrameHeader.payloadLength(raw), first: raw[0])
                return (WebSocketFrameHeader(decoding: raw), offset + size)
            }
        }
        while offset < bytes.count {
            headerBytes.append(bytes[offset])
            offset += 1
            let count = headerBytes.count
            guard count >= 2 else { continue }
            if count == 2 { try checkStart(first: headerBytes[0], second: headerBytes[1]) }
            if count == WebSocketFrameHeader.lengthEnd(secondByte: headerBytes[1]) {
                let length = headerBytes.withUnsafeBytes { WebSocketFrameHeader.payloadLength($0) }
                try checkLength(length, first: headerBytes[0])
            }
            if count == WebSocketFrameHeader.size(secondByte: headerBytes[1]) {
                let header = headerBytes.withUnsafeBytes { WebSocketFrameHeader(decoding: $0) }
                headerBytes = []
                return (header, offset)
            }
        }
        return nil
    }

    /// The rules the first two bytes decide: reserved bits and opcodes, masking, control frames unfragmented,
    /// and continuation frames only inside a message.
    private func checkStart(first: UInt8, second: UInt8) throws(WebSocketProtocolError) {
        let rsv = (first & WebSocketFrameHeader.rsvBits) >> 4
        if rsv & Self.unknownRSV != 0 { throw .reservedBitsSet(bits: rsv) }
        let rawOpcode = first & WebSocketFrameHeader.opcodeBits
        guard let opcode = WebSocketOpcode(rawValue: rawOpcode) else { throw .reservedOpcode(rawOpcode) }
        if rsv & Self.compressedRSV != 0 {
            guard deflate != nil else { throw .reservedBitsSet(bits: rsv) }
            guard opcode == .text || opcode == .binary else { throw .compressedBitMisplaced(opcode) }
        }
        let masked = second & WebSocketFrameHeader.maskBit != 0
        switch role {
        case .server where !masked: throw .unmaskedClientFrame
        case .client where masked: throw .maskedServerFrame
        default: break
        }
        let fin = first & WebSocketFrameHeader.finBit != 0
        if opcode.isControl {
            guard fin else { throw .fragmentedControlFrame(opcode) }
        } else if opcode == .continuation {
            guard case .open = message else { throw .continuationWithoutMessage }
        } else if case .open = message {
            throw .dataFrameInsideMessage(opcode)
        }
    }

    /// The rules the payload length decides: its top bit, the control frame maximum, a 1-byte close, and
    /// the message limit, which is why an oversized message is refused before any of it is buffered.
    private func checkLength(_ length: UInt64, first: UInt8) throws(WebSocketProtocolError) {
        guard length >> 63 == 0 else { throw .lengthHighBitSet }
        let opcode = Self.checkedOpcode(first & WebSocketFrameHeader.opcodeBits)
        if opcode.isControl {
            guard length <= UInt64(WebSocketLimits.maxControlPayloadBytes) else {
                throw .controlPayloadTooLong(opcode, length: length)
            }
            if opcode == .close && length == 1 { throw .closePayloadTooShort }
            return
        }
        let compressed: Bool
        if case .open(_, let open) = message, opcode == .continuation {
            compressed = open
        } else {
            compressed = (first & WebSocketFrameHeader.rsvBits) >> 4 & Self.compressedRSV != 0
        }
        let (soFar, limit) = compressed
            ? (compressedBytes, limits.maxCompressedMessageBytes) : (messageBytes.count, messageLimit)
        guard length <= UInt64(max(0, limit - soFar)) else { throw .messageTooBig(limit: limits.maxMessageBytes) }
    }

    /// The opcode of a header `checkStart` has accepted, which refuses reserved ones.
    private static func checkedOpcode(_ raw: UInt8) -> WebSocketOpcode {
        guard let opcode = WebSocketOpcode(rawValue: raw) else {
            preconditionFailure("opcode \(raw) got past checkStart")
        }
        return opcode
    }

    /// Starts the frame `header` describes; returns its event at once if it has no payload.
    private func begin(_ header: WebSocketFrameHeader) throws(WebSocketProtocolError) -> WebSocketEvent? {
        let opcode = Self.checkedOpcode(header.opcode)
        let length = Int(header.payloadLength)
        switch opcode {
        case .text, .binary:
            let compressed = header.rsv & Self.compressedRSV != 0
            message = .open(opcode == .text ? .text : .binary, compressed: compressed)
            messageBytes = []
            compressedBytes = 0
            utf8.reset()
            if !compressed { messageBytes.reserveCapacity(min(length, Self.maxUpfrontReserveBytes)) }
            if compressed, decompressor == nil, let deflate {
                // A window at least as large as the sender's always works; 9 rather than 8 also covers old
                // zlib senders, which silently compressed with 9 when asked for 8.
                let bits = max(deflate.incomingWindowBits(as: role), PerMessageDeflateConfig.minCompressorWindowBits)
                decompressor = DeflateDecompressor(windowBits: bits)
            }
        case .continuation:
            break
        case .close, .ping, .pong:
            controlBytes.removeAll(keepingCapacity: true)
        }
        frame = Frame(opcode: opcode, fin: header.fin, maskingKey: header.maskingKey, remaining: length)
        if length == 0 { return try end() }
        state = .payload
        return nil
    }

    /// Takes the next `chunk` of the current frame's payload (no more than it has left).
    private func read(_ chunk: UnsafeRawBufferPointer) throws(WebSocketProtocolError) {
        let offset = frame.offset
        frame.offset += chunk.count
        frame.remaining -= chunk.count
        if frame.opcode.isControl {
            Self.append(chunk, to: &controlBytes, key: frame.maskingKey, offset: offset)
            return
        }
        guard case .open(let kind, let compressed) = message else {
            preconditionFailure("a data frame's payload is read only inside a message")
        }
        let start = messageBytes.count
        if compressed {
            compressedBytes += chunk.count
            try inflate(chunk, key: frame.maskingKey, offset: offset)
        } else {
            Self.append(chunk, to: &messageBytes, key: frame.maskingKey, offset: offset)
        }
        if kind == .text { try validateText(from: start) }
    }

    /// Ends the current frame; returns its event if it completed a control frame or a message.
    private func end() throws(WebSocketProtocolError) -> WebSocketEvent? {
        state = .header
        switch frame.opcode {
        case .ping:
            return .ping(controlBytes)
        case .pong:
            return .pong(controlBytes)
        case .close:
            let event = try closeEvent()
            state = .closed
            return event
        case .text, .binary, .continuation:
            guard frame.fin else { return nil }
            guard case .open(let kind, let compressed) = message else {
                preconditionFailure("a data frame ends only inside a message")
            }
            if compressed {
                let start = messageBytes.count
                try finishInflating()
                if kind == .text { try validateText(from: start) }
            }
            if kind == .text, !utf8.isComplete { throw .invalidUTF8 }
            message = .none
            let bytes = messageBytes
            messageBytes = []
            return kind == .text ? .text(String(decoding: bytes, as: UTF8.self)) : .binary(bytes)
        }
    }

    private func closeEvent() throws(WebSocketProtocolError) -> WebSocketEvent {
        guard controlBytes.count >= 2 else { return .close(code: nil, reason: "") }
        let raw = UInt16(controlBytes[0]) << 8 | UInt16(controlBytes[1])
        let code = WebSocketCloseCode(raw)
        guard code.isValidOnWire else { throw .invalidCloseCode(raw) }
        var validator = UTF8Validator()
        let valid = controlBytes.withUnsafeBytes { validator.validate(UnsafeRawBufferPointer(rebasing: $0[2...])) }
        guard valid, validator.isComplete else { throw .invalidUTF8CloseReason }
        return .close(code: code, reason: String(decoding: controlBytes[2...], as: UTF8.self))
    }

    // MARK: Payload

    /// Appends `chunk` to `out`, unmasked with `key` from payload position `offset` when it is masked.
    private static func append(_ chunk: UnsafeRawBufferPointer, to out: inout [UInt8], key: UInt32?, offset: Int) {
        let start = out.count
        out.append(contentsOf: chunk)
        guard let key else { return }
        out.withUnsafeMutableBytes { buffer in
            WebSocketMask.apply(key: key, offset: offset, to: UnsafeMutableRawBufferPointer(rebasing: buffer[start...]))
        }
    }

    private func validateText(from start: Int) throws(WebSocketProtocolError) {
        guard start < messageBytes.count else { return }
        let valid = messageBytes.withUnsafeBytes { utf8.validate(UnsafeRawBufferPointer(rebasing: $0[start...])) }
        guard valid else { throw .invalidUTF8 }
    }

    private func inflate(_ chunk: UnsafeRawBufferPointer, key: UInt32?, offset: Int) throws(WebSocketProtocolError) {
        guard let decompressor else { preconditionFailure("a compressed message always has a decompressor") }
        guard let key else {
            try mapInflate { () throws(DeflateDecompressor.Failure) in
                try decompressor.inflate(chunk, into: &messageBytes, limit: messageLimit)
            }
            return
        }
        var done = 0
        while done < chunk.count {
            let step = min(Self.unmaskStepBytes, chunk.count - done)
            unmaskBuffer.removeAll(keepingCapacity: true)
            Self.append(UnsafeRawBufferPointer(rebasing: chunk[done..<done + step]), to: &unmaskBuffer, key: key,
                        offset: offset + done)
            done += step
            var failure: DeflateDecompressor.Failure?
            unmaskBuffer.withUnsafeBytes { input in
                do throws(DeflateDecompressor.Failure) {
                    try decompressor.inflate(input, into: &messageBytes, limit: messageLimit)
                } catch {
                    failure = error
                }
            }
            if let failure { throw map(failure) }
        }
    }

    private func finishInflating() throws(WebSocketProtocolError) {
        guard let decompressor, let deflate else {
            preconditionFailure("a compressed message always has a decompressor")
        }
        let noContextTakeover = deflate.incomingNoContextTakeover(as: role)
        try mapInflate { () throws(DeflateDecompressor.Failure) in
            try decompressor.finishMessage(into: &messageBytes, limit: messageLimit, resetWindow: noContextTakeover)
        }
        // Without context takeover nothing carries over to the next message: free zlib's state (tens of
        // KiB) rather than keep it on a socket that may sit idle, hibernated, for hours.
        if noContextTakeover { self.decompressor = nil }
    }

    private func mapInflate(_ body: () throws(DeflateDecompressor.Failure) -> Void) throws(WebSocketProtocolError) {
        do throws(DeflateDecompressor.Failure) {
            try body()
        } catch {
            throw map(error)
        }
    }

    private func map(_ failure: DeflateDecompressor.Failure) -> WebSocketProtocolError {
        switch failure {
        case .tooBig: .messageTooBig(limit: limits.maxMessageBytes)
        case .corrupt(let why): .badCompressedData(why)
        case .failed(let why): .compressionFailed(why)
        }
    }
}
