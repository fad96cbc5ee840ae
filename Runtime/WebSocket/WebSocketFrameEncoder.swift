import RuntimeCrypto

/// Encodes messages and control frames for one connection: unmasked as a server, masked with a fresh random
/// key per frame as a client (RFC 6455 §5.3), compressed with permessage-deflate when it was negotiated, and
/// fragmented when a frame size is set.
///
/// Ownership and threading: one encoder belongs to one connection and is used from one thread at a time,
/// in the order the frames go on the wire (with context takeover each compressed message depends on the ones
/// before it). It is a class because its zlib state cannot be copied.
public final class WebSocketFrameEncoder {
    /// Masking keys are drawn from the CSPRNG this many at a time, so a client does not make a call into
    /// OpenSSL per frame.
    static let maskingKeysPerDraw = 64

    /// Which end of the connection this encoder serves; a client masks, a server does not.
    public let role: WebSocketRole
    /// What permessage-deflate negotiated, or nil to send everything uncompressed.
    public let deflate: PerMessageDeflateParameters?
    /// This endpoint's compression settings (level, memory, the size below which messages go uncompressed).
    public let compression: PerMessageDeflateConfig
    /// Largest payload of one data frame, or nil for one frame per message.
    public let maxFrameBytes: Int?

    /// Made at the first compressed message, so connections that never send one never pay for zlib.
    private var compressor: DeflateCompressor?
    private var randomBytes: [UInt8] = []
    private var randomIndex = 0
    /// Replaces the CSPRNG in tests that compare against fixed wire bytes.
    private let fixedMaskingKeys: (() -> UInt32)?

    /// An encoder for `role`. `deflate` is what the handshake agreed (nil: no compression); `compression`
    /// tunes this side within that agreement; `maxFrameBytes` (at least 1) fragments longer messages.
    public init(role: WebSocketRole, deflate: PerMessageDeflateParameters? = nil,
                compression: PerMessageDeflateConfig = PerMessageDeflateConfig(), maxFrameBytes: Int? = nil) {
        precondition(maxFrameBytes.map { $0 > 0 } ?? true, "a frame carries at least one payload byte")
        self.role = role
        self.deflate = deflate
        self.compression = compression
        self.maxFrameBytes = maxFrameBytes
        fixedMaskingKeys = nil
    }

    /// For tests: masking keys come from `maskingKeys` (the four wire bytes, first in the lowest byte).
    init(role: WebSocketRole, deflate: PerMessageDeflateParameters? = nil,
         compression: PerMessageDeflateConfig = PerMessageDeflateConfig(), maxFrameBytes: Int? = nil,
         maskingKeys: @escaping () -> UInt32) {
        precondition(maxFrameBytes.map { $0 > 0 } ?? true, "a frame carries at least one payload byte")
        self.role = role
        self.deflate = deflate
        self.compression = compression
        self.maxFrameBytes = maxFrameBytes
        fixedMaskingKeys = maskingKeys
    }

    // MARK: Messages

    /// The frames of a text message.
    public func text(_ text: String) -> [UInt8] {
        var out: [UInt8] = []
        appendText(text, to: &out)
        return out
    }

    /// The frames of a binary message.
    public func binary(_ bytes: [UInt8]) -> [UInt8] {
        var out: [UInt8] = []
        bytes.withUnsafeBytes { appendMessage(.binary, $0, to: &out) }
        return out
    }

    /// Appends the frames of a text message to `out`.
    public func appendText(_ text: String, to out: inout [UInt8]) {
        var text = text
        text.withUTF8 { appendMessage(.text, UnsafeRawBufferPointer($0), to: &out) }
    }

    /// Appends the frames of a message to `out`: `opcode` is `.text` (then `payload` must be UTF-8, which the
    /// encoder does not check) or `.binary`. `payload` is only read during the call.
    public func appendMessage(_ opcode: WebSocketOpcode, _ payload: UnsafeRawBufferPointer, to out: inout [UInt8]) {
        precondition(opcode == .text || opcode == .binary, "a message is text or binary, not \(opcode)")
        guard let deflate, payload.count >= compression.minimumMessageBytes else {
            appendFrames(opcode, payload, compressed: false, to: &out)
            return
        }
        var compressed: [UInt8] = []
        let noContextTakeover = deflate.outgoingNoContextTakeover(as: role) || compression.outgoingNoContextTakeover
        compressor(for: deflate).compressMessage(payload, into: &compressed, resetAfter: noContextTakeover)
        // Nothing carries over to the next message: free zlib's state (about 256 KiB) instead of keeping it
        // on a socket that may sit idle for hours.
        if noContextTakeover { compressor = nil }
        compressed.withUnsafeBytes { appendFrames(opcode, $0, compressed: true, to: &out) }
    }

    // MARK: Control frames

