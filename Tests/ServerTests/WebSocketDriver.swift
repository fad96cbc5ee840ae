import Foundation
import Synchronization
#if canImport(Glibc)
import Glibc
#endif

/// Tests/Python/ws_driver.py as a child process: the WebSocket client of the end-to-end tests, written
/// apart from the runtime (the `websockets` package, plus raw frames built in Python). Commands go as
/// JSON lines on its stdin, one reply line each comes back on its stdout; see the script for the
/// commands. Calls must not overlap. `stop()` always ends the process.
final class WebSocketDriver: @unchecked Sendable {
    /// Room on top of a command's own timeout for the reply to arrive (a loaded machine is slow).
    static let replyMargin: Double = 15
    /// How long Python may take to start and load `websockets`.
    static let startTimeout: Double = 30
    static let script = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
        .appendingPathComponent("Python/ws_driver.py").path

    struct Failure: Error, CustomStringConvertible {
        let description: String
    }

    private let process: Process
    private let input: FileHandle
    /// Kept so its descriptor stays open; read with poll(2) and read(2) for deadlines.
    private let outputHandle: FileHandle
    private var output: Int32 { outputHandle.fileDescriptor }
    private let errorLog: String
    private let received = Mutex<[UInt8]>([])

    /// Starts the driver against `port` and waits until it is ready (off the cooperative pool).
    static func start(port: UInt16) async throws -> WebSocketDriver {
        let driver = try WebSocketDriver(port: port)
        do {
            let ready = try await offPool { try driver.readReply(deadline: Date().addingTimeInterval(startTimeout), op: "start") }
            guard ready.bool("ready") else { throw Failure(description: "the driver did not start: \(ready)") }
        } catch {
            await driver.stop()
            throw Failure(description: "python3 \(script) did not start (python3 with the `websockets` package is "
                + "needed; scripts/test installs it): \(error)")
        }
        return driver
    }

    private init(port: UInt16) throws {
        // A driver that died must show up as a failed write (EPIPE), not kill the test process.
        signal(SIGPIPE, SIG_IGN)
        errorLog = NSTemporaryDirectory() + "ws-driver-" + UUID().uuidString + ".log"
        _ = FileManager.default.createFile(atPath: errorLog, contents: nil)
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        process.arguments = ["python3", Self.script, String(port)]
        let stdin = Pipe()
        let stdout = Pipe()
        process.standardInput = stdin
        process.standardOutput = stdout
        process.standardError = FileHandle(forWritingAtPath: errorLog)
        try process.run()
        self.process = process
        input = stdin.fileHandleForWriting
        outputHandle = stdout.fileHandleForReading
    }

    /// Runs one command; throws when the driver reports a failure (`attempt` returns it instead).
    @discardableResult
    func call(_ op: String, _ arguments: [String: Any] = [:]) async throws -> DriverReply {
        let reply = try await attempt(op, arguments)
        guard reply.ok else { throw Failure(description: "\(op) \(Self.brief(arguments)): \(reply.error ?? "failed")") }
        return reply
    }

    /// Runs one command and returns its reply, failed or not.
    func attempt(_ op: String, _ arguments: [String: Any] = [:]) async throws -> DriverReply {
        var command = arguments
        command["op"] = op
        let line = try JSONSerialization.data(withJSONObject: command) + Data([0x0A])
        let timeout = (arguments["timeout"] as? Double) ?? Double(arguments["timeout"] as? Int ?? 5)
        return try await offPool { try self.exchange(line, timeout: timeout + Self.replyMargin, op: op) }
    }

    private func exchange(_ line: Data, timeout: Double, op: String) throws -> DriverReply {
        do {
            try input.write(contentsOf: line)
        } catch {
            throw Failure(description: "\(op): the driver is gone (\(error)); its stderr: \(stderrTail())")
        }
        return try readReply(deadline: Date().addingTimeInterval(timeout), op: op)
    }

