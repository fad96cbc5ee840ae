import Foundation
import RuntimeAPI
import RuntimeHTTP
import Testing

/// Each timeout against a peer that misbehaves in exactly its way. Serialized, so the timings are not
/// skewed by the other suites' work on a small machine.
@Suite("Fetch timeouts", .serialized, .timeLimit(.minutes(1)))
struct FetchTimeoutTests {
    /// Generous against scheduling noise; the timeouts under test are far below the peers' own delays.
    static let slack: Duration = .seconds(3)

    @Test("connect timeout: a listener whose backlog is full never answers the SYN")
    func connectTimeout() async throws {
        let blackhole = try await offPool { try Blackhole() }
        defer { blackhole.close() }
        try await withClient(onItsLoop: true) { client in
            let started = ContinuousClock.now
            let error = await fetchError {
                _ = try await client.fetch(FetchRequest("http://127.0.0.1:\(blackhole.port)/",
                                                        timeouts: FetchTimeouts(connect: .milliseconds(300))))
            }
            #expect(error == .connectTimeout(host: "127.0.0.1", port: Int(blackhole.port), after: .milliseconds(300)))
            #expect(ContinuousClock.now - started < .milliseconds(300) + Self.slack)
            // The abandoned connect is closed, not left behind.
            var open = await client.statistics().openConnections
            for _ in 0..<100 where open > 0 {
                try await Task.sleep(for: .milliseconds(20))
                open = await client.statistics().openConnections
            }
            #expect(open == 0)
        }
    }

    @Test("read timeout: the server accepts the request and never answers")
    func readTimeout() async throws {
        let peer = try await PeerServer.start()
        defer { peer.stop() }
        try await withClient(onItsLoop: true) { client in
            let started = ContinuousClock.now
            let url = peer.base + "/stall"
            let error = await fetchError {
                _ = try await client.fetch(FetchRequest(url, timeouts: FetchTimeouts(read: .milliseconds(400))))
            }
            #expect(error == .readTimeout(url: url, after: .milliseconds(400)))
            #expect(ContinuousClock.now - started < .milliseconds(400) + Self.slack)
        }
    }

    @Test("read timeout between body bytes, while the app is reading")
    func readTimeoutInBody() async throws {
        let peer = try await PeerServer.start()
        defer { peer.stop() }
        try await withClient(onItsLoop: true) { client in
            let url = peer.base + "/trickle?count=5&interval=2"
            let response = try await client.fetch(FetchRequest(url, timeouts: FetchTimeouts(read: .milliseconds(500))))
            let bodyFailure = await fetchError { _ = try await response.bodyBytes() }
            #expect(bodyFailure == .readTimeout(url: url, after: .milliseconds(500)))
        }
    }

    @Test("total timeout: a body trickling in faster than the read timeout still has to end in time")
    func totalTimeout() async throws {
        let peer = try await PeerServer.start()
        defer { peer.stop() }
        try await withClient(onItsLoop: true) { client in
            let url = peer.base + "/trickle?count=100&interval=0.05"
            let started = ContinuousClock.now
            let timeouts = FetchTimeouts(read: .seconds(2), total: .milliseconds(800))
            let response = try await client.fetch(FetchRequest(url, timeouts: timeouts))
            #expect(response.status == 200)
            let trickleFailure = await fetchError { _ = try await response.bodyBytes() }
            #expect(trickleFailure == .totalTimeout(url: url, after: .milliseconds(800)))
            #expect(ContinuousClock.now - started < .milliseconds(800) + Self.slack)

            // Also while the head is awaited, and across redirects.
            let stalled = peer.base + "/redirect?to=/stall"
            let headError = await fetchError {
                _ = try await client.fetch(FetchRequest(stalled, timeouts: FetchTimeouts(read: .seconds(10), total: .milliseconds(500))))
            }
            #expect(headError == .totalTimeout(url: peer.base + "/stall", after: .milliseconds(500)))
        }
    }
}
