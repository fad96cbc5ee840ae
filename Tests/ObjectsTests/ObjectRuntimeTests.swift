import ExamplesApp
import RuntimeAPI
import RuntimeObjects
import Testing
#if canImport(Glibc)
import Glibc
#endif

@Suite("Durable Objects")
struct ObjectRuntimeTests {
    @Test("ids: idFromName is deterministic, newUniqueId is random, idFromString checks the namespace")
    func ids() async throws {
        try await withStateDirectory { directory in
            let harness = try ObjectsHarness(stateDirectory: directory)
            defer { harness.stop() }
            let counters = try harness.namespace("COUNTER")
            let probes = try harness.namespace("PROBE")
            let a = counters.idFromName("a")
            #expect(a == counters.idFromName("a"))
            #expect(a.hex.count == 64)
            #expect(a.name == "a")
            #expect(a != counters.idFromName("b"))
            #expect(a != probes.idFromName("a"))
            #expect(counters.newUniqueId() != counters.newUniqueId())
            #expect(try counters.idFromString(a.hex) == a)
            #expect(throws: ObjectIDError.notHex("xyz")) { try counters.idFromString("xyz") }
            #expect(throws: ObjectIDError.self) { try counters.idFromString(String(repeating: "g", count: 64)) }
            #expect(throws: ObjectIDError.wrongNamespace("COUNTER")) { try counters.idFromString(probes.idFromName("a").hex) }
            var forged = Array(a.hex)
            forged[0] = forged[0] == "0" ? "1" : "0"
            #expect(throws: ObjectIDError.wrongNamespace("COUNTER")) { try counters.idFromString(String(forged)) }

            // Ids of names are cached: past the cache's size (it then starts over), and for names too
            // long to cache, every id is still the one the name derives, and valid in its namespace.
            let names = (0..<5000).map { "name-\($0)" } + [String(repeating: "long", count: 100)]
            let first = names.map { counters.idFromName($0) }
            #expect(Set(first.map(\.hex)).count == names.count)
            for (name, id) in zip(names, first) {
                #expect(counters.idFromName(name) == id)
                #expect(try counters.idFromString(id.hex) == id)
                #expect(probes.idFromName(name) != id)
            }
        }
    }

