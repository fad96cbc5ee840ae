import Foundation
import RuntimeIO
import RuntimeTLS
import Synchronization
#if canImport(Glibc)
import Glibc
#endif

// Shared parts of the TLS tests: certificates made per test, the Python TLS peer, loops, and delegates
// that record what a stream tells them.

/// A value several threads of a test read and write.
final class Shared<Value>: @unchecked Sendable {
    private let mutex = Mutex(())
    private var value: Value
    init(_ value: Value) { self.value = value }
    func withLock<T>(_ body: (inout Value) -> T) -> T { mutex.withLock { _ in body(&value) } }
    var current: Value { withLock { $0 } }
}

/// Runs blocking work on a thread of its own (not Swift's cooperative pool) and awaits its result.
func offPool<T: Sendable>(_ body: @escaping @Sendable () throws -> T) async throws -> T {
    try await withCheckedThrowingContinuation { continuation in
        Thread.detachNewThread { continuation.resume(with: Result { try body() }) }
    }
}

/// Polls `condition` every millisecond until it holds or `seconds` pass; returns whether it held.
@discardableResult
func waitFor(_ seconds: Double = 10, _ condition: () -> Bool) -> Bool {
    let deadline = Date().addingTimeInterval(seconds)
    while Date() < deadline {
        if condition() { return true }
        usleep(1000)
    }
    return condition()
}

struct FixtureError: Error, CustomStringConvertible {
    let description: String
}

let pythonDirectory = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
    .appendingPathComponent("Python").path

/// Throwaway certificates (Tests/Python/tls_certs.py) in a fresh temporary directory; `remove()` deletes
/// them. Nothing here is ever written into the repository.
struct TestCertificates: Sendable {
    let directory: String

    var ca: String { directory + "/ca.pem" }
    var server: String { directory + "/server.pem" }
    var serverKey: String { directory + "/server.key" }
    var chain: String { directory + "/chain.pem" }
    var otherCA: String { directory + "/other-ca.pem" }
    var otherKey: String { directory + "/other.key" }
    var encryptedKey: String { directory + "/encrypted.key" }

    static func make() throws -> TestCertificates {
        let directory = NSTemporaryDirectory() + "tls-test-" + UUID().uuidString
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        process.arguments = ["python3", pythonDirectory + "/tls_certs.py", directory]
        let output = Pipe()
        process.standardOutput = output
        process.standardError = output
        try process.run()
        process.waitUntilExit()
        let text = String(decoding: output.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
        guard process.terminationStatus == 0 else {
            throw FixtureError(description: "tls_certs.py failed (python3 with `cryptography` is needed): \(text)")
        }
        return TestCertificates(directory: directory)
    }

    func remove() { try? FileManager.default.removeItem(atPath: directory) }

    func serverContext(handshakeTimeout: Duration = TLSLimits.defaultHandshakeTimeout,
                       refusal: [UInt8]? = nil) throws -> TLSContext {
        try TLSContext(server: TLSServerConfig(certificateChainFile: chain, privateKeyFile: serverKey,
                                               handshakeTimeout: handshakeTimeout, plainHTTPRefusal: refusal))
    }

    func clientContext(ca: String? = nil, handshakeTimeout: Duration = TLSLimits.defaultHandshakeTimeout) throws -> TLSContext {
        try TLSContext(client: TLSClientConfig(trustSystemRoots: false, caFile: ca ?? self.ca,
                                               handshakeTimeout: handshakeTimeout))
    }
}

/// Tests/Python/tls_peer_server.py: an echo server on Python's `ssl`, independent of our TLS code.
final class PythonTLSServer: @unchecked Sendable {
    let process: Process
    let port: UInt16
    private let input: FileHandle

    init(certificate: String, key: String) throws {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        process.arguments = ["python3", pythonDirectory + "/tls_peer_server.py", certificate, key]
        let stdin = Pipe()
        let stdout = Pipe()
        process.standardInput = stdin
        process.standardOutput = stdout
        process.standardError = FileHandle.nullDevice
        try process.run()
        self.process = process
        input = stdin.fileHandleForWriting
        var line = ""
        let reader = stdout.fileHandleForReading
        while !line.contains("\n") {
            let data = reader.availableData
            if data.isEmpty { break }
            line += String(decoding: data, as: UTF8.self)
        }
        guard line.hasPrefix("port "), let port = UInt16(line.dropFirst(5).prefix { $0.isNumber }) else {
            process.terminate()
            throw FixtureError(description: "tls_peer_server.py did not start: \(line)")
        }
        self.port = port
    }

