#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#elseif canImport(Darwin)
import Darwin
#endif

/// Byte classes and small scanners shared by the HTTP/1.1 parsers (RFC 9110 §5.6, RFC 9112). Everything works
/// on offsets into an `UnsafeRawBufferPointer` the caller owns for the duration of the call; nothing here
/// allocates except `string(_:_:)` and `quoted(_:_:)`, which make the few Strings a message needs.
enum HTTPSyntax {
    static let cr: UInt8 = 0x0D
    static let lf: UInt8 = 0x0A
    static let space: UInt8 = 0x20
    static let tab: UInt8 = 0x09
    static let colon: UInt8 = 0x3A
    static let comma: UInt8 = 0x2C
    static let semicolon: UInt8 = 0x3B

    // RFC 9110 tchar ("!#$%&'*+-.^_`|~", digits, letters) as two bitmaps, bytes 0..<64 and 64..<128; a bitmap
    // test is one shift, with no table to load or lazily initialise.
    private static let tokenBitsLow: UInt64 = 0x03FF_6CFA_0000_0000
    private static let tokenBitsHigh: UInt64 = 0x57FF_FFFF_C7FF_FFFE

    /// RFC 9110 tchar: the bytes allowed in a method, a field name and a transfer-coding name.
    @inline(__always)
    static func isToken(_ byte: UInt8) -> Bool {
        if byte < 64 { return tokenBitsLow >> UInt64(byte) & 1 != 0 }
        if byte < 128 { return tokenBitsHigh >> UInt64(byte &- 64) & 1 != 0 }
        return false
    }

    /// RFC 9110 field-vchar, SP or HTAB: every byte a field value may hold. obs-text (0x80...0xFF) is allowed;
    /// control characters (CR and LF among them) and DEL are not.
    @inline(__always)
    static func isFieldValueByte(_ byte: UInt8) -> Bool {
        (byte >= 0x20 && byte != 0x7F) || byte == tab
    }

    /// Offset of the first byte in `bytes[range]` that `isFieldValueByte` refuses, or nil. Values are most of
    /// a head's bytes, so this tests eight at a time: a word with no byte below 0x20 and none equal to 0x7F is
    /// valid whole (bytes from 0x80 up are obs-text, allowed); only a word with a suspect (usually a tab) is
    /// looked at byte by byte.
    static func firstInvalidFieldValueByte(_ bytes: UnsafeRawBufferPointer, _ range: Range<Int>) -> Int? {
        var index = range.lowerBound
        if let base = bytes.baseAddress {
            while range.upperBound - index >= 8 {
                let word = base.loadUnaligned(fromByteOffset: index, as: UInt64.self)
                if hasByteBelow0x20(word) || hasByte0x7F(word) {
                    for offset in index..<(index + 8) where !isFieldValueByte(bytes[offset]) { return offset }
                }
                index += 8
            }
        }
        while index < range.upperBound {
            if !isFieldValueByte(bytes[index]) { return index }
            index += 1
        }
        return nil
    }

    /// Offset of the first byte in `bytes[range]` that is not visible ASCII (0x21...0x7E), or nil; eight at a
    /// time like `firstInvalidFieldValueByte`.
    static func firstNonVisibleASCII(_ bytes: UnsafeRawBufferPointer, _ range: Range<Int>) -> Int? {
        var index = range.lowerBound
        if let base = bytes.baseAddress {
            while range.upperBound - index >= 8 {
                let word = base.loadUnaligned(fromByteOffset: index, as: UInt64.self)
                if hasByteBelow0x21(word) || hasByte0x7F(word) || word & highBits != 0 { break }
                index += 8
            }
        }
        while index < range.upperBound {
            let byte = bytes[index]
            if byte <= space || byte >= 0x7F { return index }
            index += 1
        }
        return nil
    }

    private static let highBits: UInt64 = 0x8080_8080_8080_8080
    private static let lowBits: UInt64 = 0x0101_0101_0101_0101