    @Test("a second runtime on the same state directory is refused while the first holds it, and may start once it stops")
    func stateDirectoryIsExclusive() async throws {
        try await withStateDirectory { directory in
            let first = try ObjectsHarness(stateDirectory: directory)
            let stub = try first.namespace("COUNTER").get(name: "shared")
            #expect(try await stub.run(as: Counter.self) { try $0.increment(by: 1) } == 1)
            // Object databases take no file locks (SQLiteDatabase.vfs): this refusal is the only guard.
            #expect {
                _ = try ObjectsHarness(stateDirectory: directory)
            } throws: { error in
                "\(error)".contains("is in use by another runtime (pid \(getpid()))")
            }
            first.stop()
            let second = try ObjectsHarness(stateDirectory: directory)
            defer { second.stop() }
            let again = try second.namespace("COUNTER").get(name: "shared")
            #expect(try await again.run(as: Counter.self) { try $0.increment(by: 1) } == 2)
        }
    }

    @Test("1,000 concurrent increments to one object give exactly 1,000")
    func concurrentIncrements() async throws {
        try await withStateDirectory { directory in
            let harness = try ObjectsHarness(stateDirectory: directory)
            defer { harness.stop() }
            let stub = try harness.namespace("COUNTER").get(name: "hot")
            try await withThrowingTaskGroup(of: Int.self) { group in
                for _ in 0..<1000 {
                    group.addTask { try await stub.run(as: Counter.self) { try $0.increment(by: 1) } }
                }
                var seen = Set<Int>()
                for try await value in group { seen.insert(value) }
                #expect(seen == Set(1...1000), "every increment saw a distinct value")
            }
            #expect(try await stub.run(as: Counter.self) { try $0.value() } == 1000)
            #expect(await harness.runtime.instancesCreated() == 1)
        }
    }

    @Test("racing first requests for a new id create exactly one instance")
    func oneInstance() async throws {
        try await withStateDirectory { directory in
            let harness = try ObjectsHarness(stateDirectory: directory, loops: 2)
            defer { harness.stop() }
            let namespace = try harness.namespace("COUNTER")
            try await withThrowingTaskGroup(of: Void.self) { group in
                for name in ["x", "y", "z"] {
                    for _ in 0..<50 {
                        group.addTask { _ = try await namespace.get(name: name).run(as: Counter.self) { try $0.value() } }
                    }
                }
                try await group.waitForAll()
            }
            #expect(await harness.runtime.instancesCreated() == 3)
            #expect(await harness.runtime.liveInstances() == 3)
        }
    }

    @Test("a counter survives a restart of the runtime")
    func survivesRestart() async throws {
        try await withStateDirectory { directory in
            do {
                let harness = try ObjectsHarness(stateDirectory: directory)
                let stub = try harness.namespace("COUNTER").get(name: "persistent")
                for _ in 0..<5 { _ = try await stub.run(as: Counter.self) { try $0.increment(by: 2) } }
                harness.stop()
            }
            let again = try ObjectsHarness(stateDirectory: directory, loops: 1)
            defer { again.stop() }
            let stub = try again.namespace("COUNTER").get(name: "persistent")
            #expect(try await stub.run(as: Counter.self) { try $0.value() } == 10)
        }
    }

    @Test("an idle object is evicted and re-created with its storage intact")
    func eviction() async throws {
        try await withStateDirectory { directory in
            let harness = try ObjectsHarness(stateDirectory: directory, idleTimeout: .milliseconds(150))
            defer { harness.stop() }
            let stub = try harness.namespace("COUNTER").get(name: "sleepy")
            _ = try await stub.run(as: Counter.self) { try $0.increment(by: 7) }
            #expect(await harness.runtime.instancesCreated() == 1)
            #expect(await eventually { await harness.runtime.liveInstances() == 0 })
            #expect(try await stub.run(as: Counter.self) { try $0.value() } == 7)
            #expect(await harness.runtime.instancesCreated() == 2)
        }
    }

    @Test("a response is released only after the write before it is durable (output gate)")
    func outputGate() async throws {
        try await withStateDirectory { directory in
            let harness = try ObjectsHarness(stateDirectory: directory)
            defer { harness.stop() }
            let stub = try harness.namespace("PROBE").get(name: "gate")
            for index in 0..<20 {
                let sequence = try await stub.run(as: ProbeObject.self) { try $0.write("k\(index)", "v") }
                let durable = try await stub.run(as: ProbeObject.self) { $0.durableSequence() }
                #expect(durable >= sequence, "write \(sequence) was acknowledged with only \(durable) durable")
            }
        }
    }

    @Test("blockConcurrencyWhile holds other events until it finishes")
    func inputGate() async throws {
        try await withStateDirectory { directory in
            let harness = try ObjectsHarness(stateDirectory: directory)
            defer { harness.stop() }
            let stub = try harness.namespace("PROBE").get(name: "critical")
            _ = try await stub.run(as: ProbeObject.self) { try $0.read("warm-up") }
            let entered = Flag()
            async let critical: Void = stub.run(as: ProbeObject.self) {
                try await $0.critical("init", milliseconds: 300, entered: entered)
            }
            // Only once the section holds the gate does the next event have to wait for it.
            #expect(await eventually { entered.isRaised })
            let seen = try await stub.run(as: ProbeObject.self) { try $0.read("init") }
            #expect(seen == "done", "an event ran inside the critical section")
            try await critical
        }
    }

    @Test("a commit that fails resets the object and loses only the failed write")
    func failedCommit() async throws {
        try await withStateDirectory { directory in
            let harness = try ObjectsHarness(stateDirectory: directory)
            defer { harness.stop() }
            let stub = try harness.namespace("PROBE").get(name: "doomed")
            _ = try await stub.run(as: ProbeObject.self) { try $0.write("kept", "yes") }
            await #expect(throws: StorageError.self) {
                try await stub.run(as: ProbeObject.self) { try $0.writeThatFailsAtCommit() }
            }
            #expect(try await stub.run(as: ProbeObject.self) { try $0.read("doomed") } == nil)
            #expect(try await stub.run(as: ProbeObject.self) { try $0.read("kept") } == "yes")
        }
    }

    @Test("oversized keys and values and bad SQL reach the object's caller as clear errors")
    func storageErrors() async throws {
        try await withStateDirectory { directory in
            let harness = try ObjectsHarness(stateDirectory: directory)
            defer { harness.stop() }
            let stub = try harness.namespace("PROBE").get(name: "errors")
            await #expect(throws: StorageError.keyTooLarge(bytes: 3000, limit: 2048)) {
                _ = try await stub.run(as: ProbeObject.self) { try $0.write(String(repeating: "k", count: 3000), "v") }
            }
            await #expect(throws: StorageError.valueTooLarge(bytes: 200_000, limit: 131_072)) {
                _ = try await stub.run(as: ProbeObject.self) { try $0.write("k", String(repeating: "v", count: 200_000)) }
            }
            let sqlError = await #expect(throws: StorageError.self) {
                try await stub.run(as: ProbeObject.self) { object in
                    _ = try object.state.storage.sql.exec("SELEKT nonsense")
                }
            }
            #expect(sqlError?.description.contains("syntax error") == true)
        }
    }
}