    private func readReply(deadline: Date, op: String) throws -> DriverReply {
        let text = try readLine(deadline: deadline, op: op)
        guard let object = try? JSONSerialization.jsonObject(with: Data(text.utf8)) as? [String: Any] else {
            throw Failure(description: "\(op): not a JSON reply: \(text)")
        }
        return DriverReply(fields: object)
    }

    private func readLine(deadline: Date, op: String) throws -> String {
        while true {
            let line: [UInt8]? = received.withLock { buffer in
                guard let newline = buffer.firstIndex(of: 0x0A) else { return nil }
                let line = Array(buffer[..<newline])
                buffer.removeFirst(newline + 1)
                return line
            }
            if let line { return String(decoding: line, as: UTF8.self) }
            let remaining = deadline.timeIntervalSinceNow
            guard remaining > 0 else { throw Failure(description: "\(op): no reply in time; stderr: \(stderrTail())") }
            var descriptor = pollfd(fd: output, events: Int16(POLLIN), revents: 0)
            guard poll(&descriptor, 1, Int32(min(remaining, 1) * 1000) + 1) > 0 else { continue }
            var chunk = [UInt8](repeating: 0, count: 65536)
            let count = chunk.withUnsafeMutableBytes { read(output, $0.baseAddress, $0.count) }
            if count < 0 && errno == EINTR { continue }
            guard count > 0 else {
                throw Failure(description: "\(op): the driver exited; its stderr: \(stderrTail())")
            }
            received.withLock { $0 += chunk[0..<count] }
        }
    }

    private func stderrTail() -> String {
        let text = (try? String(contentsOfFile: errorLog, encoding: .utf8)) ?? ""
        return text.isEmpty ? "(empty)" : String(text.suffix(2000))
    }

    /// Asks the driver to close everything and exit; kills it if it does not within a few seconds.
    func stop() async {
        _ = try? await offPool {
            try? self.input.write(contentsOf: Data("{\"op\":\"exit\"}\n".utf8))
            try? self.input.close()
            let deadline = Date().addingTimeInterval(3)
            while self.process.isRunning, Date() < deadline { usleep(5_000) }
            if self.process.isRunning {
                kill(self.process.processIdentifier, SIGKILL)
                self.process.waitUntilExit()
            }
            try? FileManager.default.removeItem(atPath: self.errorLog)
        }
    }

    private static func brief(_ arguments: [String: Any]) -> String {
        let text = (try? JSONSerialization.data(withJSONObject: arguments)).map { String(decoding: $0, as: UTF8.self) } ?? ""
        return text.count > 300 ? String(text.prefix(300)) + "…" : text
    }
}

/// One reply of the driver: a JSON object, read through typed accessors (absent or null → nil).
struct DriverReply: @unchecked Sendable, CustomStringConvertible {
    let fields: [String: Any]

    var ok: Bool { bool("ok") }
    var error: String? { string("error") }

    func string(_ key: String) -> String? { fields[key] as? String }
    func int(_ key: String) -> Int? { (fields[key] as? NSNumber)?.intValue }
    func bool(_ key: String) -> Bool { (fields[key] as? NSNumber)?.boolValue ?? false }
    func object(_ key: String) -> DriverReply? { (fields[key] as? [String: Any]).map(DriverReply.init) }
    func objects(_ key: String) -> [DriverReply] {
        ((fields[key] as? [Any]) ?? []).compactMap { ($0 as? [String: Any]).map(DriverReply.init) }
    }
    /// A list of strings, with nil where the driver put null (or something else).
    func strings(_ key: String) -> [String?] { ((fields[key] as? [Any]) ?? []).map { $0 as? String } }
    func ints(_ key: String) -> [Int?] { ((fields[key] as? [Any]) ?? []).map { ($0 as? NSNumber)?.intValue } }
    /// For `headers` given as [[name, value], ...]: the first value of `name`, any case.
    func header(_ name: String) -> String? {
        for pair in (fields["headers"] as? [[String]]) ?? [] where pair.count == 2 && pair[0].lowercased() == name.lowercased() {
            return pair[1]
        }
        return nil
    }
    /// For `headers`: every value of `name` (any case), in order.
    func headerValues(_ name: String) -> [String] {
        ((fields["headers"] as? [[String]]) ?? []).filter { $0.count == 2 && $0[0].lowercased() == name.lowercased() }
            .map { $0[1] }
    }
    /// Hex payload decoded.
    func bytes(_ key: String) -> [UInt8]? { string(key).flatMap(hexBytes) }

