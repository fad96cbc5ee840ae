import Testing
@testable import RuntimeCrypto

/// A key, a message and the published HMAC-SHA-256 (possibly only a prefix of it, as RFC 4231 case 5 gives).
struct HMACVector: Sendable, CustomTestStringConvertible {
    let source: String
    let key: [UInt8]
    let message: [UInt8]
    /// Hex; shorter than 64 digits when the source publishes a truncated MAC.
    let mac: String

    var testDescription: String { source }
}

@Suite("HMAC-SHA-256 against RFC 4231 and NIST vectors")
struct HMACSHA256Tests {
    /// RFC 4231 §4.2–§4.8, test cases 1–7, in the RFC's own hex.
    static let rfc4231Cases: [HMACVector] = [
        // §4.2, test case 1.
        HMACVector(source: "RFC 4231 case 1", key: [UInt8](repeating: 0x0b, count: 20),
                   message: bytes(hex: "4869205468657265"),  // "Hi There"
                   mac: "b0344c61d8db38535ca8afceaf0bf12b881dc200c9833da726e9376c2e32cff7"),
        // §4.3, test case 2: a key shorter than the output.
        HMACVector(source: "RFC 4231 case 2", key: bytes(hex: "4a656665"),  // "Jefe"
                   message: bytes(hex: "7768617420646f2079612077616e7420666f72206e6f7468696e673f"),
                   mac: "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843"),
        // §4.4, test case 3: 50 bytes of 0xdd.
        HMACVector(source: "RFC 4231 case 3", key: [UInt8](repeating: 0xaa, count: 20),
                   message: [UInt8](repeating: 0xdd, count: 50),
                   mac: "773ea91e36800e46854db8ebd09181a72959098b3ef8c122d9635514ced565fe"),
        // §4.5, test case 4: a 25-byte key 0x01…0x19, 50 bytes of 0xcd.
        HMACVector(source: "RFC 4231 case 4",
                   key: bytes(hex: "0102030405060708090a0b0c0d0e0f10111213141516171819"),
                   message: [UInt8](repeating: 0xcd, count: 50),
                   mac: "82558a389a443c0ea4cc819899f2083a85f0faa3e578f8077a2e3ff46729665b"),
        // §4.6, test case 5: the RFC publishes only the first 128 bits.
        HMACVector(source: "RFC 4231 case 5 (128-bit prefix)", key: [UInt8](repeating: 0x0c, count: 20),
                   // "Test With Truncation"
                   message: bytes(hex: "546573742057697468205472756e636174696f6e"),
                   mac: "a3b6167473100ee06e0c796c2955552b"),
        // §4.7, test case 6: a 131-byte key, longer than the 64-byte block, so it is hashed first.
        HMACVector(source: "RFC 4231 case 6", key: [UInt8](repeating: 0xaa, count: 131),
                   message: Array("Test Using Larger Than Block-Size Key - Hash Key First".utf8),
                   mac: "60e431591ee0b67f0d8a26aacbf5b77f8e0bc6213728c5140546040f0ee37f54"),
        // §4.8, test case 7: a long key and a message longer than a block.
        HMACVector(source: "RFC 4231 case 7", key: [UInt8](repeating: 0xaa, count: 131),
                   message: Array(("This is a test using a larger than block-size key and a larger than "
                                   + "block-size data. The key needs to be hashed before being used by the "
                                   + "HMAC algorithm.").utf8),
                   mac: "9b09ffa71b942fcb27635fbcd5b0e944bfdc63644f0713938a7f51535c3a35e2"),
    ]

    /// NIST's "Cryptographic Standards and Guidelines: Examples with Intermediate Values", HMAC_SHA256.pdf:
    /// keys of exactly one block, shorter, and longer (key bytes 0x00, 0x01, … in each).
    static let nistCases: [HMACVector] = [
        HMACVector(source: "NIST HMAC_SHA256 example, Klen = 64 (one block)", key: (0..<64).map(UInt8.init),
                   message: Array("Sample message for keylen=blocklen".utf8),
                   mac: "8bb9a1db9806f20df7f77b82138c7914d174d59e13dc4d0169c9057b133e1d62"),
        HMACVector(source: "NIST HMAC_SHA256 example, Klen = 32", key: (0..<32).map(UInt8.init),
                   message: Array("Sample message for keylen<blocklen".utf8),
                   mac: "a28cf43130ee696a98f14a37678b56bcfcbdd9e5cf69717fecf5480f0ebdf790"),
        HMACVector(source: "NIST HMAC_SHA256 example, Klen = 100", key: (0..<100).map(UInt8.init),
                   message: Array("Sample message for keylen=blocklen".utf8),
                   mac: "bdccb6c72ddeadb500ae768386cb38cc41c63dbb0878ddb9c7a38a431b78378d"),
    ]

