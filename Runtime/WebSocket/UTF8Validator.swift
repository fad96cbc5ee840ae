/// Validates UTF-8 (RFC 3629) incrementally: bytes can arrive in any number of pieces, split anywhere, and
/// the validator refuses at the first byte that cannot continue a valid sequence: an overlong form, a
/// surrogate, a code point above U+10FFFF, a stray continuation byte, or a byte that is never valid (C0, C1,
/// F5-FF). A sequence cut off by the end of a piece is fine until `isComplete` is asked at the end.
///
/// WebSocket text frames need exactly this (RFC 6455 §8.1): a peer that sends invalid text is failed as
/// soon as the invalid byte arrives, not when the message ends.
struct UTF8Validator: Sendable {
    /// Continuation bytes the current sequence still needs (0 between characters).
    private var pending = 0
    /// The range the next continuation byte must fall in. It is narrower than 0x80...0xBF only right after
    /// a lead byte: that is where overlongs (E0, F0), surrogates (ED) and values past U+10FFFF (F4) show.
    private var lower: UInt8 = 0x80
    private var upper: UInt8 = 0xBF

    /// True between characters: everything validated so far is complete UTF-8.
    var isComplete: Bool { pending == 0 }

    /// Checks `bytes` as the continuation of everything checked before. False means invalid; the validator
    /// must then be reset before it is used again.
    mutating func validate(_ bytes: UnsafeRawBufferPointer) -> Bool {
        let count = bytes.count
        var index = 0
        while index < count {
            if pending == 0 {
                // Text is mostly ASCII: skip eight bytes at a time while none has its high bit set.
                while index + 8 <= count,
                      bytes.loadUnaligned(fromByteOffset: index, as: UInt64.self) & 0x8080_8080_8080_8080 == 0 {
                    index += 8
                }
                guard index < count else { break }
                let byte = bytes[index]
                index += 1
                if byte < 0x80 { continue }
                guard start(byte) else { return false }
            } else {
                let byte = bytes[index]
                index += 1
                guard byte >= lower, byte <= upper else { return false }
                pending -= 1
                lower = 0x80
                upper = 0xBF
            }
        }
        return true
    }

    /// Forgets any partial sequence, for the next message.
    mutating func reset() { self = UTF8Validator() }

    /// Sets up the sequence that `lead` (not ASCII) starts; false if no sequence starts with it.
    private mutating func start(_ lead: UInt8) -> Bool {
        switch lead {
        case 0xC2...0xDF: pending = 1
        case 0xE0: pending = 2; lower = 0xA0
        case 0xE1...0xEC, 0xEE...0xEF: pending = 2
        case 0xED: pending = 2; upper = 0x9F
        case 0xF0: pending = 3; lower = 0x90
        case 0xF1...0xF3: pending = 3
        case 0xF4: pending = 3; upper = 0x8F
        default: return false
        }
        return true
    }
}