    var description: String {
        (try? JSONSerialization.data(withJSONObject: fields, options: .sortedKeys)).map { String(decoding: $0, as: UTF8.self) }
            ?? "\(fields)"
    }
}

func hexBytes(_ text: String) -> [UInt8]? {
    var bytes: [UInt8] = []
    var iterator = text.utf8.makeIterator()
    while let high = iterator.next() {
        guard let low = iterator.next(), let value = UInt8(String(decoding: [high, low], as: UTF8.self), radix: 16) else {
            return nil
        }
        bytes.append(value)
    }
    return bytes
}

func hex(_ bytes: [UInt8]) -> String { bytes.map { String(format: "%02x", $0) }.joined() }
func hex(_ text: String) -> String { hex(Array(text.utf8)) }

/// A frame for the driver to build bit by bit (`build_frame` in ws_driver.py): any opcode, FIN, RSV bits
/// and length, masked or not, so it can break every rule of RFC 6455 on purpose.
struct TestFrame: Sendable, CustomStringConvertible {
    var opcode: Int
    var payload: [UInt8] = []
    var fin = true
    /// RSV1 is 0b100, RSV2 0b010, RSV3 0b001.
    var rsv = 0
    var masked = true
    /// Deflate the payload (raw, sync-flushed, tail removed: RFC 7692) and set RSV1.
    var compress = false
    /// The payload is `payload` this many times over (big messages without big commands).
    var repeats = 1
    /// Sent as they are instead of a frame built from the fields.
    var raw: [UInt8]?

    static func text(_ text: String, fin: Bool = true) -> TestFrame { TestFrame(opcode: 1, payload: Array(text.utf8), fin: fin) }
    static func text(bytes: [UInt8], fin: Bool = true) -> TestFrame { TestFrame(opcode: 1, payload: bytes, fin: fin) }
    static func binary(_ bytes: [UInt8], fin: Bool = true) -> TestFrame { TestFrame(opcode: 2, payload: bytes, fin: fin) }
    static func continuation(_ text: String, fin: Bool = true) -> TestFrame {
        TestFrame(opcode: 0, payload: Array(text.utf8), fin: fin)
    }
    static func continuation(bytes: [UInt8], fin: Bool = true) -> TestFrame { TestFrame(opcode: 0, payload: bytes, fin: fin) }
    static func ping(_ bytes: [UInt8] = [], fin: Bool = true) -> TestFrame { TestFrame(opcode: 9, payload: bytes, fin: fin) }
    static func close(_ code: Int, _ reason: String = "") -> TestFrame {
        TestFrame(opcode: 8, payload: [UInt8(code >> 8 & 0xFF), UInt8(code & 0xFF)] + Array(reason.utf8))
    }
    static func close(payload: [UInt8]) -> TestFrame { TestFrame(opcode: 8, payload: payload) }
    static func raw(_ bytes: [UInt8]) -> TestFrame { TestFrame(opcode: 0, raw: bytes) }

    var json: [String: Any] {
        if let raw { return ["raw": hex(raw)] }
        return ["opcode": opcode, "hex": hex(payload), "fin": fin, "rsv": rsv, "mask": masked, "compress": compress, "repeat": repeats]
    }

    var description: String {
        raw.map { "raw \(hex($0))" } ?? "opcode \(opcode) fin \(fin) rsv \(rsv) \(payload.count * repeats) bytes"
    }
}

extension Array where Element == TestFrame {
    var json: [[String: Any]] { map(\.json) }
}
