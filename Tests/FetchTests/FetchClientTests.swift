import Foundation
import Synchronization
import RuntimeAPI
@testable import RuntimeHTTP
import Testing

/// The HTTP client against an independent server (Python's http.server) over real sockets: requests and
/// responses, framing, streaming with bounded memory, keep-alive, and how bad responses fail.
@Suite("Fetch client", .timeLimit(.minutes(1)))
struct FetchClientTests {
    @Test("GET and POST round-trip: method, headers, body; the client sets Host, User-Agent and Content-Length")
    func roundTrip() async throws {
        let peer = try await PeerServer.start()
        defer { peer.stop() }
        try await withClient { client in
            let get = try await client.fetch(FetchRequest(peer.base + "/echo?a=1", headers: ["X-Test": "yes"]))
            #expect(get.status == 200)
            #expect(get.headers["content-type"] == "application/json")
            let echoed = try await Echo.decode(get)
            #expect(echoed.method == "GET")
            #expect(echoed.path == "/echo?a=1")
            #expect(echoed.header("x-test") == "yes")
            #expect(echoed.header("host") == "127.0.0.1:\(peer.port)")
            #expect(echoed.header("user-agent") == "runtime")
            #expect(echoed.header("content-length") == nil)
            #expect(echoed.header("accept-encoding") == nil)

            // Framing and hop-by-hop headers from the app are replaced or dropped.
            let post = try await client.fetch(FetchRequest(
                peer.base + "/echo", method: "post",
                headers: ["Content-Type": "text/plain", "Host": "evil.example", "Content-Length": "999",
                          "Connection": "close", "User-Agent": "custom/1"],
                text: "hello, upstream"))
            let posted = try await Echo.decode(post)
            #expect(posted.method == "POST")
            #expect(posted.body == "hello, upstream")
            #expect(posted.header("content-length") == "15")
            #expect(posted.header("content-type") == "text/plain")
            #expect(posted.header("host") == "127.0.0.1:\(peer.port)")
            #expect(posted.header("connection") == nil)
            #expect(posted.header("user-agent") == "custom/1")

            // An empty POST still says its length.
            let empty = try await Echo.decode(try await client.fetch(FetchRequest(peer.base + "/echo", method: "POST")))
            #expect(empty.header("content-length") == "0")
        }
    }

    @Test("a chunked response is decoded, trailers and all")
    func chunked() async throws {
        let peer = try await PeerServer.start()
        defer { peer.stop() }
        try await withClient { client in
            let response = try await client.fetch(FetchRequest(peer.base + "/chunked?n=200"))
            #expect(response.headers["transfer-encoding"] == "chunked")
            let expected = (0..<200).map { "chunk \($0)\n" }.joined()
            #expect(try await response.text() == expected)
        }
    }

    @Test("a 10 MiB body streams: the client buffers a bounded amount until the reader takes it, in pieces",
          arguments: ["/big", "/big-chunked"])
    func largeBodyStreams(route: String) async throws {
        let peer = try await PeerServer.start()
        defer { peer.stop() }
        let total = 10 * 1024 * 1024
        // What may wait unread: the high-water mark plus one burst of what the kernel had buffered for the
        // socket when reading resumed (multishot receives deliver it all at once). Far from the whole body.
        let bound = total / 2
        try await withClient { client in
            let response = try await client.fetch(FetchRequest(peer.base + route + "?bytes=\(total)"))
            #expect(response.status == 200)
            // Nobody reads yet: the client must stop reading the socket, not take in all 10 MiB.
            try await Task.sleep(for: .milliseconds(500))
            let idle = await client.statistics()
            #expect(idle.bufferedBodyBytes > 0)
            #expect(idle.bufferedBodyBytes <= bound, "buffered \(idle.bufferedBodyBytes) bytes before any read")

            let buffered = Mutex(0)
            let reader = PatternReader { piece in
                guard piece % 40 == 0 else { return }
                let now = await client.statistics().bufferedBodyBytes
                buffered.withLock { $0 = max($0, now) }
            }
            guard case .stream(let produce) = response.body else { throw FixtureError(description: "not a stream") }
            try await produce(reader)
            let progress = reader.current
            let peak = buffered.withLock { $0 }
            #expect(progress.bytes == total)
            #expect(progress.mismatchAt == nil)
            #expect(progress.pieces > 100)
            #expect(progress.largestPiece <= client.config.maxBodyPieceBytes)
            #expect(peak <= bound, "buffered \(peak) bytes at most while reading")
            #expect(await client.statistics().bufferedBodyBytes == 0)
        }
    }

