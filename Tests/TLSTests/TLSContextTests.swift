import Foundation
import Testing
import RuntimeTLS

@Suite("TLSContext")
struct TLSContextTests {
    @Test("a server context loads a chain and its key; a client one a CA file")
    func loads() throws {
        let certificates = try TestCertificates.make()
        defer { certificates.remove() }
        let server = try certificates.serverContext()
        #expect(server.role == .server)
        let client = try certificates.clientContext()
        #expect(client.role == .client)
        _ = try TLSContext(client: TLSClientConfig())  // the system store alone
    }

    /// A chain and key file (names in the certificates' directory) and what the refusal must say.
    struct BadFiles: Sendable, CustomStringConvertible {
        enum Kind: Sendable { case unreadable, invalid, mismatch }
        let description: String
        let chain: String
        let key: String
        let kind: Kind
        let words: [String]
    }

    static let badFiles: [BadFiles] = [
        BadFiles(description: "missing certificate file", chain: "nope.pem", key: "server.key", kind: .unreadable,
                 words: ["certificate chain", "nope.pem", "cannot read", "No such file"]),
        BadFiles(description: "missing key file", chain: "chain.pem", key: "gone.key", kind: .unreadable,
                 words: ["private key", "gone.key", "No such file"]),
        BadFiles(description: "a key as the certificate", chain: "server.key", key: "server.key", kind: .invalid,
                 words: ["certificate chain", "server.key", "no PEM certificate"]),
        BadFiles(description: "a certificate as the key", chain: "chain.pem", key: "server.pem", kind: .invalid,
                 words: ["private key", "server.pem", "no PEM private key"]),
        BadFiles(description: "a key of another certificate", chain: "chain.pem", key: "other.key", kind: .mismatch,
                 words: ["other.key", "chain.pem", "does not belong"]),
        BadFiles(description: "an encrypted key", chain: "chain.pem", key: "encrypted.key", kind: .invalid,
                 words: ["encrypted.key", "passphrase"]),
    ]

    @Test("bad certificate and key files are refused with the file named", arguments: badFiles)
    func badFile(_ bad: BadFiles) throws {
        let certificates = try TestCertificates.make()
        defer { certificates.remove() }
        let chain = certificates.directory + "/" + bad.chain
        let key = certificates.directory + "/" + bad.key
        do {
            _ = try TLSContext(server: TLSServerConfig(certificateChainFile: chain, privateKeyFile: key))
            Issue.record("accepted \(bad)")
        } catch {
            switch (bad.kind, error) {
            case (.unreadable, .unreadableFile), (.invalid, .invalidFile): break
            case (.mismatch, .keyMismatch(let keyPath, let certificatePath)):
                #expect(keyPath == key && certificatePath == chain)
            default: Issue.record("\(bad): unexpected \(error)")
            }
            for word in bad.words { #expect(error.description.contains(word), "\(error.description)") }
        }
    }

    @Test("an unreadable CA file and a CA file without certificates are refused")
    func badCAFile() throws {
        let certificates = try TestCertificates.make()
        defer { certificates.remove() }
        #expect(throws: TLSError.unreadableFile(path: "/nonexistent/ca.pem", what: "CA file",
                                                reason: "No such file or directory")) {
            _ = try TLSContext(client: TLSClientConfig(caFile: "/nonexistent/ca.pem"))
        }
        do {
            _ = try TLSContext(client: TLSClientConfig(caFile: certificates.serverKey))
            Issue.record("a key file was taken as a CA file")
        } catch {
            #expect(error.description.contains("server.key") && error.description.contains("CA file"), "\(error)")
        }
    }

    @Test("ALPN names must be 1 to 255 bytes; a client must trust something")
    func configuration() throws {
        #expect(throws: TLSError.self) { _ = try TLSContext(client: TLSClientConfig(applicationProtocols: [""])) }
        #expect(throws: TLSError.self) { _ = try TLSContext(client: TLSClientConfig(trustSystemRoots: false)) }
    }
}
