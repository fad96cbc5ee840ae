/// The bits of HTTP field syntax the handshake needs (RFC 9110 §5.6): tokens and comma-separated lists.
/// Header values are short and parsed once per connection, so clarity wins over speed here.
enum HeaderTokens {
    /// tchar: the characters a token is made of.
    static func isTokenByte(_ byte: UInt8) -> Bool {
        switch byte {
        case UInt8(ascii: "a")...UInt8(ascii: "z"), UInt8(ascii: "A")...UInt8(ascii: "Z"),
             UInt8(ascii: "0")...UInt8(ascii: "9"):
            true
        default:
            Array("!#$%&'*+-.^_`|~".utf8).contains(byte)
        }
    }

    static func isToken(_ text: String) -> Bool { !text.isEmpty && text.utf8.allSatisfy(isTokenByte) }

    static func isOptionalWhitespace(_ byte: UInt8) -> Bool { byte == UInt8(ascii: " ") || byte == UInt8(ascii: "\t") }

    /// The elements of every field value, split at commas, whitespace trimmed, empty elements dropped (a
    /// list may have them, RFC 9110 §5.6.1). For lists of tokens, which cannot contain quoted commas.
    static func elements(_ values: [String]) -> [String] {
        values.flatMap { value in
            value.utf8.split(separator: UInt8(ascii: ","), omittingEmptySubsequences: false).compactMap { element in
                let trimmed = element.drop(while: isOptionalWhitespace).reversed().drop(while: isOptionalWhitespace)
                    .reversed()
                return trimmed.isEmpty ? nil : String(decoding: trimmed, as: UTF8.self)
            }
        }
    }

    /// Whether any element of the lists in `values` is `token`, ignoring ASCII case.
    static func listContains(_ values: [String], _ token: String) -> Bool {
        elements(values).contains { equalIgnoringCase($0, token) }
    }

    static func equalIgnoringCase(_ a: String, _ b: String) -> Bool {
        let x = a.utf8, y = b.utf8
        guard x.count == y.count else { return false }
        return zip(x, y).allSatisfy { lower($0) == lower($1) }
    }

    private static func lower(_ byte: UInt8) -> UInt8 {
        (UInt8(ascii: "A")...UInt8(ascii: "Z")).contains(byte) ? byte | 0x20 : byte
    }
}
