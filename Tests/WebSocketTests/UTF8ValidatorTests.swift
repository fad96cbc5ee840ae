import Testing

@testable import RuntimeWebSocket

/// A byte sequence and where validation must fail: nil for valid UTF-8, `count` for "valid so far but cut
/// off inside a character", otherwise the index of the first byte that no valid text can have there.
struct UTF8Case: Sendable, CustomTestStringConvertible {
    var name: String
    var bytes: [UInt8]
    var failsAt: Int?
    var testDescription: String { name }
}

let utf8Cases: [UTF8Case] = [
    UTF8Case(name: "empty", bytes: [], failsAt: nil),
    UTF8Case(name: "ASCII longer than a word", bytes: bytes("The quick brown fox jumps"), failsAt: nil),
    UTF8Case(name: "two, three and four bytes", bytes: bytes("é€😀"), failsAt: nil),
    UTF8Case(name: "boundaries U+0080 U+07FF U+0800 U+FFFF U+10000 U+10FFFF",
             bytes: [0xC2, 0x80, 0xDF, 0xBF, 0xE0, 0xA0, 0x80, 0xEF, 0xBF, 0xBF, 0xF0, 0x90, 0x80, 0x80,
                     0xF4, 0x8F, 0xBF, 0xBF], failsAt: nil),
    UTF8Case(name: "U+D7FF and U+E000 beside the surrogates", bytes: [0xED, 0x9F, 0xBF, 0xEE, 0x80, 0x80], failsAt: nil),
    UTF8Case(name: "stray continuation byte", bytes: [0x61, 0x80], failsAt: 1),
    UTF8Case(name: "C0 overlong lead", bytes: [0xC0, 0x80], failsAt: 0),
    UTF8Case(name: "C1 overlong lead", bytes: [0xC1, 0xBF], failsAt: 0),
    UTF8Case(name: "three-byte overlong", bytes: [0xE0, 0x9F, 0xBF], failsAt: 1),
    UTF8Case(name: "four-byte overlong", bytes: [0xF0, 0x8F, 0xBF, 0xBF], failsAt: 1),
    UTF8Case(name: "high surrogate", bytes: [0xED, 0xA0, 0x80], failsAt: 1),
    UTF8Case(name: "low surrogate", bytes: [0xED, 0xBF, 0xBF], failsAt: 1),
    UTF8Case(name: "above U+10FFFF", bytes: [0xF4, 0x90, 0x80, 0x80], failsAt: 1),
    UTF8Case(name: "F5 lead", bytes: [0xF5, 0x80, 0x80, 0x80], failsAt: 0),
    UTF8Case(name: "FF", bytes: [0x61, 0x62, 0xFF], failsAt: 2),
    UTF8Case(name: "lead followed by ASCII", bytes: [0xE2, 0x82, 0x41], failsAt: 2),
    UTF8Case(name: "invalid after a long ASCII run", bytes: bytes("abcdefghijklmnop") + [0xC3, 0x28], failsAt: 17),
    UTF8Case(name: "cut off after two of three bytes", bytes: [0x61, 0xE2, 0x82], failsAt: 3),
    UTF8Case(name: "cut off after one of four bytes", bytes: [0xF0], failsAt: 1),
]

@Suite("UTF-8 validator")
struct UTF8ValidatorTests {
    @Test("whole, split anywhere, and byte by byte agree", arguments: utf8Cases)
    func agreement(utf8Case: UTF8Case) {
        let expectValid = utf8Case.failsAt == nil
        for split in 0...utf8Case.bytes.count {
            var validator = UTF8Validator()
            let first = utf8Case.bytes[..<split].withUnsafeBytes { validator.validate($0) }
            let second = first && utf8Case.bytes[split...].withUnsafeBytes { validator.validate($0) }
            #expect((second && validator.isComplete) == expectValid, "split at \(split)")
        }
    }

    @Test("fails at the first byte that cannot continue", arguments: utf8Cases)
    func failFast(utf8Case: UTF8Case) {
        var validator = UTF8Validator()
        var failedAt: Int?
        for (index, byte) in utf8Case.bytes.enumerated() where failedAt == nil {
            if ![byte].withUnsafeBytes({ validator.validate($0) }) { failedAt = index }
        }
        if failedAt == nil, !validator.isComplete { failedAt = utf8Case.bytes.count }
        #expect(failedAt == utf8Case.failsAt)
    }

    @Test("agrees with the standard library on every two-byte sequence")
    func exhaustiveTwoBytes() {
        for first in 0...255 {
            for second in 0...255 {
                let pair = [UInt8(first), UInt8(second)]
                var validator = UTF8Validator()
                let ours = pair.withUnsafeBytes { validator.validate($0) } && validator.isComplete
                let standard = String(validating: pair, as: UTF8.self) != nil
                #expect(ours == standard, "\(pair)")
            }
        }
    }
}
