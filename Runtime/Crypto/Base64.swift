/// Base64 with the standard alphabet and padding (RFC 4648 §4), as HTTP headers such as Sec-WebSocket-Key
/// and Sec-WebSocket-Accept carry it.
public enum Base64 {
    private static let alphabet = Array("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/".utf8)
    private static let padding = UInt8(ascii: "=")
    /// Marks a byte that is not in the alphabet in `sextets`.
    private static let notInAlphabet: UInt8 = 0xFF
    /// The 6-bit value of every byte that is in the alphabet, `notInAlphabet` for the rest.
    private static let sextets: [UInt8] = {
        var table = [UInt8](repeating: notInAlphabet, count: 256)
        for (value, byte) in alphabet.enumerated() { table[Int(byte)] = UInt8(value) }
        return table
    }()

    /// `bytes` as padded base64 ("SGk=" for "Hi").
    public static func encode(_ bytes: [UInt8]) -> String {
        var out = [UInt8]()
        out.reserveCapacity((bytes.count + 2) / 3 * 4)
        var index = 0
        while index + 3 <= bytes.count {
            let group = UInt32(bytes[index]) << 16 | UInt32(bytes[index + 1]) << 8 | UInt32(bytes[index + 2])
            appendSextets(of: group, count: 4, to: &out)
            index += 3
        }
        switch bytes.count - index {
        case 1:
            appendSextets(of: UInt32(bytes[index]) << 16, count: 2, to: &out)
            out.append(padding)
            out.append(padding)
        case 2:
            appendSextets(of: UInt32(bytes[index]) << 16 | UInt32(bytes[index + 1]) << 8, count: 3, to: &out)
            out.append(padding)
        default:
            break
        }
        return String(decoding: out, as: UTF8.self)
    }

    /// The bytes `text` encodes, or nil unless it is padded base64 in the standard alphabet: a multiple of four
    /// characters, "=" only as the last one or two, no whitespace or line breaks. The unused low bits before
    /// the padding are ignored rather than required to be zero (RFC 4648 §3.5 lets decoders choose), so a
    /// sloppy but unambiguous encoder is still understood.
    public static func decode(_ text: String) -> [UInt8]? {
        let input = Array(text.utf8)
        guard input.count % 4 == 0 else { return nil }
        var padded = 0
        if input.last == padding { padded += 1 }
        if input.count >= 2, input[input.count - 2] == padding { padded += 1 }
        if padded == 1, input.last != padding { return nil }
        var out = [UInt8]()
        out.reserveCapacity(input.count / 4 * 3)
        var group: UInt32 = 0
        let significant = input.count - padded
        for index in 0..<significant {
            let value = sextets[Int(input[index])]
            guard value != notInAlphabet else { return nil }
            group = group << 6 | UInt32(value)
            if index % 4 == 3 {
                out.append(UInt8(truncatingIfNeeded: group >> 16))
                out.append(UInt8(truncatingIfNeeded: group >> 8))
                out.append(UInt8(truncatingIfNeeded: group))
                group = 0
            }
        }
        switch padded {
        case 1:
            group <<= 6
            out.append(UInt8(truncatingIfNeeded: group >> 16))
            out.append(UInt8(truncatingIfNeeded: group >> 8))
        case 2:
            group <<= 12
            out.append(UInt8(truncatingIfNeeded: group >> 16))
        default:
            break
        }
        return out
    }

    /// Appends the top `count` sextets of the 24-bit `group`.
    private static func appendSextets(of group: UInt32, count: Int, to out: inout [UInt8]) {
        for position in 0..<count {
            out.append(alphabet[Int(group >> (18 - 6 * UInt32(position)) & 0x3F)])
        }
    }
}

/// Base64url without padding (RFC 4648 §5, as JWTs use it): `-` and `_` instead of `+` and `/`.
public enum Base64URL {
    public static func encode(_ bytes: [UInt8]) -> String {
        var text = Base64.encode(bytes)
        while text.last == "=" { text.removeLast() }
        return String(text.map { $0 == "+" ? "-" : $0 == "/" ? "_" : $0 })
    }

    /// Accepts padded or unpadded input; nil for anything else.
    public static func decode(_ text: String) -> [UInt8]? {
        guard !text.contains("+"), !text.contains("/") else { return nil }
        var standard = String(text.map { $0 == "-" ? "+" : $0 == "_" ? "/" : $0 })
        if !standard.contains("=") {
            switch standard.utf8.count % 4 {
            case 2: standard += "=="
            case 3: standard += "="
            case 1: return nil
            default: break
            }
        }
        return Base64.decode(standard)
    }
}
