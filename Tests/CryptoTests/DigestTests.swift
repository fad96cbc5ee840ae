import Testing
import RuntimeCrypto

@Suite("Digest")
struct DigestTests {
    @Test("SHA-256 of \"abc\" matches FIPS 180-2")
    func sha256() {
        #expect(Hex.encode(Digest.sha256(Array("abc".utf8)))
            == "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad")
    }

    @Test("HMAC-SHA256 matches RFC 4231 test case 2")
    func hmac() {
        #expect(Hex.encode(Digest.hmacSHA256(key: Array("Jefe".utf8), Array("what do ya want for nothing?".utf8)))
            == "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843")
    }

    @Test("constant-time comparison compares")
    func compare() {
        #expect(Digest.constantTimeEqual([1, 2, 3], [1, 2, 3]))
        #expect(!Digest.constantTimeEqual([1, 2, 3], [1, 2, 4]))
        #expect(!Digest.constantTimeEqual([1, 2, 3], [1, 2]))
    }

    @Test("hex round-trips and refuses non-hex")
    func hex() {
        let bytes = SecureRandom.bytes(32)
        #expect(bytes.count == 32)
        #expect(Hex.decode(Hex.encode(bytes)) == bytes)
        #expect(Hex.decode("abc") == nil)
        #expect(Hex.decode("zz") == nil)
        #expect(SecureRandom.bytes(16) != SecureRandom.bytes(16))
    }
}
