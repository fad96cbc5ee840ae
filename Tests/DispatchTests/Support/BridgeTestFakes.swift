import Foundation
#if canImport(Glibc)
import Glibc
#endif

// The pieces the bridge tests put around a real `dispatch-bridge` process: the Python fakes of the control
// plane and of OpenCode (Tests/Python), the bridge process itself, and waiting on what they record.

struct BridgeTestError: Error, CustomStringConvertible {
    let description: String
}

/// Runs blocking work (starting a process, reading its first line) on a thread of its own, so Swift's
/// cooperative pool stays free.
func bridgeTestOffPool<T: Sendable>(_ body: @escaping @Sendable () throws -> T) async throws -> T {
    try await withCheckedThrowingContinuation { continuation in
        Thread.detachNewThread { continuation.resume(with: Result { try body() }) }
    }
}

/// Polls `check` until it returns a value or `timeout` passes (then throws, saying what was awaited and
/// `context()`). The polling interval is short; nothing here sleeps for a fixed time to let something
/// happen.
@discardableResult
func bridgeTestWait<T>(_ what: String, timeout: Duration = .seconds(20), context: () -> String = { "" },
                       _ check: () throws -> T?) async throws -> T {
    let deadline = ContinuousClock.now + timeout
    while true {
        if let value = try check() { return value }
        guard ContinuousClock.now < deadline else {
            throw BridgeTestError(description: "timed out after \(timeout) waiting for \(what)\n\(context())")
        }
        try await Task.sleep(for: .milliseconds(20))
    }
}

/// Lines a child writes to one of its pipes, collected by a thread of its own as they arrive; lines that
/// are JSON objects are parsed once, as they come.
final class BridgeTestLines: @unchecked Sendable {
    private let lock = NSLock()
    private var lines: [String] = []
    private var parsed: [[String: Any]] = []
    private var ended = false

    init(reading handle: FileHandle) {
        Thread.detachNewThread { [self] in
            var pending = Data()
            while true {
                let data = handle.availableData
                if data.isEmpty { break }
                pending.append(data)
                while let newline = pending.firstIndex(of: 10) {
                    add(String(decoding: pending[pending.startIndex..<newline], as: UTF8.self))
                    pending.removeSubrange(pending.startIndex...newline)
                }
            }
            if !pending.isEmpty { add(String(decoding: pending, as: UTF8.self)) }
            lock.withLock { ended = true }
        }
    }

    private func add(_ line: String) {
        let object = (try? JSONSerialization.jsonObject(with: Data(line.utf8))) as? [String: Any]
        lock.withLock {
            lines.append(line)
            if let object { parsed.append(object) }
        }
    }

    var all: [String] { lock.withLock { lines } }
    var text: String { all.joined(separator: "\n") }
    /// Every line that is a JSON object, parsed.
    var objects: [[String: Any]] { lock.withLock { parsed } }
    /// True once the pipe reached its end (every writer closed it) and every line is in.
    var isComplete: Bool { lock.withLock { ended } }

    /// Blocks until the first line, which must be "port N"; returns N.
    func waitForPort(_ name: String, timeout: Duration = .seconds(20)) throws -> UInt16 {
        let deadline = ContinuousClock.now + timeout
        while ContinuousClock.now < deadline {
            if let first = all.first {
                guard first.hasPrefix("port "), let port = UInt16(first.dropFirst(5)) else {
                    throw BridgeTestError(description: "\(name) did not start: \(first)")
                }
                return port
            }
            usleep(10_000)
        }
        throw BridgeTestError(description: "\(name) printed no port within \(timeout)")
    }
}

