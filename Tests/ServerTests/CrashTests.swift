import Foundation
import Synchronization
import Testing
#if canImport(Glibc)
import Glibc
#endif

/// The durability contract against a real process and a real `kill -9`: every increment whose response
/// arrived is present after a restart, and no counter exceeds what was sent.
@Suite("Crash safety")
struct CrashTests {
    static let counters = ["crash-a", "crash-b", "crash-c", "crash-d"]
    static let clientsPerCounter = 4
    static let rounds = 5

    final class Tally: Sendable {
        let sent = Mutex<[String: Int]>([:])
        let acknowledged = Mutex<[String: Int]>([:])
    }

    @Test("kill -9 at random moments loses no acknowledged increment")
    func killNine() async throws {
        try await offPool { try Self.killNineBlocking() }
    }

    static func killNineBlocking() throws {
        let directory = NSTemporaryDirectory() + "crash-test-" + UUID().uuidString
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let tally = Tally()
        var random = SplitMix(seed: UInt64(getpid()))
        for round in 0..<rounds {
            let server = try RuntimeProcess(stateDirectory: directory)
            try check(tally, port: server.port, round: round)
            let clients = DispatchGroup()
            let port = server.port
            for counter in counters {
                for _ in 0..<clientsPerCounter {
                    clients.enter()
                    Thread.detachNewThread {
                        increment(counter, port: port, tally: tally)
                        clients.leave()
                    }
                }
            }
            usleep(UInt32(150_000 + random.next() % 600_000))
            server.kill9()
            #expect(clients.wait(timeout: .now() + 30) == .success, "clients did not notice the kill")
        }
        let last = try RuntimeProcess(stateDirectory: directory)
        defer { last.stop() }
        try check(tally, port: last.port, round: rounds)
        let total = tally.acknowledged.withLock { $0.values.reduce(0, +) }
        #expect(total > 100, "the test sent too little load to mean anything (\(total) acknowledged)")
    }

    /// Every counter holds at least what was acknowledged and at most what was sent.
    static func check(_ tally: Tally, port: UInt16, round: Int) throws {
        for counter in counters {
            let response = try RawClient.get("/counter/\(counter)", port: port)
            #expect(response.status == 200)
            let value = Int(response.text.trimmingCharacters(in: .whitespacesAndNewlines)) ?? -1
            let acknowledged = tally.acknowledged.withLock { $0[counter, default: 0] }
            let sent = tally.sent.withLock { $0[counter, default: 0] }
            #expect(value >= acknowledged, "round \(round): \(counter) lost acknowledged increments (\(value) < \(acknowledged))")
            #expect(value <= sent, "round \(round): \(counter) has more than was sent (\(value) > \(sent))")
        }
    }

    /// Sends increments on one keep-alive connection until the server dies.
    static func increment(_ counter: String, port: UInt16, tally: Tally) {
        guard let client = try? RawClient(port: port, timeoutSeconds: 10) else { return }
        while true {
            tally.sent.withLock { $0[counter, default: 0] += 1 }
            do {
                try client.send("POST /counter/\(counter)/increment HTTP/1.1\r\nHost: x\r\nContent-Length: 0\r\n\r\n")
                let response = try client.readResponse()
                guard response.status == 200 else { return }
                tally.acknowledged.withLock { $0[counter, default: 0] += 1 }
            } catch {
                return
            }
        }
    }
}

/// A `runtime serve` child process on a free port.
final class RuntimeProcess {
    let process = Process()
    let port: UInt16

    init(stateDirectory: String, threads: Int = 2) throws {
        process.executableURL = URL(fileURLWithPath: try RuntimeBinary.path())
        process.arguments = ["serve", "--listen", "127.0.0.1:0", "--threads", String(threads), "--state-dir",
                             stateDirectory, "--no-access-log"]
        let output = Pipe()
        process.standardOutput = output
        try process.run()
        do {
            port = try RuntimeBinary.waitForListening(output)
        } catch {
            process.terminate()
            throw error
        }
    }

    func kill9() {
        kill(process.processIdentifier, SIGKILL)
        process.waitUntilExit()
    }

    func stop() {
        guard process.isRunning else { return }
        process.terminate()
        process.waitUntilExit()
    }
}