    /// A ping frame; `payload` (at most 125 bytes) comes back in the peer's pong.
    public func ping(_ payload: [UInt8] = []) throws(WebSocketEncodeError) -> [UInt8] {
        try control(.ping, payload)
    }

    /// A pong frame: the answer to a ping carries the ping's payload; an unsolicited one is a heartbeat.
    public func pong(_ payload: [UInt8] = []) throws(WebSocketEncodeError) -> [UInt8] {
        try control(.pong, payload)
    }

    /// A close frame with `code` and `reason` (at most 123 bytes of UTF-8). A nil code sends an empty close
    /// frame, which the peer reports as 1005; it cannot carry a reason.
    public func close(code: WebSocketCloseCode? = .normalClosure, reason: String = "")
        throws(WebSocketEncodeError) -> [UInt8] {
        guard let code else {
            guard reason.isEmpty else { throw .reasonWithoutCode }
            return try control(.close, [])
        }
        guard code.isValidOnWire else { throw .unsendableCloseCode(code.rawValue) }
        let reasonBytes = Array(reason.utf8)
        guard reasonBytes.count <= WebSocketLimits.maxCloseReasonBytes else {
            throw .closeReasonTooLong(bytes: reasonBytes.count)
        }
        return try control(.close, [UInt8(code.rawValue >> 8), UInt8(code.rawValue & 0xFF)] + reasonBytes)
    }

    private func control(_ opcode: WebSocketOpcode, _ payload: [UInt8]) throws(WebSocketEncodeError) -> [UInt8] {
        guard payload.count <= WebSocketLimits.maxControlPayloadBytes else {
            throw .controlPayloadTooLong(opcode, length: payload.count)
        }
        var out: [UInt8] = []
        payload.withUnsafeBytes { appendFrame(opcode, $0, fin: true, rsv: 0, to: &out) }
        return out
    }

    // MARK: Framing

    /// Splits `payload` into frames of at most `maxFrameBytes`; RSV1 marks only the first of a compressed
    /// message (RFC 7692 §6.1).
    private func appendFrames(_ opcode: WebSocketOpcode, _ payload: UnsafeRawBufferPointer, compressed: Bool,
                              to out: inout [UInt8]) {
        let step = maxFrameBytes ?? max(payload.count, 1)
        var offset = 0
        repeat {
            let count = min(step, payload.count - offset)
            let first = offset == 0
            let piece = UnsafeRawBufferPointer(rebasing: payload[offset..<offset + count])
            appendFrame(first ? opcode : .continuation, piece, fin: offset + count == payload.count,
                        rsv: first && compressed ? 0b100 : 0, to: &out)
            offset += count
        } while offset < payload.count
    }

    private func appendFrame(_ opcode: WebSocketOpcode, _ payload: UnsafeRawBufferPointer, fin: Bool, rsv: UInt8,
                             to out: inout [UInt8]) {
        let key = role == .client ? nextMaskingKey() : nil
        out.reserveCapacity(out.count + WebSocketLimits.maxFrameHeaderBytes + payload.count)
        WebSocketFrameHeader(fin: fin, rsv: rsv, opcode: opcode, payloadLength: payload.count, maskingKey: key)
            .append(to: &out)
        let start = out.count
        out.append(contentsOf: payload)
        guard let key else { return }
        out.withUnsafeMutableBytes { buffer in
            WebSocketMask.apply(key: key, offset: 0, to: UnsafeMutableRawBufferPointer(rebasing: buffer[start...]))
        }
    }

    private func compressor(for deflate: PerMessageDeflateParameters) -> DeflateCompressor {
        if let compressor { return compressor }
        let bits = min(deflate.outgoingWindowBits(as: role), compression.outgoingMaxWindowBits)
        precondition(bits >= PerMessageDeflateConfig.minCompressorWindowBits,
                     "negotiation never agrees to a window zlib cannot compress with, but this one has \(bits) bits")
        let made = DeflateCompressor(level: compression.compressionLevel, windowBits: bits,
                                     memoryLevel: compression.memoryLevel)
        compressor = made
        return made
    }

    /// A fresh key from the CSPRNG: RFC 6455 §10.3 needs keys a peer cannot predict, so that a hostile page
    /// cannot choose the bytes that appear on the wire.
    private func nextMaskingKey() -> UInt32 {
        if let fixedMaskingKeys { return fixedMaskingKeys() }
        if randomIndex == randomBytes.count {
            randomBytes = SecureRandom.bytes(WebSocketLimits.maskingKeyBytes * Self.maskingKeysPerDraw)
            randomIndex = 0
        }
        let key = randomBytes.withUnsafeBytes {
            WebSocketMask.key(from: UnsafeRawBufferPointer(rebasing: $0[randomIndex..<randomIndex + 4]))
        }
        randomIndex += WebSocketLimits.maskingKeyBytes
        return key
    }
}
