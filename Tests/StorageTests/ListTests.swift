import Testing
@testable import RuntimeStorage
import RuntimeAPI

/// List options and the keys they must return, in order.
struct ListCase: Sendable, CustomTestStringConvertible {
    let options: ListOptions
    let expected: [String]
    var testDescription: String {
        var parts: [String] = []
        if let prefix = options.prefix { parts.append("prefix \"\(prefix)\"") }
        if let start = options.start { parts.append("start \"\(start)\"") }
        if let end = options.end { parts.append("end \"\(end)\"") }
        if options.reverse { parts.append("reverse") }
        if let limit = options.limit { parts.append("limit \(limit)") }
        return parts.isEmpty ? "no options" : parts.joined(separator: ", ")
    }
}

@Suite("Key-value list", .timeLimit(.minutes(1)))
struct ListTests {
    /// Inserted in this (scrambled) order.
    static let keys = ["é", "aa", "B", "z", "😀", "a", "éz", "ab", "ä", "ba", "b", "éa"]
    /// UTF-8 byte order: ASCII capitals, ASCII small letters, then ä (C3 A4) and é (C3 A9), then the
    /// four-byte 😀 (F0 9F 98 80).
    static let sorted = ["B", "a", "aa", "ab", "b", "ba", "z", "ä", "é", "éa", "éz", "😀"]

    static let cases: [ListCase] = [
        ListCase(options: ListOptions(), expected: sorted),
        ListCase(options: ListOptions(reverse: true), expected: sorted.reversed()),
        ListCase(options: ListOptions(start: "aa"), expected: ["aa", "ab", "b", "ba", "z", "ä", "é", "éa", "éz", "😀"]),
        ListCase(options: ListOptions(start: "a\u{0001}"), expected: ["aa", "ab", "b", "ba", "z", "ä", "é", "éa", "éz", "😀"]),
        ListCase(options: ListOptions(end: "b"), expected: ["B", "a", "aa", "ab"]),
        ListCase(options: ListOptions(start: "aa", end: "ba"), expected: ["aa", "ab", "b"]),
        ListCase(options: ListOptions(start: "aa", end: "ba", reverse: true), expected: ["b", "ab", "aa"]),
        ListCase(options: ListOptions(start: "a", end: "a"), expected: []),
        ListCase(options: ListOptions(start: "b", end: "a"), expected: []),
        ListCase(options: ListOptions(end: "a", reverse: true), expected: ["B"]),
        ListCase(options: ListOptions(start: "ä"), expected: ["ä", "é", "éa", "éz", "😀"]),
        ListCase(options: ListOptions(start: "z", end: "é"), expected: ["z", "ä"]),
        ListCase(options: ListOptions(prefix: "a"), expected: ["a", "aa", "ab"]),
        ListCase(options: ListOptions(prefix: "aa"), expected: ["aa"]),
        ListCase(options: ListOptions(prefix: "a", reverse: true), expected: ["ab", "aa", "a"]),
        ListCase(options: ListOptions(prefix: "B"), expected: ["B"]),
        ListCase(options: ListOptions(prefix: "é"), expected: ["é", "éa", "éz"]),
        ListCase(options: ListOptions(prefix: "éa"), expected: ["éa"]),
        ListCase(options: ListOptions(prefix: "x"), expected: []),
        ListCase(options: ListOptions(prefix: "aaa"), expected: []),
        ListCase(options: ListOptions(prefix: ""), expected: sorted),
        ListCase(options: ListOptions(prefix: "a", start: "aa"), expected: ["aa", "ab"]),
        ListCase(options: ListOptions(prefix: "a", end: "ab"), expected: ["a", "aa"]),
        ListCase(options: ListOptions(prefix: "é", start: "éa", end: "éz", reverse: true), expected: ["éa"]),
        ListCase(options: ListOptions(limit: 3), expected: ["B", "a", "aa"]),
        ListCase(options: ListOptions(reverse: true, limit: 3), expected: ["😀", "éz", "éa"]),
        ListCase(options: ListOptions(limit: 1), expected: ["B"]),
        ListCase(options: ListOptions(limit: 100), expected: sorted),
        ListCase(options: ListOptions(start: "b", limit: 2), expected: ["b", "ba"]),
        ListCase(options: ListOptions(end: "b", reverse: true, limit: 2), expected: ["ab", "aa"]),
        ListCase(options: ListOptions(prefix: "é", reverse: true, limit: 2), expected: ["éz", "éa"]),
    ]

    @Test("list returns keys in UTF-8 byte order, honouring start (inclusive), end (exclusive), prefix, reverse and limit",
          arguments: cases)
    func listing(_ listCase: ListCase) async throws {
        try await withStorage { bench in
            let storage = bench.storage
            for key in Self.keys { try storage.put(key, Array(key.utf8) + [0xFF]) }
            let entries = try storage.list(listCase.options)
            #expect(entries.map(\.key) == listCase.expected)
            for entry in entries { #expect(entry.value == Array(entry.key.utf8) + [0xFF]) }
            // The same answer from committed data, through a reopened database.
            try await storage.waitUntilDurable()
            #expect(try bench.reopen().list(listCase.options).map(\.key) == listCase.expected)
        }
    }

    @Test("the expected order of the table above is UTF-8 byte order")
    func sortedIsByteOrder() {
        let byBytes = Self.keys.sorted { Array($0.utf8).lexicographicallyPrecedes(Array($1.utf8)) }
        #expect(Self.sorted == byBytes)
    }

    @Test("a limit of zero or below throws invalidArgument", arguments: [0, -1, Int.min])
    func badLimit(_ limit: Int) async throws {
        try await withStorage { bench in
            try bench.storage.put("a", [1])
            let error = storageError { _ = try bench.storage.list(limit: limit) }
            #expect(error?.kind == "invalidArgument")
            if case .invalidArgument(let message) = error { #expect(message.contains("limit")) }
            #expect(try bench.storage.list(limit: 1).map(\.key) == ["a"])
        }
    }

    @Test("list sees the turn's uncommitted writes and deletes")
    func listSeesOwnWrites() async throws {
        try await withStorage { bench in
            let storage = bench.storage
            try storage.put(["a": [1], "b": [2]])
            try await storage.waitUntilDurable()
            try storage.put("c", [3])
            try storage.delete("a")
            #expect(storage.database.inTransaction)
            #expect(try storage.allKeys() == ["b", "c"])
        }
    }

    @Test("a prefix matches byte-wise, never a character that merely starts with the same bytes' letter")
    func prefixByteWise() async throws {
        try await withStorage { bench in
            let storage = bench.storage
            // "e" + combining acute starts with "e"; precomposed "é" does not.
            for key in ["e", "e\u{301}", "\u{E9}", "f", "ea"] { try storage.put(key, [1]) }
            // Compared as bytes: Swift's String == treats "e\u{301}" and "\u{E9}" as equal.
            #expect(try storage.list(prefix: "e").map { Array($0.key.utf8) } == [[0x65], [0x65, 0x61], [0x65, 0xCC, 0x81]])
            #expect(try storage.list(prefix: "\u{E9}").map { Array($0.key.utf8) } == [[0xC3, 0xA9]])
            // A prefix whose last byte is the highest a UTF-8 continuation byte reaches.
            try storage.put("\u{FFFF}x", [2])
            try storage.put("\u{FFFF}", [3])
            try storage.put("\u{10000}", [4])
            #expect(try storage.list(prefix: "\u{FFFF}").map { Array($0.key.utf8) }
                == [[0xEF, 0xBF, 0xBF], [0xEF, 0xBF, 0xBF, 0x78]])
        }
    }
}
