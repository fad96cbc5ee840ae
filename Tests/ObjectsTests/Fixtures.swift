import ExamplesApp
import Foundation
import RuntimeAPI
import RuntimeIO
import RuntimeObjects
import RuntimeStorage
import Synchronization

/// A fresh state directory per test, removed afterwards.
func withStateDirectory<T>(_ body: (String) async throws -> T) async throws -> T {
    let path = NSTemporaryDirectory() + "objects-test-" + UUID().uuidString
    try FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: true)
    defer { try? FileManager.default.removeItem(atPath: path) }
    return try await body(path)
}

/// An object runtime on its own loops, without HTTP: what the tests drive directly.
final class ObjectsHarness: Sendable {
    let group: LoopGroup
    let runtime: ObjectRuntime

    init(stateDirectory: String, loops: Int = 2, idleTimeout: Duration = .seconds(30),
         alarmRetryBase: Duration = .milliseconds(50)) throws {
        group = try LoopGroup(count: loops)
        runtime = try ObjectRuntime(
            loops: group.loops,
            config: ObjectsConfig(stateDirectory: stateDirectory, idleTimeout: idleTimeout, alarmRetryBase: alarmRetryBase),
            classes: ["COUNTER": Counter.self, "PROBE": ProbeObject.self])
    }

    func namespace(_ name: String) throws -> any ObjectNamespace { try runtime.env.namespace(name) }

    /// Closes databases and stops the loops.
    func stop() {
        runtime.closeBlocking()
        group.stop()
        group.join()
    }
}

/// A one-way signal between a test and an object event.
final class Flag: Sendable {
    private let raised = Mutex(false)
    func raise() { raised.withLock { $0 = true } }
    var isRaised: Bool { raised.withLock { $0 } }
}

/// Polls `condition` until it holds or `timeout` passes.
/// The default is long: it only matters when the condition never holds, and the whole suite runs in parallel on
/// two cores, where a loaded machine may take seconds for what is instant alone.
func eventually(_ timeout: Duration = .seconds(20), _ condition: () async throws -> Bool) async rethrows -> Bool {
    let deadline = ContinuousClock.now + timeout
    while ContinuousClock.now < deadline {
        if try await condition() { return true }
        try? await Task.sleep(for: .milliseconds(20))
    }
    return try await condition()
}

/// An object for the behaviours the counter does not show: alarms, critical sections, failing commits,
/// and a look at its storage's durability counters.
actor ProbeObject: DurableObject {
    let state: DurableObjectState
    nonisolated var unownedExecutor: UnownedSerialExecutor { state.executor }

    init(state: DurableObjectState, env: Env) { self.state = state }

    var storage: ObjectStorage { state.storage as! ObjectStorage }

    /// Writes a key; returns the implicit transaction's number.
    func write(_ key: String, _ value: String) throws -> UInt64 {
        try state.storage.put(key, string: value)
        return storage.writeSequence
    }

    func read(_ key: String) throws -> String? { try state.storage.getString(key) }
    func durableSequence() -> UInt64 { storage.durableSequence }

    /// Sets the alarm `delay` ahead; the handler fails `failures` times before it succeeds.
    func scheduleAlarm(after delay: Duration, failures: Int) throws {
        try state.storage.put("failures-left", int: failures)
        try state.storage.setAlarm(after: delay)
    }

    func alarm() async throws {
        let attempts = (try state.storage.getInt("attempts") ?? 0) + 1
        try state.storage.put("attempts", int: attempts)
        let failuresLeft = try state.storage.getInt("failures-left") ?? 0
        if failuresLeft > 0 {
            try state.storage.put("failures-left", int: failuresLeft - 1)
            throw AlarmFailure()
        }
        try state.storage.put("fired", string: "yes")
    }

    struct AlarmFailure: Error {}

    /// Holds the input gate for `milliseconds`, then writes `key`. `entered` is raised once the gate is
    /// held, so a test knows when to send the event that must wait.
    func critical(_ key: String, milliseconds: Int, entered: Flag = Flag()) async throws {
        let storage = state.storage
        _ = try await state.blockConcurrencyWhile {
            entered.raise()
            try await Task.sleep(for: .milliseconds(milliseconds))
            try storage.put(key, string: "done")
            return true
        }
    }

    /// A write that SQLite accepts now but refuses at COMMIT (a deferred foreign key with no parent).
    func writeThatFailsAtCommit() throws {
        try state.storage.sql.exec("CREATE TABLE IF NOT EXISTS parent (id INTEGER PRIMARY KEY)")
        try state.storage.sql.exec(
            "CREATE TABLE IF NOT EXISTS child (parent INTEGER REFERENCES parent(id) DEFERRABLE INITIALLY DEFERRED)")
        try state.storage.put("doomed", string: "never durable")
        try state.storage.sql.exec("INSERT INTO child (parent) VALUES (42)")
    }
}
