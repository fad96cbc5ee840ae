import Testing
@testable import RuntimeStorage
import RuntimeAPI

/// A call over a limit and the error it must throw.
struct LimitCase: Sendable, CustomTestStringConvertible {
    let name: String
    let call: @Sendable (ObjectStorage) throws -> Void
    let expected: StorageError
    var testDescription: String { name }
}

@Suite("Key-value API", .timeLimit(.minutes(1)))
struct KeyValueTests {
    @Test("put then get returns the value; a missing key reads nil; put replaces")
    func putGet() async throws {
        try await withStorage { bench in
            let storage = bench.storage
            #expect(try storage.get("missing") == nil)
            try storage.put("k", [1, 2, 3])
            #expect(try storage.get("k") == [1, 2, 3])
            try storage.put("k", [4])
            #expect(try storage.get("k") == [4])
            try storage.put("empty", [])
            #expect(try storage.get("empty") == [])
            try storage.put("", [5])
            #expect(try storage.get("") == [5])
            try storage.put("ключ 🔑", [6])
            #expect(try storage.get("ключ 🔑") == [6])
            let big = (0..<StorageLimits.maxValueBytes).map { UInt8(truncatingIfNeeded: $0 &* 31) }
            try storage.put("big", big)
            #expect(try storage.get("big") == big)
            try await storage.waitUntilDurable()
            #expect(try storage.get("k") == [4])
            #expect(try storage.allKeys() == ["", "big", "empty", "k", "ключ 🔑"])
        }
    }