    // The classic "has a byte less than n" word test (n <= 0x80, Bit Twiddling Hacks "hasless"): subtracting n
    // from every byte leaves a high bit set in some byte that had it clear (`& ~word`) exactly when some byte is
    // below n. Borrows can mark bytes after the first hit too, so it tells whether such a byte exists, not
    // where, which is all the callers ask before they look byte by byte.
    @inline(__always)
    private static func hasByteBelow0x20(_ word: UInt64) -> Bool { (word &- lowBits &* 0x20) & ~word & highBits != 0 }

    @inline(__always)
    private static func hasByteBelow0x21(_ word: UInt64) -> Bool { (word &- lowBits &* 0x21) & ~word & highBits != 0 }

    @inline(__always)
    private static func hasByte0x7F(_ word: UInt64) -> Bool {
        let flipped = word ^ (lowBits &* 0x7F)
        return (flipped &- lowBits) & ~flipped & highBits != 0
    }

    /// SP or HTAB, the two bytes of OWS.
    @inline(__always)
    static func isWhitespace(_ byte: UInt8) -> Bool { byte == space || byte == tab }

    @inline(__always)
    static func isDigit(_ byte: UInt8) -> Bool { byte &- 0x30 < 10 }

    /// Offset of the first LF in `bytes[from..<to]`, or nil. memchr is vectorised in libc, which beats a byte
    /// loop on anything longer than a few bytes.
    @inline(__always)
    static func firstLF(in bytes: UnsafeRawBufferPointer, from: Int, to: Int) -> Int? {
        guard from < to, let base = bytes.baseAddress else { return nil }
        guard let hit = memchr(base + from, Int32(lf), to - from) else { return nil }
        return base.distance(to: UnsafeRawPointer(hit))
    }

    /// The end offset of a window of at most `length` bytes starting at `start`, cut at `count`. Written to
    /// avoid `start + length`, which could overflow for a limit configured near `Int.max`.
    @inline(__always)
    static func windowEnd(start: Int, length: Int, count: Int) -> Int {
        length >= count - start ? count : start + max(length, 0)
    }

    /// `range` without leading and trailing SP/HTAB.
    @inline(__always)
    static func trimmingWhitespace(_ bytes: UnsafeRawBufferPointer, _ range: Range<Int>) -> Range<Int> {
        var low = range.lowerBound, high = range.upperBound
        while low < high, isWhitespace(bytes[low]) { low += 1 }
        while high > low, isWhitespace(bytes[high - 1]) { high -= 1 }
        return low..<high
    }

    /// The next element of a comma-separated list in `bytes[cursor..<end]`, whitespace-trimmed, and moves
    /// `cursor` past its comma. Empty elements come back as empty ranges (callers decide whether they count);
    /// nil once the list is exhausted. Start with `cursor` at the value's first byte.
    @inline(__always)
    static func nextListElement(_ bytes: UnsafeRawBufferPointer, cursor: inout Int, end: Int) -> Range<Int>? {
        guard cursor <= end else { return nil }
        var index = cursor
        while index < end, bytes[index] != comma { index += 1 }
        let element = trimmingWhitespace(bytes, cursor..<index)
        cursor = index + 1
        return element
    }

    /// Whether `bytes[range]` equals `lowercase` ignoring ASCII case. `lowercase` must hold only lowercase
    /// letters and bytes 0x21...0x3F (digits, '-', ':', '/'). Folding with `| 0x20` is then exact: among bytes
    /// above 0x20 only letters fold onto letters, and 0x21...0x3F fold onto themselves (the control bytes that
    /// would also land there fail the `> 0x20` test).
    @inline(__always)
    static func equalsIgnoringCase(_ bytes: UnsafeRawBufferPointer, _ range: Range<Int>,
                                   _ lowercase: StaticString) -> Bool {
        guard range.count == lowercase.utf8CodeUnitCount else { return false }
        let literal = lowercase.utf8Start
        var offset = 0
        while offset < range.count {
            let byte = bytes[range.lowerBound + offset]
            guard byte | 0x20 == literal[offset], byte > 0x20 else { return false }
            offset += 1
        }
        return true
    }