private let bridgeTestPythonDirectory = URL(fileURLWithPath: #filePath).deletingLastPathComponent()
    .deletingLastPathComponent().deletingLastPathComponent().appendingPathComponent("Python").path

/// A Python script from Tests/Python as a child: prints its port first, then JSON lines; stops when its
/// stdin closes.
class BridgeTestPythonFake: @unchecked Sendable {
    let process = Process()
    let input = Pipe()
    let output: BridgeTestLines
    let errors: BridgeTestLines
    let port: UInt16

    init(script: String, arguments: [String]) throws {
        process.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        process.arguments = ["python3", bridgeTestPythonDirectory + "/" + script] + arguments
        let stdout = Pipe()
        let stderr = Pipe()
        process.standardInput = input
        process.standardOutput = stdout
        process.standardError = stderr
        try process.run()
        output = BridgeTestLines(reading: stdout.fileHandleForReading)
        errors = BridgeTestLines(reading: stderr.fileHandleForReading)
        do {
            port = try output.waitForPort(script)
        } catch {
            process.terminate()
            throw BridgeTestError(description: "\(error)\n\(errors.text)")
        }
    }

    var records: [[String: Any]] { output.objects }

    func write(_ command: [String: Any]) throws {
        var data = try JSONSerialization.data(withJSONObject: command)
        data.append(10)
        try input.fileHandleForWriting.write(contentsOf: data)
    }

    func stop() {
        try? input.fileHandleForWriting.close()
        if process.isRunning { process.terminate() }
    }
}

/// Tests/Python/fake_control_plane.py: checks the sandbox socket's path and headers like the real control
/// plane, refuses when told, records every frame, and sends the commands the test gives it.
final class BridgeTestControlPlane: BridgeTestPythonFake, @unchecked Sendable {
    init(token: String, sandboxID: String, sessionID: String, refusals: [(status: Int, count: Int)]) throws {
        try super.init(script: "fake_control_plane.py",
                       arguments: ["--token", token, "--sandbox-id", sandboxID, "--session-id", sessionID]
                           + refusals.flatMap { ["--refuse", "\($0.status):\($0.count)"] })
    }

    var url: String { "http://127.0.0.1:\(port)" }

    func records(_ event: String) -> [[String: Any]] { records.filter { $0["event"] as? String == event } }

    /// Every frame the bridge sent, oldest first, each with "connection", "at" (monotonic seconds at the
    /// fake) and "size" (bytes) added.
    var frames: [[String: Any]] {
        records("frame").compactMap { record in
            guard var data = record["data"] as? [String: Any] else { return nil }
            data["connection"] = record["connection"]
            data["at"] = record["at"]
            data["size"] = record["size"]
            return data
        }
    }

    func frames(_ type: String, messageId: String? = nil) -> [[String: Any]] {
        frames.filter { $0["type"] as? String == type && (messageId == nil || $0["messageId"] as? String == messageId) }
    }

    /// Frames of one prompt (those carrying its message id), in order.
    func frames(of messageId: String) -> [[String: Any]] {
        frames.filter { $0["messageId"] as? String == messageId }
    }

    func send(_ frame: [String: Any]) throws { try write(["op": "send", "frame": frame]) }

    func closeConnection(code: Int = 1000) throws { try write(["op": "close", "code": code]) }

    /// The first frame of `type` (and message id) that satisfies `test`.
    @discardableResult
    func waitForFrame(_ type: String, messageId: String? = nil, timeout: Duration = .seconds(20),
                      where test: ([String: Any]) -> Bool = { _ in true }) async throws -> [String: Any] {
        try await bridgeTestWait("a \(type) frame" + (messageId.map { " for \($0)" } ?? ""), timeout: timeout,
                                 context: { self.describe() }) {
            frames(type, messageId: messageId).first(where: test)
        }
    }

    /// What happened so far, for failure messages.
    func describe() -> String {
        "control plane saw:\n" + output.all.dropFirst().joined(separator: "\n")
    }
}

/// Tests/Python/fake_opencode.py: OpenCode's routes with scripted turns ("scenario:<name>" prompts).
final class BridgeTestOpenCode: BridgeTestPythonFake, @unchecked Sendable {
    init(existingSession: String? = nil) throws {
        try super.init(script: "fake_opencode.py", arguments: existingSession.map { ["--existing-session", $0] } ?? [])
    }

    var url: String { "http://127.0.0.1:\(port)" }

    /// Requests in arrival order.
    func requests(_ method: String? = nil, _ path: String? = nil) -> [[String: Any]] {
        records.filter {
            $0["event"] as? String == "request" && (method == nil || $0["method"] as? String == method)
                && (path == nil || $0["path"] as? String == path)
        }
    }

    @discardableResult
    func waitForRequest(_ method: String, _ path: String, timeout: Duration = .seconds(20)) async throws -> [String: Any] {
        try await bridgeTestWait("OpenCode request \(method) \(path)", timeout: timeout, context: { self.describe() }) {
            requests(method, path).first
        }
    }

    func describe() -> String { "fake OpenCode saw:\n" + output.all.dropFirst().joined(separator: "\n") }
}

/// The built `dispatch-bridge`, beside the test bundle like `runtime` (Tests/ServerTests/ShutdownTests.swift).
enum BridgeTestBinary {
    static func path() throws -> String {
        if let explicit = ProcessInfo.processInfo.environment["DISPATCH_BRIDGE_BIN"] { return explicit }
        let bundleDirectory = Bundle.main.bundleURL.deletingLastPathComponent().path
        let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
            .deletingLastPathComponent().deletingLastPathComponent().path
        let candidates = [bundleDirectory + "/dispatch-bridge", Bundle.main.bundleURL.path + "/dispatch-bridge",
                          root + "/.build/debug/dispatch-bridge"]
        guard let found = candidates.first(where: { FileManager.default.isExecutableFile(atPath: $0) }) else {
            throw BridgeTestError(description: "dispatch-bridge not built (swift build); looked in \(candidates)")
        }
        return found
    }
}

/// One `dispatch-bridge` child with exactly the given environment; its standard error is its log.
final class BridgeTestProcess: @unchecked Sendable {
    let process = Process()
    let log: BridgeTestLines

    init(environment: [String: String], directory: String) throws {
        process.executableURL = URL(fileURLWithPath: try BridgeTestBinary.path())
        process.environment = environment
        process.currentDirectoryURL = URL(fileURLWithPath: directory)
        let stderr = Pipe()
        process.standardInput = FileHandle.nullDevice
        process.standardOutput = FileHandle.nullDevice
        process.standardError = stderr
        try process.run()
        log = BridgeTestLines(reading: stderr.fileHandleForReading)
    }

    var pid: Int32 { process.processIdentifier }

    /// The exit status once it exits within `timeout`, after its whole log is in.
    func waitForExit(timeout: Duration = .seconds(20)) async throws -> Int32 {
        let status = try await bridgeTestWait("dispatch-bridge to exit", timeout: timeout,
                                              context: { "bridge log:\n\(self.log.text)" }) {
            process.isRunning ? nil : process.terminationStatus
        }
        try await bridgeTestWait("the end of dispatch-bridge's log") { log.isComplete ? true : nil }
        return status
    }

    func kill() {
        if process.isRunning { Foundation.kill(process.processIdentifier, SIGKILL) }
    }
}
