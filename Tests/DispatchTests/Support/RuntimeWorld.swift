import Foundation
#if canImport(Glibc)
import Glibc
#endif

/// A real `runtime serve` child process on a fresh state directory and a free loopback port, with the
/// CLI calls tests need (`deploy`, `secret put`) and a small HTTP client. Always `stop()` it (a `defer`
/// right after creating it); `deinit` stops it too as a last resort.
///
/// Blocking work (the child's CLI runs, socket reads) runs on threads of its own, never on Swift's
/// cooperative pool, except `deploy` and `putSecret`, which are synchronous by design and block the
/// calling test for as long as the CLI runs (a deploy compiles with swiftc: up to a minute or so).
final class RuntimeWorld: @unchecked Sendable {
    /// Longest wait for `runtime serve` to print its listening line.
    static let startTimeout: Duration = .seconds(30)
    /// Longest wait for the runtime to exit after SIGTERM before it is killed.
    static let stopTimeout: Duration = .seconds(20)
    /// Longest a request may wait for its response.
    static let requestTimeoutSeconds = 180

    let port: UInt16
    var baseURL: String { "http://127.0.0.1:\(port)" }
    let stateDirectory: String
    /// A temporary folder for the test's own files (removed by `stop`).
    let root: String
    /// The runtime's stdout and stderr.
    let logPath: String
    let binary: String
    private let base: String
    private let process = Process()
    private let stopped = NSLock()
    private var isStopped = false

    struct Failure: Error, CustomStringConvertible {
        let description: String
    }

    /// With `stateDirectory`, the runtime serves an existing state directory (another world's, after
    /// its `shutDown()`): a restart. The folder stays its owner's to remove.
    init(threads: Int = 2, extraArguments: [String] = [], stateDirectory existing: String? = nil) throws {
        base = NSTemporaryDirectory() + "dispatch-world-" + UUID().uuidString
        stateDirectory = existing ?? base + "/state"
        root = base + "/work"
        logPath = base + "/runtime.log"
        try FileManager.default.createDirectory(atPath: root, withIntermediateDirectories: true)
        binary = try Self.runtimeBinary()
        _ = FileManager.default.createFile(atPath: logPath, contents: nil)
        let log = try FileHandle(forWritingTo: URL(fileURLWithPath: logPath))
        process.executableURL = URL(fileURLWithPath: binary)
        process.arguments = ["serve", "--listen", "127.0.0.1:0", "--threads", String(threads), "--state-dir", stateDirectory,
                             "--no-access-log"] + extraArguments
        process.standardOutput = log
        process.standardError = log
        process.standardInput = FileHandle.nullDevice
        try process.run()
        try? log.close()

        let deadline = ContinuousClock.now + Self.startTimeout
        var found: UInt16?
        while found == nil {
            let text = (try? String(contentsOfFile: logPath, encoding: .utf8)) ?? ""
            if let range = text.range(of: "\"url\":\"http://127.0.0.1:") {
                found = UInt16(text[range.upperBound...].prefix { $0.isNumber })
                if found != nil { break }
            }
            guard process.isRunning else {
                throw Failure(description: "runtime serve exited (status \(process.terminationStatus)) before listening:\n\(text)")
            }
            guard ContinuousClock.now < deadline else {
                process.terminate()
                throw Failure(description: "runtime serve printed no listening line in \(Self.startTimeout):\n\(text)")
            }
            usleep(20_000)
        }
        port = found!
    }

    deinit { stop() }

    // MARK: - CLI

    /// `runtime deploy <folder> --debug [--var NAME=VALUE ...]`; throws with the CLI's output when it fails.
    func deploy(_ folder: String, vars: [String: String] = [:]) throws {
        var arguments = ["deploy", folder, "--debug"]
        for (name, value) in vars.sorted(by: { $0.key < $1.key }) { arguments += ["--var", "\(name)=\(value)"] }
        let run = try runCLI(arguments)
        guard run.status == 0 else {
            throw Failure(description: "runtime deploy \(folder) failed (status \(run.status)):\n\(run.output)")
        }
    }

    /// `runtime secret put <app> <name>` with the value on stdin.
    func putSecret(_ app: String, _ name: String, _ value: String) throws {
        let run = try runCLI(["secret", "put", app, name], input: value)
        guard run.status == 0 else {
            throw Failure(description: "runtime secret put \(app) \(name) failed (status \(run.status)):\n\(run.output)")
        }
    }