    @Test("keys are compared exactly: case, Unicode normalization and trailing spaces make different keys")
    func exactKeys() async throws {
        try await withStorage { bench in
            let storage = bench.storage
            let keys = ["a", "A", "a ", "\u{E9}", "e\u{301}"]
            for (index, key) in keys.enumerated() { try storage.put(key, [UInt8(index)]) }
            for (index, key) in keys.enumerated() { #expect(try storage.get(key) == [UInt8(index)], "\(key)") }
            #expect(try storage.list().map { Array($0.key.utf8) } == keys.map { Array($0.utf8) }.sorted {
                $0.lexicographicallyPrecedes($1)
            })
        }
    }

    @Test("string and integer helpers store UTF-8 text")
    func helpers() async throws {
        try await withStorage { bench in
            let storage = bench.storage
            try storage.put("s", string: "héllo")
            try storage.put("n", int: -42)
            #expect(try storage.getString("s") == "héllo")
            #expect(try storage.get("s") == Array("héllo".utf8))
            #expect(try storage.getInt("n") == -42)
            #expect(try storage.getInt("s") == nil)
        }
    }

    @Test("batch get returns only the keys that exist")
    func batchGet() async throws {
        try await withStorage { bench in
            let storage = bench.storage
            try storage.put(["a": [1], "b": [2], "c": [3]])
            let found = try storage.get(["a", "c", "missing", "a"])
            #expect(found == ["a": [1], "c": [3]])
            #expect(try storage.get([]) == [:])
        }
    }

    @Test("batch put writes every entry; delete reports whether the key existed")
    func putAndDelete() async throws {
        try await withStorage { bench in
            let storage = bench.storage
            try storage.put(["a": [1], "b": [2], "c": [3]])
            #expect(try storage.allKeys() == ["a", "b", "c"])
            #expect(try storage.delete("b"))
            #expect(try !storage.delete("b"))
            #expect(try !storage.delete("never"))
            #expect(try storage.get("b") == nil)
            try await storage.waitUntilDurable()
            #expect(try storage.delete("a"))
            #expect(try storage.allKeys() == ["c"])
        }
    }

    @Test("batch delete returns how many of the keys existed")
    func batchDelete() async throws {
        try await withStorage { bench in
            let storage = bench.storage
            try storage.put(["a": [1], "b": [2], "c": [3], "d": [4]])
            #expect(try storage.delete(["a", "c", "missing"]) == 2)
            #expect(try storage.delete(["a", "c"]) == 0)
            #expect(try storage.delete(["b", "b"]) == 1)
            #expect(try storage.delete([]) == 0)
            #expect(try storage.allKeys() == ["d"])
        }
    }

    @Test("the limits hold exactly at their values: 2048-byte key, 128 KiB value, 128-key batches")
    func atTheLimits() async throws {
        try await withStorage { bench in
            let storage = bench.storage
            let key = String(repeating: "k", count: StorageLimits.maxKeyBytes)
            try storage.put(key, Array(repeating: 1, count: StorageLimits.maxValueBytes))
            #expect(try storage.get(key)?.count == StorageLimits.maxValueBytes)
            // 1023 two-byte characters and one one-byte: 2047 bytes, under the limit.
            let multiByte = String(repeating: "é", count: 1023) + "x"
            try storage.put(multiByte, [2])
            #expect(try storage.get(multiByte) == [2])
            let keys = (0..<StorageLimits.maxBatchKeys).map { "key-\($0)" }
            try storage.put(Dictionary(uniqueKeysWithValues: keys.map { ($0, [UInt8(1)]) }))
            #expect(try storage.get(keys).count == StorageLimits.maxBatchKeys)
            #expect(try storage.delete(keys) == StorageLimits.maxBatchKeys)
        }
    }

    static let overLimits: [LimitCase] = {
        let maxKey = StorageLimits.maxKeyBytes
        let maxValue = StorageLimits.maxValueBytes
        let maxBatch = StorageLimits.maxBatchKeys
        let longKey = String(repeating: "k", count: maxKey + 1)
        // 1025 "é" are 2050 bytes but only 1025 characters.
        let wideKey = String(repeating: "é", count: 1025)
        let bigValue = [UInt8](repeating: 0, count: maxValue + 1)
        let manyKeys = (0...maxBatch).map { "key-\($0)" }
        let manyEntries = Dictionary(uniqueKeysWithValues: manyKeys.map { ($0, [UInt8(1)]) })
        let tooLarge = StorageError.keyTooLarge(bytes: maxKey + 1, limit: maxKey)
        return [
            LimitCase(name: "get: key of 2049 bytes", call: { _ = try $0.get(longKey) }, expected: tooLarge),
            LimitCase(name: "get: key of 2050 bytes in 1025 characters", call: { _ = try $0.get(wideKey) },
                      expected: .keyTooLarge(bytes: 2050, limit: maxKey)),
            LimitCase(name: "put: key of 2049 bytes", call: { try $0.put(longKey, [1]) }, expected: tooLarge),
            LimitCase(name: "delete: key of 2049 bytes", call: { try $0.delete(longKey) }, expected: tooLarge),
            LimitCase(name: "put: value of 128 KiB + 1", call: { try $0.put("k", bigValue) },
                      expected: .valueTooLarge(bytes: maxValue + 1, limit: maxValue)),
            LimitCase(name: "batch get: 129 keys", call: { _ = try $0.get(manyKeys) },
                      expected: .tooManyKeys(count: maxBatch + 1, limit: maxBatch)),
            LimitCase(name: "batch put: 129 entries", call: { try $0.put(manyEntries) },
                      expected: .tooManyKeys(count: maxBatch + 1, limit: maxBatch)),
            LimitCase(name: "batch delete: 129 keys", call: { try $0.delete(manyKeys) },
                      expected: .tooManyKeys(count: maxBatch + 1, limit: maxBatch)),
            LimitCase(name: "batch get: one key too long", call: { _ = try $0.get(["a", longKey]) },
                      expected: tooLarge),
            LimitCase(name: "batch put: one key too long", call: { try $0.put(["a": [1], longKey: [2]]) },
                      expected: tooLarge),
            LimitCase(name: "batch put: one value too large", call: { try $0.put(["a": [1], "b": bigValue]) },
                      expected: .valueTooLarge(bytes: maxValue + 1, limit: maxValue)),
            LimitCase(name: "batch delete: one key too long", call: { try $0.delete(["zzz", longKey]) },
                      expected: tooLarge),
        ]
    }()

    @Test("calls over a limit throw the matching StorageError with the size and the limit, and write nothing",
          arguments: overLimits)
    func overLimit(_ limit: LimitCase) async throws {
        try await withStorage { bench in
            let storage = bench.storage
            try storage.put("zzz", [7])
            try await storage.waitUntilDurable()
            let error = storageError { try limit.call(storage) }
            #expect(error == limit.expected)
            #expect(try storage.allKeys() == ["zzz"])
            #expect(try storage.get("zzz") == [7])
            try storage.put("after", [8])
            try await storage.waitUntilDurable()
            #expect(try bench.reopen().allKeys() == ["after", "zzz"])
        }
    }

    @Test("keys containing NUL are kept whole (or refused), never cut at the NUL")
    func nulInKey() async throws {
        try await withStorage { bench in
            let storage = bench.storage
            do {
                try storage.put("a\u{0}b", [1])
            } catch StorageError.invalidArgument {
                return  // refusing such keys is a correct answer too
            }
            try storage.put("a", [2])
            #expect(try storage.get("a\u{0}b") == [1])
            #expect(try storage.get("a") == [2])
            #expect(try storage.allKeys() == ["a", "a\u{0}b"])
        }
    }

    @Test("the value is stored as given: a put of text-like bytes reads back as bytes, not as text")
    func valueBytesExact() async throws {
        try await withStorage { bench in
            let storage = bench.storage
            let bytes: [UInt8] = [0xFF, 0xFE, 0x00, 0x41, 0xC3]  // not valid UTF-8
            try storage.put("raw", bytes)
            try await storage.waitUntilDurable()
            #expect(try bench.reopen().get("raw") == bytes)
        }
    }
}
