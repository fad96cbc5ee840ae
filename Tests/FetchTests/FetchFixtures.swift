import Foundation
import RuntimeAPI
import RuntimeHTTP
import RuntimeIO
import RuntimeTLS
import Synchronization
#if canImport(Glibc)
import Glibc
#endif

// Shared parts of the fetch tests: the Python peer server, throwaway certificates from the openssl CLI,
// a client on a loop of its own, and readers for streamed bodies.

struct FixtureError: Error, CustomStringConvertible {
    let description: String
}

let pythonDirectory = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
    .appendingPathComponent("Python").path

/// Tests/Python/fetch_peer_server.py: an HTTP/1.1 server on Python's http.server (https with a
/// certificate), independent of our HTTP code. Routes are listed in the script.
final class PeerServer: @unchecked Sendable {
    let process: Process
    let port: UInt16
    let scheme: String
    private let input: FileHandle

    /// Starts the peer on a thread of its own: starting it blocks (a process, a pipe), and the test's
    /// cooperative threads must stay free for the tasks being timed.
    static func start(certificate: String? = nil, key: String? = nil) async throws -> PeerServer {
        try await offPool { try PeerServer(certificate: certificate, key: key) }
    }

    private init(certificate: String?, key: String?) throws {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        process.arguments = ["python3", pythonDirectory + "/fetch_peer_server.py"]
            + [certificate, key].compactMap { $0 }
        let stdin = Pipe()
        let stdout = Pipe()
        process.standardInput = stdin
        process.standardOutput = stdout
        process.standardError = FileHandle.nullDevice
        try process.run()
        self.process = process
        input = stdin.fileHandleForWriting
        scheme = certificate == nil ? "http" : "https"
        var line = ""
        let reader = stdout.fileHandleForReading
        while !line.contains("\n") {
            let data = reader.availableData
            if data.isEmpty { break }
            line += String(decoding: data, as: UTF8.self)
        }
        guard line.hasPrefix("port "), let port = UInt16(line.dropFirst(5).prefix { $0.isNumber }) else {
            process.terminate()
            throw FixtureError(description: "fetch_peer_server.py did not start: \(line)")
        }
        self.port = port
    }

    /// "http://127.0.0.1:PORT" (or https).
    var base: String { "\(scheme)://127.0.0.1:\(port)" }

    /// Ends the peer; it is not waited for (Foundation reaps it).
    func stop() {
        try? input.close()
        process.terminate()
    }
}

/// A CA, a server certificate it signed for localhost and 127.0.0.1, one it signed for another name, and an
/// unrelated CA, made with the openssl CLI in a fresh temporary directory; `remove()` deletes them. Nothing
/// here is ever written into the repository.
struct TestCertificates: Sendable {
    let directory: String

    var ca: String { directory + "/ca.pem" }
    var server: String { directory + "/server.pem" }
    var serverKey: String { directory + "/server.key" }
    var otherName: String { directory + "/other-name.pem" }
    var otherNameKey: String { directory + "/other-name.key" }
    var otherCA: String { directory + "/other-ca.pem" }

    /// Makes them on a thread of its own (openssl runs six times).
    static func make() async throws -> TestCertificates {
        try await offPool { try makeBlocking() }
    }

    private static func makeBlocking() throws -> TestCertificates {
        let directory = NSTemporaryDirectory() + "fetch-test-" + UUID().uuidString
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        let certificates = TestCertificates(directory: directory)
        let curve = ["-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes"]
        for (name, subject) in [("ca", "/CN=Fetch Test CA"), ("other-ca", "/CN=Unrelated CA")] {
            try openssl(["req", "-x509"] + curve + ["-keyout", "\(directory)/\(name).key", "-out", "\(directory)/\(name).pem",
                         "-days", "2", "-subj", subject, "-addext", "basicConstraints=critical,CA:TRUE",
                         "-addext", "keyUsage=critical,keyCertSign,cRLSign"])
        }
        for (name, names) in [("server", "DNS:localhost,IP:127.0.0.1,IP:::1"), ("other-name", "DNS:not-this-host.invalid")] {
            let extensions = "\(directory)/\(name).ext"
            try "subjectAltName=\(names)\nbasicConstraints=CA:FALSE\nextendedKeyUsage=serverAuth\n"
                .write(toFile: extensions, atomically: true, encoding: .utf8)
            try openssl(["req"] + curve + ["-keyout", "\(directory)/\(name).key", "-out", "\(directory)/\(name).csr",
                         "-subj", "/CN=\(name)"])
            try openssl(["x509", "-req", "-in", "\(directory)/\(name).csr", "-CA", certificates.ca,
                         "-CAkey", "\(directory)/ca.key", "-CAcreateserial", "-out", "\(directory)/\(name).pem",
                         "-days", "2", "-extfile", extensions])
        }
        return certificates
    }