    /// Runs `runtime <arguments> --state-dir <state>` to completion.
    func runCLI(_ arguments: [String], input: String? = nil) throws -> (status: Int32, output: String) {
        let child = Process()
        child.executableURL = URL(fileURLWithPath: binary)
        child.arguments = arguments + ["--state-dir", stateDirectory]
        let output = Pipe()
        child.standardOutput = output
        child.standardError = output
        let stdin = Pipe()
        child.standardInput = stdin
        try child.run()
        if let input { stdin.fileHandleForWriting.write(Data(input.utf8)) }
        try stdin.fileHandleForWriting.close()
        let data = output.fileHandleForReading.readDataToEndOfFile()
        child.waitUntilExit()
        return (child.terminationStatus, String(decoding: data, as: UTF8.self))
    }

    // MARK: - HTTP

    /// One HTTP/1.1 request on a fresh connection (`Connection: close`), read to the end.
    func request(_ method: String, _ path: String, headers: [String: String] = [:], body: [UInt8] = []) async throws
        -> TestHTTPResponse {
        let port = self.port
        return try await withCheckedThrowingContinuation { continuation in
            let thread = Thread {
                continuation.resume(with: Result {
                    try TestHTTPClient.exchange(port: port, method: method, path: path, headers: headers, body: body,
                                                timeoutSeconds: Self.requestTimeoutSeconds)
                })
            }
            thread.name = "RuntimeWorld request"
            thread.start()
        }
    }

    // MARK: - Lifecycle

    func serverLog() -> String { (try? String(contentsOfFile: logPath, encoding: .utf8)) ?? "" }

    /// Whether the runtime process still runs.
    var isRunning: Bool { process.isRunning }

    /// The runtime's pid.
    var processIdentifier: Int32 { process.processIdentifier }

    /// Kills the runtime with SIGKILL (a crash: nothing of it runs after) and waits until it is gone.
    /// `stop()` still removes the folders.
    func crash() {
        guard process.isRunning else { return }
        kill(process.processIdentifier, SIGKILL)
        while process.isRunning { usleep(10_000) }
    }

    /// SIGTERM, a graceful wait, SIGKILL if needed; then removes the temporary folders. Idempotent.
    func stop() {
        stopped.lock()
        defer { stopped.unlock() }
        guard !isStopped else { return }
        isStopped = true
        terminate()
        try? FileManager.default.removeItem(atPath: base)
    }

    /// Stops the runtime the way an operator does (SIGTERM, then the graceful wait) and keeps its
    /// folders, so another `RuntimeWorld` can serve the same state directory. `stop()` still cleans up.
    func shutDown() {
        stopped.lock()
        defer { stopped.unlock() }
        terminate()
    }

    private func terminate() {
        if process.isRunning {
            process.terminate()
            let deadline = ContinuousClock.now + Self.stopTimeout
            while process.isRunning, ContinuousClock.now < deadline { usleep(10_000) }
            if process.isRunning {
                kill(process.processIdentifier, SIGKILL)
                while process.isRunning { usleep(10_000) }
            }
        }
    }

    // MARK: - Paths

    /// The package root (for `Apps/...`).
    static func repoRoot() -> String {
        URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
            .deletingLastPathComponent().path
    }

    /// The built `runtime` (`$RUNTIME_BIN`, beside the test bundle, or `.build/debug`).
    static func runtimeBinary() throws -> String {
        if let explicit = ProcessInfo.processInfo.environment["RUNTIME_BIN"] { return explicit }
        let bundleDirectory = Bundle.main.bundleURL.deletingLastPathComponent().path
        let candidates = [bundleDirectory + "/runtime", Bundle.main.bundleURL.path + "/runtime", repoRoot() + "/.build/debug/runtime"]
        guard let found = candidates.first(where: { FileManager.default.isExecutableFile(atPath: $0) }) else {
            throw Failure(description: "runtime binary not found (run `swift build` first); looked in \(candidates)")
        }
        return found
    }
}

/// A response read by `RuntimeWorld.request`.
struct TestHTTPResponse: Sendable {
    var status: Int
    /// Header names lowercased; repeated fields joined with ", ".
    var headers: [String: String]
    var body: [UInt8]

    var text: String { String(decoding: body, as: UTF8.self) }
    /// The body parsed with JSONSerialization (dictionaries, arrays, strings, NSNumber), or nil.
    var json: Any? { try? JSONSerialization.jsonObject(with: Data(body), options: [.fragmentsAllowed]) }
    func header(_ name: String) -> String? { headers[name.lowercased()] }
}