    /// The examples in Wikipedia's "HMAC" article; the first is the empty key over the empty message, a case
    /// neither RFC 4231 nor NIST covers and the one where a NULL key pointer could reach OpenSSL.
    static let wikipediaCases: [HMACVector] = [
        HMACVector(source: "HMAC_SHA256(\"\", \"\")", key: [], message: [],
                   mac: "b613679a0814d9ec772f95d778c35fc5ff1697c493715653c6c712144292c5ad"),
        HMACVector(source: "HMAC_SHA256(\"key\", \"The quick brown fox…\")", key: Array("key".utf8),
                   message: Array("The quick brown fox jumps over the lazy dog".utf8),
                   mac: "f7bc83f430538424b13298e6aa6fb143ef4d59a14946175997479dbc2d1a3cd8"),
    ]

    @Test("RFC 4231 test cases 1–7", arguments: rfc4231Cases)
    func rfc4231(vector: HMACVector) {
        check(vector)
    }

    @Test("NIST HMAC-SHA256 example values", arguments: nistCases)
    func nist(vector: HMACVector) {
        check(vector)
    }

    @Test("empty key and message, and a common example", arguments: wikipediaCases)
    func wikipedia(vector: HMACVector) {
        check(vector)
    }

    /// RFC 7515 Appendix A.1: the HS256 JWS. The key arrives as base64url with `-` and `_` in it, so this also
    /// runs our base64url decoder on a published input; the signature is the RFC's, base64url-encoded.
    @Test("RFC 7515 A.1 HS256 JWS signature")
    func jwsHS256() throws {
        let key = try #require(Base64URL.decode(
            "AyM1SysPpbyDfgZld3umj1qzKObwVMkoqQ-EstJQLr_T-1qS0gZH75aKtMN3Yj0iPS4hcgUuTwjAzZr1Z9CAow"))
        #expect(key.count == 64)
        let header = Base64URL.encode(Array("{\"typ\":\"JWT\",\r\n \"alg\":\"HS256\"}".utf8))
        let payload = Base64URL.encode(Array(
            "{\"iss\":\"joe\",\r\n \"exp\":1300819380,\r\n \"http://example.com/is_root\":true}".utf8))
        #expect(header == "eyJ0eXAiOiJKV1QiLA0KICJhbGciOiJIUzI1NiJ9")
        #expect(payload == "eyJpc3MiOiJqb2UiLA0KICJleHAiOjEzMDA4MTkzODAsDQogImh0dHA6Ly9leGFtcGxl"
            + "LmNvbS9pc19yb290Ijp0cnVlfQ")
        let signature = Digest.hmacSHA256(key: key, Array((header + "." + payload).utf8))
        #expect(Base64URL.encode(signature) == "dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk")
    }

    @Test("a MAC checked with constantTimeEqual accepts the right tag and refuses one altered in any byte")
    func verifyWithConstantTimeEqual() {
        let vector = Self.rfc4231Cases[1]
        let tag = Digest.hmacSHA256(key: vector.key, vector.message)
        #expect(Digest.constantTimeEqual(tag, bytes(hex: vector.mac)))
        for index in tag.indices {
            var altered = tag
            altered[index] ^= 0x80
            #expect(!Digest.constantTimeEqual(altered, tag), "byte \(index)")
        }
        #expect(!Digest.constantTimeEqual(Array(tag.prefix(16)), tag))
        #expect(Digest.constantTimeEqual([], []))
    }

    private func check(_ vector: HMACVector) {
        let mac = Digest.hmacSHA256(key: vector.key, vector.message)
        #expect(mac.count == 32)
        // Case 5 publishes a prefix only; every other vector is the full 32 bytes.
        #expect(Hex.encode(Array(mac.prefix(vector.mac.count / 2))) == vector.mac)
    }
}
