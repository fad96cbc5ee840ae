import Foundation
import RuntimeCrypto
import Synchronization

/// Ids in OpenCode's ascending format: `<prefix>_` + 12 hex digits of (milliseconds × 0x1000 + counter),
/// low 48 bits, + 14 random base62 characters. OpenCode's loop compares message ids as strings, so the id
/// of a new user message must sort after every earlier one (its assistant replies included), or the turn
/// ends before it starts; ids made here never go backwards, even if the clock does.
///
/// Threading: any thread.
final class AscendingID: Sendable {
    static let randomCharacters = 14
    private static let alphabet = Array("0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz".utf8)

    private struct State {
        var lastMilliseconds: Int64 = 0
        var counter: Int64 = 0
    }

    private let state = Mutex(State())

    func next(_ prefix: String) -> String {
        let now = Int64(Date().timeIntervalSince1970 * 1000)
        let value = state.withLock { state -> Int64 in
            if now > state.lastMilliseconds {
                state.lastMilliseconds = now
                state.counter = 0
            }
            state.counter += 1
            // Past 0xfff ids in one millisecond, borrow the next millisecond rather than wrap.
            if state.counter >= 0x1000 {
                state.lastMilliseconds += 1
                state.counter = 1
            }
            return state.lastMilliseconds &* 0x1000 &+ state.counter
        }
        var text = prefix + "_"
        for shift in stride(from: 40, through: 0, by: -8) {
            let byte = UInt8(truncatingIfNeeded: value >> Int64(shift))
            text += String(byte, radix: 16).leftPadded(to: 2)
        }
        let random = SecureRandom.bytes(Self.randomCharacters)
        text += String(decoding: random.map { Self.alphabet[Int($0) % Self.alphabet.count] }, as: UTF8.self)
        return text
    }
}

extension String {
    func leftPadded(to width: Int, with pad: Character = "0") -> String {
        count >= width ? self : String(repeating: pad, count: width - count) + self
    }
}