    private static func openssl(_ arguments: [String]) throws {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        process.arguments = ["openssl"] + arguments
        let output = Pipe()
        process.standardOutput = output
        process.standardError = output
        try process.run()
        let text = String(decoding: output.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
        process.waitUntilExit()
        guard process.terminationStatus == 0 else {
            throw FixtureError(description: "openssl \(arguments.joined(separator: " ")) failed: \(text)")
        }
    }

    func remove() { try? FileManager.default.removeItem(atPath: directory) }

    /// A client context that trusts `ca` (the test CA by default), as `runtime serve --ca-file` makes one.
    func clientContext(ca: String? = nil) throws -> TLSContext {
        try TLSContext(client: TLSClientConfig(trustSystemRoots: true, caFile: ca ?? self.ca))
    }
}

/// Runs blocking work on a thread of its own (not Swift's cooperative pool) and awaits its result.
func offPool<T: Sendable>(_ body: @escaping @Sendable () throws -> T) async throws -> T {
    try await withCheckedThrowingContinuation { continuation in
        Thread.detachNewThread { continuation.resume(with: Result { try body() }) }
    }
}

/// An `HTTPClient` on a loop of its own for the length of `body`; its connections and loop are closed after.
///
/// With `onItsLoop`, `body` runs on the client's loop, as a worker's code runs: a fetch then never leaves
/// that thread, so what a test times does not depend on Swift's cooperative pool, which other suites'
/// blocking fixtures may hold for seconds.
@discardableResult
func withClient<T: Sendable>(tls: TLSContext? = nil, config: HTTPClientConfig = HTTPClientConfig(),
                             onItsLoop: Bool = false, _ body: (HTTPClient) async throws -> T) async throws -> T {
    let group = try LoopGroup(count: 1, namePrefix: "fetch-test")
    let client = HTTPClient(loops: group.loops, tls: tls, config: config)
    let result: Result<T, any Error>
    do {
        let executor = onItsLoop ? group.loops[0].taskExecutor : nil
        result = .success(try await withTaskExecutorPreference(executor) { try await body(client) })
    } catch {
        result = .failure(error)
    }
    client.closeAll()
    try? await Task.sleep(for: .milliseconds(50))
    group.stop()
    try await offPool { group.join() }
    return try result.get()
}

/// The peer's /echo answer.
struct Echo: Decodable {
    let method: String
    let path: String
    let headers: [[String]]
    let body: String
    let connection: Int

    func header(_ name: String) -> String? {
        headers.first { $0[0].lowercased() == name.lowercased() }?[1]
    }

    static func decode(_ response: Response) async throws -> Echo {
        try JSONDecoder().decode(Echo.self, from: Data(try await response.bodyBytes()))
    }
}

/// Takes a streamed body piece by piece, checking each byte against the peer's pattern (byte i is
/// i % 251), and optionally pausing between pieces like a slow consumer.
final class PatternReader: BodyWriter, @unchecked Sendable {
    struct Progress {
        var bytes = 0
        var pieces = 0
        var largestPiece = 0
        var mismatchAt: Int?
    }

    let progress = Mutex(Progress())
    /// What was read so far.
    var current: Progress { progress.withLock { $0 } }
    private let pause: Duration?
    private let onPiece: @Sendable (Int) async -> Void

    init(pause: Duration? = nil, onPiece: @escaping @Sendable (Int) async -> Void = { _ in }) {
        self.pause = pause
        self.onPiece = onPiece
    }

    func write(_ bytes: [UInt8]) async throws {
        let count = progress.withLock { progress -> Int in
            var offset = progress.bytes
            for byte in bytes {
                if progress.mismatchAt == nil, Int(byte) != offset % 251 { progress.mismatchAt = offset }
                offset += 1
            }
            progress.bytes = offset
            progress.pieces += 1
            progress.largestPiece = max(progress.largestPiece, bytes.count)
            return progress.pieces
        }
        await onPiece(count)
        if let pause { try await Task.sleep(for: pause) }
    }
}

/// Awaits `body` and returns the `FetchError` it threw, or records an issue and returns nil.
func fetchError(_ body: () async throws -> Void) async -> FetchError? {
    do {
        try await body()
    } catch let error as FetchError {
        return error
    } catch {
        return nil
    }
    return nil
}

/// A free loopback port with nothing listening on it.
func unusedPort() throws -> UInt16 {
    let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
    defer { close(fd) }
    var address = sockaddr_in()
    address.sin_family = sa_family_t(AF_INET)
    address.sin_addr.s_addr = inet_addr("127.0.0.1")
    var length = socklen_t(MemoryLayout<sockaddr_in>.size)
    let bound = withUnsafeMutablePointer(to: &address) {
        $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { pointer -> Bool in
            bind(fd, pointer, length) == 0 && getsockname(fd, pointer, &length) == 0
        }
    }
    guard bound else { throw FixtureError(description: "cannot bind a probe socket: errno \(errno)") }
    return UInt16(bigEndian: address.sin_port)
}

/// A listener whose accept queue is full and never drained, so a new connect to it gets no answer (the
/// kernel drops its SYN): a blackhole on loopback. `close()` ends it.
final class Blackhole: @unchecked Sendable {
    let port: UInt16
    private let listener: Int32
    private var fillers: [Int32] = []

    init() throws {
        let listener = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        self.listener = listener
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_addr.s_addr = inet_addr("127.0.0.1")
        var length = socklen_t(MemoryLayout<sockaddr_in>.size)
        let listening = withUnsafeMutablePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { pointer -> Bool in
                bind(listener, pointer, length) == 0 && listen(listener, 0) == 0
                    && getsockname(listener, pointer, &length) == 0
            }
        }
        guard listening else { throw FixtureError(description: "cannot listen: errno \(errno)") }
        port = UInt16(bigEndian: address.sin_port)
        // A backlog of 0 still queues one connection; a few more make sure the queue is full.
        for _ in 0..<4 {
            let filler = socket(AF_INET, Int32(SOCK_STREAM.rawValue) | Int32(SOCK_NONBLOCK.rawValue), 0)
            _ = withUnsafeMutablePointer(to: &address) {
                $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { connect(filler, $0, length) }
            }
            fillers.append(filler)
        }
        usleep(100_000)
    }

    func close() {
        for filler in fillers { Glibc.close(filler) }
        Glibc.close(listener)
    }
}