    @Test("keep-alive: sequential fetches share one connection; Connection: close and an unread body do not")
    func keepAlive() async throws {
        let peer = try await PeerServer.start()
        defer { peer.stop() }
        try await withClient { client in
            let first = try await Echo.decode(try await client.fetch(FetchRequest(peer.base + "/echo")))
            let second = try await Echo.decode(try await client.fetch(FetchRequest(peer.base + "/echo", method: "PUT",
                                                                                       text: "again")))
            #expect(first.connection == second.connection)
            var stats = await client.statistics()
            #expect(stats.connectionsOpened == 1)
            #expect(stats.idleConnections == 1)

            // The server ends the connection: the next fetch needs a new one.
            let closing = try await client.fetch(FetchRequest(peer.base + "/close"))
            #expect(try await closing.text() == "closing\n")
            let afterClose = try await Echo.decode(try await client.fetch(FetchRequest(peer.base + "/echo")))
            #expect(afterClose.connection != first.connection)

            // A large body dropped unread cannot be read away cheaply: its connection closes, the next
            // fetch gets a fresh one and works.
            stats = await client.statistics()
            let opened = stats.connectionsOpened
            _ = try await client.fetch(FetchRequest(peer.base + "/big?bytes=\(4 * 1024 * 1024)"))
            let afterDrop = try await Echo.decode(try await client.fetch(FetchRequest(peer.base + "/echo")))
            #expect(afterDrop.connection != afterClose.connection)
            // The big fetch reused the idle connection; the one after it needed a new one.
            stats = await client.statistics()
            #expect(stats.connectionsOpened == opened + 1)
            #expect(stats.bufferedBodyBytes == 0)
        }
    }

    @Test("a pooled connection the server closed without saying so is not reused into a failure")
    func staleConnection() async throws {
        let peer = try await PeerServer.start()
        defer { peer.stop() }
        try await withClient { client in
            for _ in 0..<20 {
                #expect(try await client.fetch(FetchRequest(peer.base + "/silent-close")).text() == "bye\n")
            }
            let after = try await Echo.decode(try await client.fetch(FetchRequest(peer.base + "/echo")))
            #expect(after.method == "GET")
        }
    }

    @Test("body limits: bodyBytes refuses past its limit, and a fetched body reads once")
    func bodyLimits() async throws {
        let peer = try await PeerServer.start()
        defer { peer.stop() }
        try await withClient { client in
            let large = try await client.fetch(FetchRequest(peer.base + "/big?bytes=100000"))
            let tooLarge = await fetchError { _ = try await large.bodyBytes(limit: 1000) }
            #expect(tooLarge == .bodyTooLarge(limit: 1000))

            let once = try await client.fetch(FetchRequest(peer.base + "/echo"))
            _ = try await once.bodyBytes()
            let alreadyRead = await fetchError { _ = try await once.bodyBytes() }
            #expect(alreadyRead == .bodyAlreadyRead)

            #expect(try await Response(text: "local").text() == "local")
            let overLimit = await fetchError { _ = try await Response(text: "local").bodyBytes(limit: 2) }
            #expect(overLimit == .bodyTooLarge(limit: 2))
        }
    }

    @Test("malformed and cut-short responses fail with what was wrong")
    func malformed() async throws {
        let peer = try await PeerServer.start()
        defer { peer.stop() }
        try await withClient { client in
            let badLength = await fetchError { _ = try await client.fetch(FetchRequest(peer.base + "/malformed")) }
            guard case .malformedResponse(_, let reason)? = badLength else { Issue.record("\(String(describing: badLength))"); return }
            #expect(reason.contains("Content-Length"))

            let garbage = await fetchError { _ = try await client.fetch(FetchRequest(peer.base + "/garbage")) }
            guard case .malformedResponse(_, let garbageReason)? = garbage else { Issue.record("\(String(describing: garbage))"); return }
            #expect(garbageReason.contains("status line"))

            let cut = try await client.fetch(FetchRequest(peer.base + "/cut"))
            let cutError = await fetchError { _ = try await cut.bodyBytes() }
            guard case .connectionClosed(_, let cutReason)? = cutError else { Issue.record("\(String(describing: cutError))"); return }
            #expect(cutReason.contains("before the body was complete"))

            // The client is unharmed.
            #expect(try await client.fetch(FetchRequest(peer.base + "/echo")).status == 200)
        }
    }

    @Test("refused connections, unknown hosts, other schemes and bad requests fail before anything is sent")
    func refusals() async throws {
        let port = try unusedPort()
        try await withClient { client in
            let refused = await fetchError { _ = try await client.fetch(FetchRequest("http://127.0.0.1:\(port)/")) }
            #expect(refused == .connectionRefused(host: "127.0.0.1", port: Int(port)))
            let dns = await fetchError { _ = try await client.fetch(FetchRequest("http://no-such-host.invalid/")) }
            guard case .dnsFailed(let host, _)? = dns else { Issue.record("\(String(describing: dns))"); return }
            #expect(host == "no-such-host.invalid")
            let ftp = await fetchError { _ = try await client.fetch(FetchRequest("ftp://example.com/file")) }
            #expect(ftp == .unsupportedScheme("ftp", url: "ftp://example.com/file"))
            let badMethod = await fetchError { _ = try await client.fetch(FetchRequest("http://127.0.0.1:\(port)/", method: "GE T")) }
            guard case .invalidRequest? = badMethod else { Issue.record("bad method: \(String(describing: badMethod))"); return }
            let badHeader = await fetchError {
                _ = try await client.fetch(FetchRequest("http://127.0.0.1:\(port)/", headers: ["X-Split": "a\r\nInjected: 1"]))
            }
            guard case .invalidRequest? = badHeader else { Issue.record("bad header: \(String(describing: badHeader))"); return }
            let https = await fetchError { _ = try await client.fetch(FetchRequest("https://127.0.0.1:\(port)/")) }
            guard case .tlsFailed? = https else { Issue.record("\(String(describing: https))"); return }
        }
    }
}
