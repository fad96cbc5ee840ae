import Foundation
import Testing
import RuntimeIO
import RuntimeTLS

/// Our TLS client against an independent server (Python's `ssl`): verification with the right CA, the
/// wrong CA, the wrong name, and by IP address.
@Suite("TLS client against Python's ssl")
struct TLSClientTests {
    /// Starts the Python server with the test certificate, runs `body`, always stops both.
    static func withPeer(_ body: (TestCertificates, PythonTLSServer, Loop) throws -> Void) throws {
        let certificates = try TestCertificates.make()
        defer { certificates.remove() }
        let peer = try PythonTLSServer(certificate: certificates.chain, key: certificates.serverKey)
        defer { peer.stop() }
        let group = try LoopGroup(count: 1)
        defer { group.stop(); group.join() }
        try body(certificates, peer, group.loops[0])
    }

    @Test("with the right CA: connects, verifies localhost, agrees on http/1.1, echoes")
    func rightCA() async throws {
        try await offPool {
            try Self.withPeer { certificates, peer, loop in
                let client = RecordingClient(payload: Array("alpn\n".utf8))
                client.connect(on: loop, to: try peer.address, serverName: "localhost",
                               context: try certificates.clientContext())
                #expect(waitFor { client.events.current.received.count >= 9 })
                let events = client.events.current
                #expect(events.connected == .some(nil))
                #expect(String(decoding: events.received, as: UTF8.self) == "http/1.1\n")
                #expect(events.alpn == "http/1.1")
                let big = pattern(1 << 20)
                client.send(big, on: loop)
                #expect(waitFor(20) { client.events.current.received.count >= 9 + big.count })
                #expect(Array(client.events.current.received.dropFirst(9)) == big)
            }
        }
    }

    @Test("verifying an IP address against the certificate's IP entries")
    func byAddress() async throws {
        try await offPool {
            try Self.withPeer { certificates, peer, loop in
                let client = RecordingClient(payload: Array("hi".utf8))
                client.connect(on: loop, to: try peer.address, serverName: "127.0.0.1",
                               context: try certificates.clientContext())
                #expect(waitFor { client.events.current.received.count >= 2 })
                #expect(client.events.current.connected == .some(nil))
            }
        }
    }

    @Test("with the wrong CA: refused, saying the issuer is unknown")
    func wrongCA() async throws {
        try await offPool {
            try Self.withPeer { certificates, peer, loop in
                let client = RecordingClient()
                client.connect(on: loop, to: try peer.address, serverName: "localhost",
                               context: try certificates.clientContext(ca: certificates.otherCA))
                #expect(waitFor { client.events.current.connected != nil })
                guard case .certificateRejected(let peerName, let reason, let hint) = client.events.current.connectError else {
                    Issue.record("expected a rejected certificate, got \(String(describing: client.events.current.connected))")
                    return
                }
                #expect(peerName == "localhost")
                // The peer sends its CA along (chain.pem), so OpenSSL finds a root it does not trust.
                #expect(["self-signed certificate in certificate chain", "unable to get local issuer certificate"]
                    .contains(reason), "\(reason)")
                #expect(hint.contains("CA file"))
                #expect(waitFor { client.events.current.closed })
            }
        }
    }

    @Test("a name the certificate does not carry: refused as a hostname mismatch")
    func wrongName() async throws {
        try await offPool {
            try Self.withPeer { certificates, peer, loop in
                let client = RecordingClient()
                client.connect(on: loop, to: try peer.address, serverName: "wrong.example",
                               context: try certificates.clientContext())
                #expect(waitFor { client.events.current.connected != nil })
                guard case .certificateRejected(_, let reason, let hint) = client.events.current.connectError else {
                    Issue.record("expected a rejected certificate, got \(String(describing: client.events.current.connected))")
                    return
                }
                #expect(reason == "hostname mismatch", "\(reason)")
                #expect(hint.contains("wrong.example"))
                let text = client.events.current.connected??.description ?? ""
                #expect(text.contains("certificate verify failed") && text.contains("hostname mismatch"), "\(text)")
            }
        }
    }

    @Test("the system store alone does not trust a private CA")
    func systemStore() async throws {
        try await offPool {
            try Self.withPeer { _, peer, loop in
                let client = RecordingClient()
                client.connect(on: loop, to: try peer.address, serverName: "localhost",
                               context: try TLSContext(client: TLSClientConfig()))
                #expect(waitFor { client.events.current.connected != nil })
                guard case .certificateRejected = client.events.current.connectError else {
                    Issue.record("expected a rejected certificate, got \(String(describing: client.events.current.connected))")
                    return
                }
            }
        }
    }
}