/// A blocking HTTP/1.1 client over a POSIX socket: one request, `Connection: close`, the response read
/// to EOF (Content-Length, chunked or until close).
enum TestHTTPClient {
    static func exchange(port: UInt16, method: String, path: String, headers: [String: String], body: [UInt8],
                         timeoutSeconds: Int) throws -> TestHTTPResponse {
        let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        guard fd >= 0 else { throw RuntimeWorld.Failure(description: "socket: \(String(cString: strerror(errno)))") }
        defer { close(fd) }
        var timeout = timeval(tv_sec: timeoutSeconds, tv_usec: 0)
        setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &timeout, socklen_t(MemoryLayout<timeval>.size))
        setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &timeout, socklen_t(MemoryLayout<timeval>.size))
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_port = port.bigEndian
        address.sin_addr.s_addr = inet_addr("127.0.0.1")
        let connected = withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { connect(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) }
        }
        guard connected == 0 else {
            throw RuntimeWorld.Failure(description: "connect 127.0.0.1:\(port): \(String(cString: strerror(errno)))")
        }
        var head = "\(method) \(path) HTTP/1.1\r\nHost: 127.0.0.1:\(port)\r\nConnection: close\r\n"
        for (name, value) in headers where name.lowercased() != "content-length" && name.lowercased() != "connection" {
            head += "\(name): \(value)\r\n"
        }
        if !body.isEmpty || ["POST", "PUT", "PATCH"].contains(method) { head += "Content-Length: \(body.count)\r\n" }
        head += "\r\n"
        try sendAll(fd, Array(head.utf8) + body)

        var received: [UInt8] = []
        var chunk = [UInt8](repeating: 0, count: 64 * 1024)
        while true {
            let count = chunk.withUnsafeMutableBytes { recv(fd, $0.baseAddress, $0.count, 0) }
            if count == 0 { break }
            if count < 0 {
                if errno == EINTR { continue }
                if errno == ECONNRESET, !received.isEmpty { break }
                throw RuntimeWorld.Failure(description: "\(method) \(path): read failed: \(String(cString: strerror(errno)))")
            }
            received.append(contentsOf: chunk[0..<count])
        }
        return try parse(received, what: "\(method) \(path)")
    }

    private static func sendAll(_ fd: Int32, _ bytes: [UInt8]) throws {
        var offset = 0
        while offset < bytes.count {
            let written = bytes.withUnsafeBytes { send(fd, $0.baseAddress! + offset, $0.count - offset, Int32(MSG_NOSIGNAL)) }
            guard written > 0 else { throw RuntimeWorld.Failure(description: "send failed: \(String(cString: strerror(errno)))") }
            offset += written
        }
    }

    static func parse(_ bytes: [UInt8], what: String) throws -> TestHTTPResponse {
        let separator: [UInt8] = [13, 10, 13, 10]
        guard let end = firstIndex(of: separator, in: bytes) else {
            throw RuntimeWorld.Failure(description: "\(what): no complete response head in \(bytes.count) bytes")
        }
        let lines = String(decoding: bytes[..<end], as: UTF8.self).components(separatedBy: "\r\n")
        let statusParts = lines[0].split(separator: " ", maxSplits: 2)
        guard statusParts.count >= 2, statusParts[0].hasPrefix("HTTP/1."), let status = Int(statusParts[1]) else {
            throw RuntimeWorld.Failure(description: "\(what): bad status line \(lines[0])")
        }
        var headers: [String: String] = [:]
        for line in lines.dropFirst() {
            guard let colon = line.firstIndex(of: ":") else { continue }
            let name = line[..<colon].lowercased()
            let value = line[line.index(after: colon)...].trimmingCharacters(in: .whitespaces)
            headers[name] = headers[name].map { $0 + ", " + value } ?? value
        }
        var body = Array(bytes[(end + 4)...])
        if headers["transfer-encoding"]?.lowercased().contains("chunked") == true {
            body = try dechunk(body, what: what)
        } else if let length = headers["content-length"].flatMap({ Int($0) }), length <= body.count {
            body = Array(body[..<length])
        }
        return TestHTTPResponse(status: status, headers: headers, body: body)
    }

    private static func dechunk(_ bytes: [UInt8], what: String) throws -> [UInt8] {
        var output: [UInt8] = []
        var index = 0
        while true {
            guard let lineEnd = firstIndex(of: [13, 10], in: bytes, from: index) else {
                throw RuntimeWorld.Failure(description: "\(what): truncated chunked body")
            }
            let sizeText = String(decoding: bytes[index..<lineEnd], as: UTF8.self).split(separator: ";")[0]
            guard let size = Int(sizeText.trimmingCharacters(in: .whitespaces), radix: 16) else {
                throw RuntimeWorld.Failure(description: "\(what): bad chunk size \(sizeText)")
            }
            index = lineEnd + 2
            if size == 0 { return output }
            guard index + size <= bytes.count else { throw RuntimeWorld.Failure(description: "\(what): truncated chunk") }
            output += bytes[index..<(index + size)]
            index += size + 2
        }
    }

    private static func firstIndex(of needle: [UInt8], in haystack: [UInt8], from start: Int = 0) -> Int? {
        guard haystack.count >= needle.count else { return nil }
        var index = start
        while index + needle.count <= haystack.count {
            if haystack[index] == needle[0], Array(haystack[index..<(index + needle.count)]) == needle { return index }
            index += 1
        }
        return nil
    }
}
