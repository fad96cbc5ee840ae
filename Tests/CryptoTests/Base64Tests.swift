import Testing
import RuntimeCrypto

@Suite("Base64 and SHA-1")
struct Base64Tests {
    @Test("RFC 4648 §10 vectors round-trip",
          arguments: [("", ""), ("f", "Zg=="), ("fo", "Zm8="), ("foo", "Zm9v"), ("foob", "Zm9vYg=="),
                      ("fooba", "Zm9vYmE="), ("foobar", "Zm9vYmFy")])
    func vectors(plain: String, encoded: String) {
        #expect(Base64.encode(Array(plain.utf8)) == encoded)
        #expect(Base64.decode(encoded) == Array(plain.utf8))
    }

    @Test("every byte value and length round-trips")
    func allBytes() {
        let bytes = (0...255).map(UInt8.init)
        for count in 0...bytes.count { #expect(Base64.decode(Base64.encode(Array(bytes[..<count]))) == Array(bytes[..<count])) }
    }

    @Test("malformed input is refused", arguments: ["Zg", "Zg=", "Z===", "====", "Zm9v Yg==", "Zm9v\nYg==", "Zg==Zg==",
                                                    "Zm=v", "Zm9-", "Zm9_", "Zm9vYg=A"])
    func malformed(text: String) {
        #expect(Base64.decode(text) == nil)
    }

    @Test("SHA-1 matches FIPS 180-2")
    func sha1() {
        #expect(Hex.encode(Digest.sha1(Array("abc".utf8))) == "a9993e364706816aba3e25717850c26c9cd0d89d")
        #expect(Hex.encode(Digest.sha1([])) == "da39a3ee5e6b4b0d3255bfef95601890afd80709")
    }
}
