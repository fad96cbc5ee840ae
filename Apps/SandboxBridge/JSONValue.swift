import Foundation

/// A JSON value, for the loosely shaped messages the bridge relays: control plane commands, OpenCode's
/// events and tool arguments (passed on as they came). Integers stay integers.
enum JSONValue: Sendable, Equatable, Codable {
    case null
    case bool(Bool)
    case int(Int64)
    case double(Double)
    case string(String)
    case array([JSONValue])
    case object([String: JSONValue])

    /// Deepest nesting `parse` accepts (Foundation's decoder recurses once per level).
    static let maxDepth = 64

    struct ParseError: Error, CustomStringConvertible {
        let description: String
    }

    /// Parses one JSON value of any type.
    static func parse(_ bytes: [UInt8]) throws -> JSONValue {
        guard depth(of: bytes) <= maxDepth else {
            throw ParseError(description: "JSON nested deeper than \(maxDepth) levels")
        }
        do {
            return try JSONDecoder().decode(JSONValue.self, from: Data(bytes))
        } catch {
            throw ParseError(description: "malformed JSON: \(error)")
        }
    }

    static func parse(_ text: String) throws -> JSONValue { try parse(Array(text.utf8)) }

    /// The deepest bracket nesting outside strings: a cheap guard before the recursive decoder.
    private static func depth(of bytes: [UInt8]) -> Int {
        var depth = 0, deepest = 0, inString = false, escaped = false
        for byte in bytes {
            if inString {
                if escaped {
                    escaped = false
                } else if byte == UInt8(ascii: "\\") {
                    escaped = true
                } else if byte == UInt8(ascii: "\"") {
                    inString = false
                }
                continue
            }
            switch byte {
            case UInt8(ascii: "\""): inString = true
            case UInt8(ascii: "["), UInt8(ascii: "{"):
                depth += 1
                deepest = max(deepest, depth)
            case UInt8(ascii: "]"), UInt8(ascii: "}"): depth -= 1
            default: break
            }
        }
        return deepest
    }

    init(from decoder: any Decoder) throws {
        let container = try decoder.singleValueContainer()
        if container.decodeNil() {
            self = .null
        } else if let value = try? container.decode(Bool.self) {
            self = .bool(value)
        } else if let value = try? container.decode(Int64.self) {
            self = .int(value)
        } else if let value = try? container.decode(Double.self) {
            self = .double(value)
        } else if let value = try? container.decode(String.self) {
            self = .string(value)
        } else if let value = try? container.decode([JSONValue].self) {
            self = .array(value)
        } else {
            self = .object(try container.decode([String: JSONValue].self))
        }
    }

    func encode(to encoder: any Encoder) throws {
        var container = encoder.singleValueContainer()
        switch self {
        case .null: try container.encodeNil()
        case .bool(let value): try container.encode(value)
        case .int(let value): try container.encode(value)
        case .double(let value): try container.encode(value)
        case .string(let value): try container.encode(value)
        case .array(let value): try container.encode(value)
        case .object(let value): try container.encode(value)
        }
    }

    /// Compact JSON text with sorted keys.
    var text: String { String(decoding: bytes, as: UTF8.self) }

    var bytes: [UInt8] {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
        return Array((try? encoder.encode(self)) ?? Data("null".utf8))
    }

    subscript(key: String) -> JSONValue? {
        if case .object(let fields) = self { return fields[key] }
        return nil
    }

    var string: String? { if case .string(let value) = self { value } else { nil } }
    var bool: Bool? { if case .bool(let value) = self { value } else { nil } }
    var array: [JSONValue]? { if case .array(let value) = self { value } else { nil } }
    var object: [String: JSONValue]? { if case .object(let value) = self { value } else { nil } }
    var isNull: Bool { self == .null }

    /// A non-empty string, or nil.
    var nonEmptyString: String? {
        guard let value = string, !value.isEmpty else { return nil }
        return value
    }

    /// An empty object, array or string, or null: OpenCode's "no input yet".
    var isEmptyValue: Bool {
        switch self {
        case .null: true
        case .object(let fields): fields.isEmpty
        case .array(let items): items.isEmpty
        case .string(let text): text.isEmpty
        default: false
        }
    }

    /// This value with every string longer than `maxBytes` UTF-8 bytes cut to that length (and marked).
    func truncatingStrings(maxBytes: Int) -> JSONValue {
        switch self {
        case .string(let text): .string(TextLimit.truncate(text, maxBytes: maxBytes))
        case .array(let items): .array(items.map { $0.truncatingStrings(maxBytes: maxBytes) })
        case .object(let fields): .object(fields.mapValues { $0.truncatingStrings(maxBytes: maxBytes) })
        default: self
        }
    }
}

extension JSONValue: ExpressibleByStringLiteral, ExpressibleByDictionaryLiteral, ExpressibleByBooleanLiteral,
    ExpressibleByIntegerLiteral, ExpressibleByArrayLiteral {
    init(stringLiteral value: String) { self = .string(value) }
    init(booleanLiteral value: Bool) { self = .bool(value) }
    init(integerLiteral value: Int64) { self = .int(value) }
    init(arrayLiteral elements: JSONValue...) { self = .array(elements) }
    init(dictionaryLiteral elements: (String, JSONValue)...) {
        self = .object(Dictionary(elements, uniquingKeysWith: { _, last in last }))
    }
}
