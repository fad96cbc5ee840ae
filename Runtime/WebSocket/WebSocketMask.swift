/// The XOR masking of RFC 6455 §5.3: payload byte `i` is XORed with key byte `i % 4`. Masking and unmasking
/// are the same operation.
enum WebSocketMask {
    /// XORs `bytes` in place with `key`, where `bytes` starts `offset` bytes into the frame's payload (a
    /// payload arrives in pieces, and each piece continues the key where the last one stopped). `key` holds
    /// the key's four wire bytes with the first in its lowest byte.
    static func apply(key: UInt32, offset: Int, to bytes: UnsafeMutableRawBufferPointer) {
        let count = bytes.count
        guard count > 0 else { return }
        let shift = UInt32(offset & 3) * 8
        // Turn the key so its first byte is the one this piece starts with, then repeat it across a word:
        // eight bytes are masked per step instead of one.
        let turned = shift == 0 ? key : key >> shift | key << (32 - shift)
        let word = UInt64(turned) | UInt64(turned) << 32
        var index = 0
        while index + 8 <= count {
            let value = UInt64(littleEndian: bytes.loadUnaligned(fromByteOffset: index, as: UInt64.self))
            bytes.storeBytes(of: (value ^ word).littleEndian, toByteOffset: index, as: UInt64.self)
            index += 8
        }
        while index < count {
            bytes[index] ^= UInt8(truncatingIfNeeded: turned >> (UInt32(index & 3) * 8))
            index += 1
        }
    }

    /// The key as `apply` takes it, from its four wire bytes at the start of `bytes`.
    static func key(from bytes: UnsafeRawBufferPointer) -> UInt32 {
        precondition(bytes.count >= WebSocketLimits.maskingKeyBytes, "a masking key is four bytes")
        return UInt32(bytes[0]) | UInt32(bytes[1]) << 8 | UInt32(bytes[2]) << 16 | UInt32(bytes[3]) << 24
    }

    /// The four wire bytes of `key`, first byte first.
    static func bytes(of key: UInt32) -> [UInt8] {
        (0..<4).map { UInt8(truncatingIfNeeded: key >> (UInt32($0) * 8)) }
    }
}
