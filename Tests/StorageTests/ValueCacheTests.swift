import Testing
@testable import RuntimeStorage
import RuntimeAPI

/// The key-value value cache (`ObjectStorage.valueCache`): a `get` served from memory must always
/// equal what SQLite holds for the reader, through commits, rollbacks, `deleteAll`, failures and
/// values too large to cache. Each check reads a key once first, so it is cached when the change comes.
@Suite("Key-value value cache", .timeLimit(.minutes(1)))
struct ValueCacheTests {
    @Test("a cached key reads its new value after a write, in the writing turn and after its commit")
    func writesReplaceCachedValues() async throws {
        try await withStorage { bench in
            let storage = bench.storage
            try storage.put("n", [1])
            try await bench.nextTurn()
            #expect(try storage.get("n") == [1])
            try storage.put("n", [2])
            #expect(try storage.get("n") == [2], "the open transaction reads its own write")
            try await bench.nextTurn()
            #expect(try storage.get("n") == [2])
            #expect(try storage.delete("n"))
            #expect(try storage.get("n") == nil)
            try await bench.nextTurn()
            #expect(try storage.get("n") == nil)
            try await storage.waitUntilDurable()
            #expect(try bench.reopen().get("n") == nil)
        }
    }

    @Test("a rolled-back transaction {} leaves the cached value as it was, also after a deleteAll inside it")
    func rollbackKeepsCommittedValue() async throws {
        try await withStorage { bench in
            let storage = bench.storage
            try storage.put("n", [1])
            try await bench.nextTurn()
            #expect(try storage.get("n") == [1])
            #expect(throws: Abort.self) {
                try storage.transaction {
                    try storage.put("n", [2])
                    #expect(try storage.get("n") == [2])
                    throw Abort(marker: 1)
                }
            }
            #expect(try storage.get("n") == [1])
            #expect(throws: Abort.self) {
                try storage.transaction {
                    try storage.deleteAll()
                    #expect(try storage.get("n") == nil)
                    throw Abort(marker: 2)
                }
            }
            #expect(try storage.get("n") == [1])
            try await bench.nextTurn()
            #expect(try storage.get("n") == [1])
        }
    }

    @Test("deleteAll empties the cache at its commit; keys written after it in the same turn keep their new values")
    func deleteAllEmptiesTheCache() async throws {
        try await withStorage { bench in
            let storage = bench.storage
            try storage.put("a", [1])
            try storage.put("b", [2])
            try await bench.nextTurn()
            #expect(try storage.get("a") == [1] && storage.get("b") == [2])
            try storage.deleteAll()
            #expect(try storage.get("a") == nil)
            try storage.put("b", [3])
            #expect(try storage.get("b") == [3])
            try await bench.nextTurn()
            #expect(try storage.get("a") == nil && storage.get("b") == [3])
        }
    }

    @Test("a failed transaction's writes are never read back: the storage fails and reads see the committed value")
    func failureDropsPendingValues() async throws {
        try await withStorage { bench in
            let storage = bench.storage
            try storage.put("n", [1])
            try storage.sql.exec("CREATE TABLE t (x PRIMARY KEY)")
            try storage.sql.exec("INSERT INTO t VALUES (1)")
            try await bench.nextTurn()
            try await storage.waitUntilDurable()
            #expect(try storage.get("n") == [1])
            // App SQL whose conflict clause rolls back the implicit transaction, and the put with it.
            try storage.put("n", [2])
            #expect(try storage.get("n") == [2])
            _ = try? storage.sql.exec("INSERT OR ROLLBACK INTO t VALUES (1)")
            #expect(storage.broken != nil)
            #expect(try storage.get("n") == [1], "the rolled-back put is gone from the cache too")
        }
    }

    @Test("values too large to cache, many keys and a value growing past the cache's bound all read back exactly")
    func boundsKeepReadsExact() async throws {
        try await withStorage { bench in
            let storage = bench.storage
            let large = [UInt8](repeating: 7, count: ObjectStorage.ValueCache.maxValueBytes + 1)
            try storage.put("grows", [1])
            let keys = (0..<(ObjectStorage.ValueCache.entries * 3)).map { "key-\($0)" }
            for (index, key) in keys.enumerated() { try storage.put(key, [UInt8(index)]) }
            try await bench.nextTurn()
            #expect(try storage.get("grows") == [1])
            for (index, key) in keys.enumerated() { #expect(try storage.get(key) == [UInt8(index)]) }
            try storage.put("grows", large)
            try await bench.nextTurn()
            #expect(try storage.get("grows") == large)
            try storage.put("grows", [2])
            try await bench.nextTurn()
            #expect(try storage.get("grows") == [2])
            for (index, key) in keys.enumerated().reversed() { #expect(try storage.get(key) == [UInt8(index)]) }
            let longKey = String(repeating: "k", count: ObjectStorage.ValueCache.maxKeyBytes + 1)
            try storage.put(longKey, [3])
            try await bench.nextTurn()
            #expect(try storage.get(longKey) == [3])
        }
    }

    @Test("inside one transaction: a value too large to cache and more writes than the cache tracks read back as written")
    func largeAndManyPendingWrites() async throws {
        try await withStorage { bench in
            let storage = bench.storage
            let large = [UInt8](repeating: 9, count: ObjectStorage.ValueCache.maxValueBytes * 4)
            try storage.put("big", [1])
            try storage.put("first", [1])
            try await bench.nextTurn()
            #expect(try storage.get("big") == [1] && storage.get("first") == [1])
            try storage.put("big", large)
            #expect(try storage.get("big") == large, "an uncached pending write is read from SQLite")
            // Past the tracked writes the transaction bypasses the cache; every read still sees its writes.
            let count = ObjectStorage.ValueCache.pendingLimit + 50
            for index in 0..<count { try storage.put("many-\(index)", [UInt8(index % 256)]) }
            try storage.put("first", [2])
            for index in 0..<count { #expect(try storage.get("many-\(index)") == [UInt8(index % 256)]) }
            #expect(try storage.get("first") == [2] && storage.get("big") == large)
            try await bench.nextTurn()
            #expect(try storage.get("first") == [2] && storage.get("big") == large)
            #expect(try storage.get("many-0") == [0] && storage.get("many-\(count - 1)") == [UInt8((count - 1) % 256)])
        }
    }
}