    var address: SocketAddress { get throws { try SocketAddress("127.0.0.1:\(port)") } }

    func stop() {
        try? input.close()
        let deadline = Date().addingTimeInterval(3)
        while process.isRunning, Date() < deadline { usleep(5000) }
        if process.isRunning {
            kill(process.processIdentifier, SIGKILL)
            process.waitUntilExit()
        }
    }
}

/// What a stream told its delegate, as the test thread reads it.
struct StreamEvents: Sendable {
    /// nil: not yet; .some(nil): connected; .some(text): failed with that.
    var connected: String??
    var connectError: TLSError?
    var received: [UInt8] = []
    var readClosed = false
    var readError: String?
    var readTLSError: TLSError?
    var closed = false
    var alpn: String?
    var version: String?
}

/// A client-side delegate: on connect, starts reading and sends `payload`; records everything.
final class RecordingClient: ByteStreamDelegate, @unchecked Sendable {
    let events = Shared(StreamEvents())
    let payload: [UInt8]
    /// Set on the loop once connecting began; released when the stream closes.
    var stream: TLSStream?

    init(payload: [UInt8] = []) { self.payload = payload }

    func streamConnected(_ stream: any ByteStream, error: (any Error)?) {
        let tls = stream as? TLSStream
        events.withLock {
            $0.connected = .some(error.map { "\($0)" })
            $0.connectError = error as? TLSError
            $0.alpn = tls?.negotiatedProtocol
            $0.version = tls?.protocolVersion
        }
        guard error == nil else { return }
        stream.startReading()
        if !payload.isEmpty { stream.write(payload) }
    }

    func streamReceived(_ stream: any ByteStream, _ bytes: UnsafeRawBufferPointer) {
        events.withLock { $0.received.append(contentsOf: bytes) }
    }

    func streamReadClosed(_ stream: any ByteStream, error: (any Error)?) {
        events.withLock {
            $0.readClosed = true
            $0.readError = error.map { "\($0)" }
            $0.readTLSError = error as? TLSError
        }
        stream.close()
    }

    func streamClosed(_ stream: any ByteStream) {
        events.withLock { $0.closed = true }
        self.stream = nil
    }

    /// Connects on `loop` (from any thread).
    func connect(on loop: Loop, to address: SocketAddress, serverName: String, context: TLSContext) {
        loop.execute {
            do {
                self.stream = try TLSStream.connect(loop: loop, to: address, serverName: serverName, context: context,
                                                    delegate: self)
            } catch {
                self.events.withLock { $0.connected = .some("\(error)") }
            }
        }
    }

    /// Writes more, on the stream's loop.
    func send(_ bytes: [UInt8], on loop: Loop) {
        loop.execute { self.stream?.write(bytes) }
    }
}

/// A server-side delegate that echoes what it receives and records how the stream ended.
final class EchoServer: ByteStreamDelegate, @unchecked Sendable {
    let events = Shared(StreamEvents())

    func start(_ stream: any ByteStream) {
        stream.delegate = self
        stream.startReading()
    }

    func streamReceived(_ stream: any ByteStream, _ bytes: UnsafeRawBufferPointer) {
        if let tls = stream as? TLSStream { events.withLock { $0.alpn = tls.negotiatedProtocol } }
        events.withLock { $0.received.append(contentsOf: bytes) }
        stream.write(bytes)
    }

    func streamReadClosed(_ stream: any ByteStream, error: (any Error)?) {
        events.withLock {
            $0.readClosed = true
            $0.readError = error.map { "\($0)" }
            $0.readTLSError = error as? TLSError
        }
        stream.closeAfterFlush()
    }

    func streamClosed(_ stream: any ByteStream) { events.withLock { $0.closed = true } }
}

/// A listener on `loop` whose accepted sockets become server TLS streams handed to `serve`.
func startTLSListener(on loop: Loop, context: TLSContext, keep: Shared<[AnyObject]>,
                      serve: @escaping @Sendable (TLSStream) -> Void) throws -> SocketAddress {
    let (fd, address) = try Listener.bind(try SocketAddress("127.0.0.1:0"))
    loop.execute {
        let listener = Listener(loop: loop, fd: fd, address: address) { accepted in
            serve(TLSStream(accepting: StreamSocket(loop: loop, fd: accepted), context: context))
        }
        keep.withLock { $0.append(listener) }
        listener.start()
    }
    return address
}

/// Bytes that are not all alike, so a misplaced or repeated chunk shows.
func pattern(_ count: Int) -> [UInt8] { (0..<count).map { UInt8(truncatingIfNeeded: ($0 * 7) % 251) } }
