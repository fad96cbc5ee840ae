import Foundation
import RuntimeAPI
import RuntimeHTTP
import Testing

/// https against the Python peer on Python's `ssl`, with certificates made by the openssl CLI for the test.
@Suite("Fetch over TLS", .timeLimit(.minutes(1)))
struct FetchTLSTests {
    @Test("with the CA that signed the server's certificate, https works by name and by address, and keeps alive")
    func trusted() async throws {
        let certificates = try await TestCertificates.make()
        defer { certificates.remove() }
        let peer = try await PeerServer.start(certificate: certificates.server, key: certificates.serverKey)
        defer { peer.stop() }
        try await withClient(tls: try certificates.clientContext()) { client in
            let byName = try await client.fetch(FetchRequest("https://localhost:\(peer.port)/echo", method: "POST",
                                                             text: "over TLS"))
            let echoed = try await Echo.decode(byName)
            #expect(echoed.body == "over TLS")
            #expect(echoed.header("host") == "localhost:\(peer.port)")
            let again = try await Echo.decode(try await client.fetch(FetchRequest("https://localhost:\(peer.port)/echo")))
            #expect(again.connection == echoed.connection)
            let byAddress = try await client.fetch(FetchRequest("https://127.0.0.1:\(peer.port)/big?bytes=300000"))
            let reader = PatternReader()
            guard case .stream(let produce) = byAddress.body else { throw FixtureError(description: "not a stream") }
            try await produce(reader)
            #expect(reader.current.bytes == 300_000)
            #expect(reader.current.mismatchAt == nil)
        }
    }

    @Test("a certificate from a CA we do not trust fails verification, with OpenSSL's reason")
    func untrustedIssuer() async throws {
        let certificates = try await TestCertificates.make()
        defer { certificates.remove() }
        let peer = try await PeerServer.start(certificate: certificates.server, key: certificates.serverKey)
        defer { peer.stop() }
        try await withClient(tls: try certificates.clientContext(ca: certificates.otherCA)) { client in
            let error = await fetchError { _ = try await client.fetch(FetchRequest("https://localhost:\(peer.port)/echo")) }
            guard case .certificateVerifyFailed(let host, let reason)? = error else {
                Issue.record("expected certificateVerifyFailed, got \(String(describing: error))"); return
            }
            #expect(host == "localhost")
            #expect(reason.contains("local issuer certificate"), "\(reason)")
        }
    }

    @Test("a trusted certificate for another name fails as a hostname mismatch")
    func hostnameMismatch() async throws {
        let certificates = try await TestCertificates.make()
        defer { certificates.remove() }
        let peer = try await PeerServer.start(certificate: certificates.otherName, key: certificates.otherNameKey)
        defer { peer.stop() }
        try await withClient(tls: try certificates.clientContext()) { client in
            let byName = await fetchError { _ = try await client.fetch(FetchRequest("https://localhost:\(peer.port)/")) }
            #expect(byName == .hostnameMismatch(host: "localhost"))
            let byAddress = await fetchError { _ = try await client.fetch(FetchRequest("https://127.0.0.1:\(peer.port)/")) }
            #expect(byAddress == .hostnameMismatch(host: "127.0.0.1"))
        }
    }

    @Test("https to a plain-HTTP port fails as a TLS failure, not a hang")
    func plainPeer() async throws {
        let certificates = try await TestCertificates.make()
        defer { certificates.remove() }
        let peer = try await PeerServer.start()
        defer { peer.stop() }
        try await withClient(tls: try certificates.clientContext()) { client in
            let error = await fetchError {
                _ = try await client.fetch(FetchRequest("https://127.0.0.1:\(peer.port)/",
                                                        timeouts: FetchTimeouts(connect: .seconds(5))))
            }
            guard case .tlsFailed? = error else { Issue.record("expected tlsFailed, got \(String(describing: error))"); return }
        }
    }
}
