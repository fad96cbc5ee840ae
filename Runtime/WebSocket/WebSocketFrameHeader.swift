/// The fixed part of a frame on the wire (RFC 6455 §5.2), decoded and encoded. The parser decodes it in
/// three steps, so each rule is checked as soon as the bytes it needs have arrived: the first two bytes
/// (flags, opcode, mask bit, 7-bit length), then the extended length, then the masking key.
struct WebSocketFrameHeader: Sendable, Equatable {
    static let finBit: UInt8 = 0x80
    /// RSV1..RSV3 in the first byte; RSV1 (0x40) marks a compressed message under permessage-deflate.
    static let rsvBits: UInt8 = 0x70
    static let rsv1Bit: UInt8 = 0x40
    static let opcodeBits: UInt8 = 0x0F
    static let maskBit: UInt8 = 0x80
    static let shortLengthBits: UInt8 = 0x7F
    /// The 7-bit lengths that announce a 16-bit or a 64-bit extended length.
    static let length16Marker: UInt8 = 126
    static let length64Marker: UInt8 = 127
    /// The largest payload the 7-bit and 16-bit forms can state.
    static let maxShortLength = 125
    static let max16BitLength = 0xFFFF

    var fin: Bool
    /// The three RSV bits, RSV1 as 0b100.
    var rsv: UInt8
    /// As sent; may be a reserved value.
    var opcode: UInt8
    var payloadLength: UInt64
    /// The key's four wire bytes, first in the lowest byte; nil for an unmasked frame.
    var maskingKey: UInt32?

    /// Where the extended length ends (2, 4 or 10), from the second byte.
    static func lengthEnd(secondByte: UInt8) -> Int {
        switch secondByte & shortLengthBits {
        case length16Marker: 4
        case length64Marker: 10
        default: 2
        }
    }

    /// The whole header's size (2 to 14), from the second byte.
    static func size(secondByte: UInt8) -> Int {
        lengthEnd(secondByte: secondByte) + (secondByte & maskBit != 0 ? WebSocketLimits.maskingKeyBytes : 0)
    }

    /// The payload length stated by the first `lengthEnd(secondByte:)` bytes of `bytes`. A 64-bit length may
    /// have its top bit set here; the parser refuses that.
    static func payloadLength(_ bytes: UnsafeRawBufferPointer) -> UInt64 {
        let short = bytes[1] & shortLengthBits
        switch short {
        case length16Marker:
            return UInt64(bytes[2]) << 8 | UInt64(bytes[3])
        case length64Marker:
            var length: UInt64 = 0
            for index in 2..<10 { length = length << 8 | UInt64(bytes[index]) }
            return length
        default:
            return UInt64(short)
        }
    }

    /// Decodes a complete header: `bytes` holds at least `size(secondByte: bytes[1])` bytes.
    init(decoding bytes: UnsafeRawBufferPointer) {
        let first = bytes[0], second = bytes[1]
        fin = first & Self.finBit != 0
        rsv = (first & Self.rsvBits) >> 4
        opcode = first & Self.opcodeBits
        payloadLength = Self.payloadLength(bytes)
        if second & Self.maskBit != 0 {
            let keyStart = Self.lengthEnd(secondByte: second)
            maskingKey = WebSocketMask.key(from: UnsafeRawBufferPointer(rebasing: bytes[keyStart..<keyStart + 4]))
        } else {
            maskingKey = nil
        }
    }

    init(fin: Bool, rsv: UInt8 = 0, opcode: WebSocketOpcode, payloadLength: Int, maskingKey: UInt32?) {
        precondition(payloadLength >= 0, "a payload length is never negative")
        self.fin = fin
        self.rsv = rsv
        self.opcode = opcode.rawValue
        self.payloadLength = UInt64(payloadLength)
        self.maskingKey = maskingKey
    }

    /// Appends the header in its shortest form (RFC 6455 §5.2 requires the minimal length encoding of
    /// senders).
    func append(to out: inout [UInt8]) {
        out.append((fin ? Self.finBit : 0) | rsv << 4 | opcode)
        let mask = maskingKey == nil ? 0 : Self.maskBit
        if payloadLength <= UInt64(Self.maxShortLength) {
            out.append(mask | UInt8(payloadLength))
        } else if payloadLength <= UInt64(Self.max16BitLength) {
            out.append(mask | Self.length16Marker)
            out.append(UInt8(truncatingIfNeeded: payloadLength >> 8))
            out.append(UInt8(truncatingIfNeeded: payloadLength))
        } else {
            out.append(mask | Self.length64Marker)
            for shift in stride(from: 56, through: 0, by: -8) {
                out.append(UInt8(truncatingIfNeeded: payloadLength >> UInt64(shift)))
            }
        }
        if let maskingKey { out.append(contentsOf: WebSocketMask.bytes(of: maskingKey)) }
    }
}
