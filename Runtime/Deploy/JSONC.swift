import Foundation

/// JSON with comments (`//` and `/* */`) and trailing commas, as wrangler.jsonc allows: turned into plain
/// JSON (comments become spaces, so error offsets still point at the right place) and parsed.
enum JSONC {
    struct SyntaxError: Error, CustomStringConvertible {
        let line: Int
        let reason: String
        var description: String { "line \(line): \(reason)" }
    }

    static func parse(_ text: String) throws -> Any {
        let plain = try strip(text)
        do {
            return try JSONSerialization.jsonObject(with: Data(plain.utf8), options: [])
        } catch {
            let reason = (error as NSError).userInfo[NSDebugDescriptionErrorKey] as? String ?? "\(error)"
            throw SyntaxError(line: 0, reason: "not valid JSON: \(reason)")
        }
    }

    /// The text with comments blanked and trailing commas (before `}` or `]`) removed.
    static func strip(_ text: String) throws -> String {
        let bytes = Array(text.utf8)
        var out: [UInt8] = []
        out.reserveCapacity(bytes.count)
        var index = 0
        var line = 1
        var inString = false
        while index < bytes.count {
            let byte = bytes[index]
            if byte == 0x0A { line += 1 }
            if inString {
                out.append(byte)
                if byte == 0x5C, index + 1 < bytes.count {  // backslash escapes the next byte
                    out.append(bytes[index + 1])
                    index += 2
                    continue
                }
                if byte == 0x22 { inString = false }
                index += 1
                continue
            }
            if byte == 0x22 {
                inString = true
                out.append(byte)
                index += 1
            } else if byte == 0x2F, index + 1 < bytes.count, bytes[index + 1] == 0x2F {
                while index < bytes.count, bytes[index] != 0x0A {
                    out.append(0x20)
                    index += 1
                }
            } else if byte == 0x2F, index + 1 < bytes.count, bytes[index + 1] == 0x2A {
                let start = line
                index += 2
                out += [0x20, 0x20]
                while index + 1 < bytes.count, !(bytes[index] == 0x2A && bytes[index + 1] == 0x2F) {
                    if bytes[index] == 0x0A { line += 1 }
                    out.append(bytes[index] == 0x0A ? 0x0A : 0x20)
                    index += 1
                }
                guard index + 1 < bytes.count else { throw SyntaxError(line: start, reason: "/* comment never closed") }
                out += [0x20, 0x20]
                index += 2
            } else if byte == 0x2C, Self.nextSignificant(bytes, after: index).map({ $0 == 0x7D || $0 == 0x5D }) == true {
                out.append(0x20)
                index += 1
            } else {
                out.append(byte)
                index += 1
            }
        }
        guard !inString else { throw SyntaxError(line: line, reason: "string never closed") }
        return String(decoding: out, as: UTF8.self)
    }

    /// The next byte after `index` that is not whitespace or inside a comment.
    private static func nextSignificant(_ bytes: [UInt8], after index: Int) -> UInt8? {
        var at = index + 1
        while at < bytes.count {
            switch bytes[at] {
            case 0x20, 0x09, 0x0A, 0x0D: at += 1
            case 0x2F where at + 1 < bytes.count && bytes[at + 1] == 0x2F:
                while at < bytes.count, bytes[at] != 0x0A { at += 1 }
            case 0x2F where at + 1 < bytes.count && bytes[at + 1] == 0x2A:
                at += 2
                while at + 1 < bytes.count, !(bytes[at] == 0x2A && bytes[at + 1] == 0x2F) { at += 1 }
                at += 2
            default: return bytes[at]
            }
        }
        return nil
    }
}
