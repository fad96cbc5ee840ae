import ExamplesApp
import Foundation
import RuntimeAPI
import RuntimeServer
import RuntimeTLS
#if canImport(Glibc)
import Glibc
#endif

// How the TLS end-to-end tests make certificates, start a TLS server and run the independent clients
// (curl, Tests/Python/tls_client.py).

let pythonScripts = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
    .appendingPathComponent("Python").path

struct TLSFixtureError: Error, CustomStringConvertible {
    let description: String
}

/// Certificates from Tests/Python/tls_certs.py in a fresh temporary directory (see that script for the
/// files); `remove()` deletes them.
struct ServerTestCertificates: Sendable {
    let directory: String
    var ca: String { directory + "/ca.pem" }
    var chain: String { directory + "/chain.pem" }
    var serverKey: String { directory + "/server.key" }
    var serverConfig: TLSServerConfig { TLSServerConfig(certificateChainFile: chain, privateKeyFile: serverKey) }

    static func make() throws -> ServerTestCertificates {
        let directory = NSTemporaryDirectory() + "tls-server-test-" + UUID().uuidString
        let result = try runTool("/usr/bin/env", ["python3", pythonScripts + "/tls_certs.py", directory])
        guard result.status == 0 else {
            throw TLSFixtureError(description: "tls_certs.py failed (python3 with `cryptography` is needed): \(result.errors)")
        }
        return ServerTestCertificates(directory: directory)
    }

    func remove() { try? FileManager.default.removeItem(atPath: directory) }
}

/// A running TLS test server and what its clients need.
struct TLSTestFixture: Sendable {
    let server: Server
    let certificates: ServerTestCertificates
    var port: UInt16 { server.address.port }

    /// Runs a tls_client.py command against this server; its (last) JSON reply.
    func python(_ command: String, _ arguments: String...) throws -> DriverReply {
        try runPythonTLSClient([command, String(port), certificates.ca] + arguments)
    }
}

/// Starts an in-process TLS server on a free loopback port, runs `body` off the cooperative pool (it
/// blocks on child processes), and always shuts the server down and removes its files.
func withTLSServer<T: Sendable>(threads: Int = 1, worker: any Worker = HelloWorker(), app: App? = nil,
                                _ body: @escaping @Sendable (TLSTestFixture) throws -> T) async throws -> T {
    try await offPool {
        let certificates = try ServerTestCertificates.make()
        defer { certificates.remove() }
        let config = ServerConfig(listen: "127.0.0.1:0", threads: threads, stateDirectory: certificates.directory + "/state",
                                  accessLog: false, shutdownGrace: .seconds(2), tls: certificates.serverConfig)
        let server = try Server(config: config, app: app ?? App(worker: worker))
        defer { server.shutdown() }
        return try body(TLSTestFixture(server: server, certificates: certificates))
    }
}

/// What a finished child process printed.
struct ToolResult {
    let status: Int32
    let output: String
    let errors: String
}

/// Runs a program to its end (30 s at most, then it is killed) and collects its output.
func runTool(_ executable: String, _ arguments: [String], timeout: Double = 30) throws -> ToolResult {
    let process = Process()
    process.executableURL = URL(fileURLWithPath: executable)
    process.arguments = arguments
    let directory = NSTemporaryDirectory() + "tool-" + UUID().uuidString
    try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
    defer { try? FileManager.default.removeItem(atPath: directory) }
    // Files, not pipes: a chatty child cannot fill a pipe nobody reads while we wait for it.
    let outPath = directory + "/out", errPath = directory + "/err"
    _ = FileManager.default.createFile(atPath: outPath, contents: nil)
    _ = FileManager.default.createFile(atPath: errPath, contents: nil)
    process.standardOutput = try FileHandle(forWritingTo: URL(fileURLWithPath: outPath))
    process.standardError = try FileHandle(forWritingTo: URL(fileURLWithPath: errPath))
    try process.run()
    let deadline = Date().addingTimeInterval(timeout)
    while process.isRunning, Date() < deadline { usleep(5_000) }
    if process.isRunning {
        kill(process.processIdentifier, SIGKILL)
        process.waitUntilExit()
        throw TLSFixtureError(description: "\(executable) \(arguments) did not finish in \(timeout) s")
    }
    process.waitUntilExit()
    return ToolResult(status: process.terminationStatus,
                      output: (try? String(contentsOfFile: outPath, encoding: .utf8)) ?? "",
                      errors: (try? String(contentsOfFile: errPath, encoding: .utf8)) ?? "")
}

/// Runs Tests/Python/tls_client.py with `arguments`; its last JSON line. A reply with "failure" throws.
func runPythonTLSClient(_ arguments: [String]) throws -> DriverReply {
    let result = try runTool("/usr/bin/env", ["python3", pythonScripts + "/tls_client.py"] + arguments)
    guard let line = result.output.split(separator: "\n").last,
          let object = try? JSONSerialization.jsonObject(with: Data(line.utf8)) as? [String: Any] else {
        throw TLSFixtureError(description: "tls_client.py \(arguments): no JSON reply; stderr: \(result.errors)")
    }
    let reply = DriverReply(fields: object)
    if let failure = reply.string("failure") {
        throw TLSFixtureError(description: "tls_client.py \(arguments): \(failure)")
    }
    return reply
}

/// tls_client.py as a running process whose JSON lines are read one at a time.
final class PythonLines: @unchecked Sendable {
    private let process: Process
    private let output: Pipe

    init(_ arguments: [String]) throws {
        process = Process()
        process.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        process.arguments = ["python3", pythonScripts + "/tls_client.py"] + arguments
        output = Pipe()
        process.standardOutput = output
        process.standardError = FileHandle.nullDevice
        try process.run()
    }

    /// The next JSON line (20 s at most).
    func next() throws -> DriverReply {
        let line = try readLine(output, timeout: 20)
        guard let object = try? JSONSerialization.jsonObject(with: Data(line.utf8)) as? [String: Any] else {
            throw TLSFixtureError(description: "tls_client.py: not a JSON line: \(line)")
        }
        let reply = DriverReply(fields: object)
        if let failure = reply.string("failure") { throw TLSFixtureError(description: "tls_client.py: \(failure)") }
        return reply
    }

    func stop() {
        if process.isRunning {
            kill(process.processIdentifier, SIGKILL)
            process.waitUntilExit()
        }
    }
}

/// Reads one line from a pipe, byte by byte (so nothing after it is consumed), within `timeout`.
func readLine(_ pipe: Pipe, timeout: Double) throws -> String {
    let fd = pipe.fileHandleForReading.fileDescriptor
    let deadline = Date().addingTimeInterval(timeout)
    var line: [UInt8] = []
    while true {
        let remaining = deadline.timeIntervalSinceNow
        guard remaining > 0 else { throw TLSFixtureError(description: "no line in \(timeout) s; got \(String(decoding: line, as: UTF8.self))") }
        var descriptor = pollfd(fd: fd, events: Int16(POLLIN), revents: 0)
        guard poll(&descriptor, 1, Int32(min(remaining, 1) * 1000) + 1) > 0 else { continue }
        var byte: UInt8 = 0
        let count = read(fd, &byte, 1)
        if count < 0 && errno == EINTR { continue }
        guard count == 1 else { throw TLSFixtureError(description: "the process ended; got \(String(decoding: line, as: UTF8.self))") }
        if byte == 10 { return String(decoding: line, as: UTF8.self) }
        line.append(byte)
    }
}
