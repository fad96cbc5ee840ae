import Testing
@testable import RuntimeCrypto

/// A message and its published SHA-256 digest.
struct SHA256Vector: Sendable, CustomTestStringConvertible {
    let source: String
    let message: [UInt8]
    let digest: String

    var testDescription: String { source }
}

@Suite("SHA-256 against NIST vectors")
struct SHA256Tests {
    static let vectors: [SHA256Vector] = [
        // NIST CAVP SHAVS, SHA256ShortMsg.rsp, "Len = 0": the empty message.
        SHA256Vector(source: "SHAVS ShortMsg Len = 0 (empty)", message: [],
                     digest: "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"),
        // FIPS 180-2, Appendix B.1: "abc", one block.
        SHA256Vector(source: "FIPS 180-2 B.1 \"abc\"", message: Array("abc".utf8),
                     digest: "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"),
        // FIPS 180-2, Appendix B.2: the 448-bit message; its padding spills into a second block.
        SHA256Vector(source: "FIPS 180-2 B.2 448-bit message",
                     message: Array("abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq".utf8),
                     digest: "248d6a61d20638b8e5c026930c3e6039a33ce45964ff2167f6ecedd419db06c1"),
        // FIPS 180-2, Appendix B.3: one million repetitions of "a".
        SHA256Vector(source: "FIPS 180-2 B.3 one million 'a'",
                     message: [UInt8](repeating: UInt8(ascii: "a"), count: 1_000_000),
                     digest: "cdc76e5c9914fb9281a1c7e284d73e67f1809a48a497200e046d39ccc7112cd0"),
    ]

    @Test("digest matches the published value", arguments: vectors)
    func digest(vector: SHA256Vector) {
        let digest = Digest.sha256(vector.message)
        #expect(digest.count == 32)
        #expect(Hex.encode(digest) == vector.digest)
    }
}
