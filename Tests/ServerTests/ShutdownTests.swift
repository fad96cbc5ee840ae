import Foundation
import Testing
import ExamplesApp
import RuntimeServer
#if canImport(Glibc)
import Glibc
#endif

@Suite("Graceful shutdown")
struct ShutdownTests {
    @Test("in-process shutdown lets an in-flight slow request finish and refuses new connections")
    func inProcess() async throws {
        try await offPool { try Self.inProcessBlocking() }
    }

    static func inProcessBlocking() throws {
        let config = ServerConfig(listen: "127.0.0.1:0", threads: 1, stateDirectory: "/tmp/runtime-tests",
                                  accessLog: false, shutdownGrace: .seconds(5))
        let server = try Server(config: config, worker: HelloWorker())
        let port = server.address.port
        let client = try RawClient(port: port)
        try client.send("GET /slow?ms=700 HTTP/1.1\r\nHost: x\r\n\r\n")
        usleep(100_000)
        let done = DispatchSemaphore(value: 0)
        Thread.detachNewThread {
            server.shutdown()
            done.signal()
        }
        usleep(100_000)
        #expect(throws: (any Error).self) { _ = try RawClient(port: port) }
        let response = try client.readResponse()
        #expect(response.status == 200)
        #expect(response.text == "slept 700 ms\n")
        #expect(response.header("connection") == "close")
        #expect(done.wait(timeout: .now() + 10) == .success)
    }

    @Test("runtime serve finishes an in-flight request on SIGTERM and exits 0")
    func processSIGTERM() async throws {
        try await offPool { try Self.processSIGTERMBlocking() }
    }

    static func processSIGTERMBlocking() throws {
        let binary = try RuntimeBinary.path()
        let process = Process()
        process.executableURL = URL(fileURLWithPath: binary)
        process.arguments = ["serve", "--listen", "127.0.0.1:0", "--threads", "1", "--state-dir",
                             NSTemporaryDirectory() + "runtime-sigterm-\(getpid())"]
        let output = Pipe()
        process.standardOutput = output
        try process.run()
        defer { if process.isRunning { process.terminate() } }
        let port = try RuntimeBinary.waitForListening(output)
        let client = try RawClient(port: port)
        try client.send("GET /slow?ms=800 HTTP/1.1\r\nHost: x\r\n\r\n")
        usleep(150_000)
        kill(process.processIdentifier, SIGTERM)
        let response = try client.readResponse()
        #expect(response.status == 200)
        #expect(response.text == "slept 800 ms\n")
        process.waitUntilExit()
        #expect(process.terminationStatus == 0)
        #expect(process.terminationReason == .exit)
    }
}

/// Finds the `runtime` executable built beside the tests.
enum RuntimeBinary {
    struct NotBuilt: Error, CustomStringConvertible {
        let looked: [String]
        var description: String { "runtime binary not found (run `swift build` first); looked in \(looked)" }
    }

    static func path() throws -> String {
        if let explicit = ProcessInfo.processInfo.environment["RUNTIME_BIN"] { return explicit }
        // The test bundle lives in .build/<triple>/debug/; the runtime executable sits beside it.
        let bundleDirectory = Bundle.main.bundleURL.deletingLastPathComponent().path
        let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
            .deletingLastPathComponent().path
        let candidates = [bundleDirectory + "/runtime", Bundle.main.bundleURL.path + "/runtime",
                          root + "/.build/debug/runtime"]
        for candidate in candidates where FileManager.default.isExecutableFile(atPath: candidate) {
            return candidate
        }
        throw NotBuilt(looked: candidates)
    }

    /// Reads the "listening" log line and returns the port.
    static func waitForListening(_ pipe: Pipe) throws -> UInt16 {
        var collected = ""
        let handle = pipe.fileHandleForReading
        while !collected.contains("\n") {
            let data = handle.availableData
            if data.isEmpty { break }
            collected += String(decoding: data, as: UTF8.self)
        }
        guard let range = collected.range(of: "http://127.0.0.1:"),
              let port = UInt16(collected[range.upperBound...].prefix { $0.isNumber }) else {
            throw RawClient.ClientError.malformed("no listening line: \(collected)")
        }
        return port
    }
}