    /// Whether `bytes[range]` is exactly `literal`, byte for byte.
    @inline(__always)
    static func equalsCaseSensitive(_ bytes: UnsafeRawBufferPointer, _ range: Range<Int>,
                                    _ literal: StaticString) -> Bool {
        guard range.count == literal.utf8CodeUnitCount else { return false }
        for offset in 0..<range.count where bytes[range.lowerBound + offset] != literal.utf8Start[offset] {
            return false
        }
        return true
    }

    /// The decimal number in `bytes[range]`, nil if it is empty or holds anything but digits; `Int.max` if it
    /// does not fit (every body limit is smaller, so the caller reports it as too large).
    static func parseDecimal(_ bytes: UnsafeRawBufferPointer, _ range: Range<Int>) -> Int? {
        guard !range.isEmpty else { return nil }
        var value = 0
        for index in range {
            let digit = bytes[index] &- 0x30
            guard digit < 10 else { return nil }
            let (times10, overflow1) = value.multipliedReportingOverflow(by: 10)
            let (sum, overflow2) = times10.addingReportingOverflow(Int(digit))
            value = overflow1 || overflow2 ? Int.max : sum
        }
        return value
    }

    /// The minor version of "HTTP/1.0" or "HTTP/1.1" in `bytes[range]` (case-sensitive, RFC 9112 §2.3).
    /// Throws 505 for any other well-formed "HTTP/d.d" and 400 for anything else.
    static func parseVersion(_ bytes: UnsafeRawBufferPointer, _ range: Range<Int>) throws(HTTPParseError) -> Int {
        let prefix: StaticString = "HTTP/"
        let base = range.lowerBound
        guard range.count == 8 else { throw .badRequest("malformed HTTP version \(quoted(bytes, range))") }
        for offset in 0..<5 where bytes[base + offset] != prefix.utf8Start[offset] {
            throw .badRequest("malformed HTTP version \(quoted(bytes, range))")
        }
        let major = bytes[base + 5], dot = bytes[base + 6], minor = bytes[base + 7]
        guard isDigit(major), dot == 0x2E, isDigit(minor) else {
            throw .badRequest("malformed HTTP version \(quoted(bytes, range))")
        }
        guard major == 0x31, minor == 0x30 || minor == 0x31 else {
            throw .versionNotSupported(string(bytes, range))
        }
        return Int(minor &- 0x30)
    }

    /// `bytes[range]` as a String; invalid UTF-8 becomes U+FFFD. The one place message Strings are made.
    @inline(__always)
    static func string(_ bytes: UnsafeRawBufferPointer, _ range: Range<Int>) -> String {
        guard !range.isEmpty, let base = bytes.baseAddress else { return "" }
        let start = (base + range.lowerBound).assumingMemoryBound(to: UInt8.self)
        return String(decoding: UnsafeBufferPointer(start: start, count: range.count), as: UTF8.self)
    }

    /// Up to 40 bytes of `bytes[range]` in quotes for an error message, with anything unprintable shown as
    /// "\xNN" so a reason never carries control characters into a log line.
    static func quoted(_ bytes: UnsafeRawBufferPointer, _ range: Range<Int>) -> String {
        let shownLength = 40
        var text = "\""
        for index in range.prefix(shownLength) {
            let byte = bytes[index]
            if byte >= 0x20, byte < 0x7F, byte != 0x22, byte != 0x5C {
                text.unicodeScalars.append(Unicode.Scalar(byte))
            } else {
                let hex = String(byte, radix: 16, uppercase: true)
                text += byte < 0x10 ? "\\x0\(hex)" : "\\x\(hex)"
            }
        }
        return text + (range.count > shownLength ? "...\"" : "\"")
    }
}
