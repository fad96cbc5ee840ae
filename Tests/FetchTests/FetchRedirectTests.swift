import Foundation
import RuntimeAPI
import RuntimeHTTP
import Testing

/// Redirects against the Python peer: each status, relative locations, the limit, the modes, and
/// credentials across origins.
@Suite("Fetch redirects", .timeLimit(.minutes(1)))
struct FetchRedirectTests {
    @Test("301, 302 and 303 turn a POST into a GET without its body; 307 and 308 keep both",
          arguments: [(301, "GET"), (302, "GET"), (303, "GET"), (307, "POST"), (308, "POST")])
    func statusCodes(code: Int, method: String) async throws {
        let peer = try await PeerServer.start()
        defer { peer.stop() }
        try await withClient { client in
            let response = try await client.fetch(FetchRequest(
                peer.base + "/redirect?code=\(code)&to=/echo", method: "POST",
                headers: ["Content-Type": "text/plain"], text: "payload"))
            #expect(response.status == 200)
            let echoed = try await Echo.decode(response)
            #expect(echoed.method == method)
            #expect(echoed.body == (method == "POST" ? "payload" : ""))
            #expect((echoed.header("content-type") != nil) == (method == "POST"))
            // The redirect's short body was read away: both hops used one connection.
            #expect(await client.statistics().connectionsOpened == 1)
        }
    }

    @Test("a 303 keeps a HEAD a HEAD; a 301 keeps a PUT a PUT")
    func methodsKept() async throws {
        let peer = try await PeerServer.start()
        defer { peer.stop() }
        try await withClient { client in
            let head = try await client.fetch(FetchRequest(peer.base + "/redirect?code=303&to=/echo", method: "HEAD"))
            #expect(head.status == 200)
            #expect(try await head.bodyBytes().isEmpty)
            let put = try await client.fetch(FetchRequest(peer.base + "/redirect?code=301&to=/echo", method: "PUT", text: "kept"))
            let echoed = try await Echo.decode(put)
            #expect(echoed.method == "PUT")
            #expect(echoed.body == "kept")
        }
    }

    @Test("a relative Location resolves against the current URL")
    func relativeLocation() async throws {
        let peer = try await PeerServer.start()
        defer { peer.stop() }
        try await withClient { client in
            let sibling = try await Echo.decode(try await client.fetch(FetchRequest(peer.base + "/redirect?to=echo%3Fx%3D1")))
            #expect(sibling.path == "/echo?x=1")
            let climbing = try await Echo.decode(try await client.fetch(
                FetchRequest(peer.base + "/redirect?to=../../echo%3Fup")))
            #expect(climbing.path == "/echo?up")
            let absolute = try await Echo.decode(try await client.fetch(
                FetchRequest(peer.base + "/redirect?to=http://127.0.0.1:\(peer.port)/echo%3Fabs")))
            #expect(absolute.path == "/echo?abs")
        }
    }

    @Test("20 redirects are followed; the 21st throws tooManyRedirects")
    func limit() async throws {
        let peer = try await PeerServer.start()
        defer { peer.stop() }
        try await withClient { client in
            let arrived = try await client.fetch(FetchRequest(peer.base + "/hops?left=\(FetchRequest.maxRedirects)"))
            #expect(try await arrived.text() == "arrived\n")
            let url = peer.base + "/hops?left=\(FetchRequest.maxRedirects + 1)"
            let tooMany = await fetchError { _ = try await client.fetch(FetchRequest(url)) }
            #expect(tooMany == .tooManyRedirects(limit: FetchRequest.maxRedirects, url: url))
        }
    }

    @Test(".manual returns the redirect itself; .error throws redirectRefused")
    func modes() async throws {
        let peer = try await PeerServer.start()
        defer { peer.stop() }
        try await withClient { client in
            let url = peer.base + "/redirect?code=302&to=/echo"
            let manual = try await client.fetch(FetchRequest(url, redirect: .manual))
            #expect(manual.status == 302)
            #expect(manual.headers["location"] == "/echo")
            #expect(try await manual.text() == "redirecting\n")
            let refusedRedirect = await fetchError { _ = try await client.fetch(FetchRequest(url, redirect: .error)) }
            #expect(refusedRedirect == .redirectRefused(status: 302, location: "/echo", url: url))
            // 300 (Multiple Choices) is not a redirect to follow, Location or not.
            let plain = try await client.fetch(FetchRequest(peer.base + "/redirect?code=300&to="))
            #expect(plain.status == 300)
        }
    }

    @Test("Authorization stays for the same origin and is dropped when a redirect leaves it")
    func authorizationAcrossOrigins() async throws {
        let first = try await PeerServer.start()
        defer { first.stop() }
        let second = try await PeerServer.start()
        defer { second.stop() }
        try await withClient { client in
            let headers: Headers = ["Authorization": "Bearer secret", "X-Other": "kept"]
            let same = try await Echo.decode(try await client.fetch(
                FetchRequest(first.base + "/redirect?code=307&to=/echo", headers: headers)))
            #expect(same.header("authorization") == "Bearer secret")
            let other = try await Echo.decode(try await client.fetch(FetchRequest(
                first.base + "/redirect?code=307&to=http://127.0.0.1:\(second.port)/echo", headers: headers)))
            #expect(other.header("authorization") == nil)
            #expect(other.header("x-other") == "kept")
            #expect(other.header("host") == "127.0.0.1:\(second.port)")
        }
    }
}
