import Testing
@testable import RuntimeCrypto

/// Bytes, their unpadded base64url form, and the padded form a lenient producer might send instead.
struct Base64URLVector: Sendable, CustomTestStringConvertible {
    let source: String
    let bytes: [UInt8]
    let unpadded: String
    let padded: String

    var testDescription: String { source }
}

@Suite("Base64URL")
struct Base64URLTests {
    static let vectors: [Base64URLVector] = [
        // RFC 4648 §10, "Test Vectors". None of them reaches `+` or `/`, so the base64url forms equal the base64
        // ones with the padding removed.
        Base64URLVector(source: "RFC 4648 §10 \"\"", bytes: [], unpadded: "", padded: ""),
        Base64URLVector(source: "RFC 4648 §10 \"f\"", bytes: Array("f".utf8), unpadded: "Zg", padded: "Zg=="),
        Base64URLVector(source: "RFC 4648 §10 \"fo\"", bytes: Array("fo".utf8), unpadded: "Zm8", padded: "Zm8="),
        Base64URLVector(source: "RFC 4648 §10 \"foo\"", bytes: Array("foo".utf8), unpadded: "Zm9v", padded: "Zm9v"),
        Base64URLVector(source: "RFC 4648 §10 \"foob\"", bytes: Array("foob".utf8), unpadded: "Zm9vYg",
                        padded: "Zm9vYg=="),
        Base64URLVector(source: "RFC 4648 §10 \"fooba\"", bytes: Array("fooba".utf8), unpadded: "Zm9vYmE",
                        padded: "Zm9vYmE="),
        Base64URLVector(source: "RFC 4648 §10 \"foobar\"", bytes: Array("foobar".utf8), unpadded: "Zm9vYmFy",
                        padded: "Zm9vYmFy"),
        // RFC 4648 §9, "Illustrations and Examples": 0x14fb9c03d97e is "FPucA9l+" in base64, so "FPucA9l-" here.
        Base64URLVector(source: "RFC 4648 §9 14fb9c03d97e", bytes: bytes(hex: "14fb9c03d97e"), unpadded: "FPucA9l-",
                        padded: "FPucA9l-"),
        Base64URLVector(source: "RFC 4648 §9 14fb9c03d9", bytes: bytes(hex: "14fb9c03d9"), unpadded: "FPucA9k",
                        padded: "FPucA9k="),
        Base64URLVector(source: "RFC 4648 §9 14fb9c03", bytes: bytes(hex: "14fb9c03"), unpadded: "FPucAw",
                        padded: "FPucAw=="),
        // RFC 4648 §5, Table 2: value 62 is `-` and 63 is `_`. 0xfbefbe is four sextets of 62, 0xffffff four of 63.
        Base64URLVector(source: "RFC 4648 §5 value 62", bytes: [0xfb, 0xef, 0xbe], unpadded: "----", padded: "----"),
        Base64URLVector(source: "RFC 4648 §5 value 63", bytes: [0xff, 0xff, 0xff], unpadded: "____", padded: "____"),
        Base64URLVector(source: "RFC 4648 §5 63 then padding", bytes: [0xff], unpadded: "_w", padded: "_w=="),
        // The JWT header GitHub App tokens carry.
        Base64URLVector(source: "JWT header {\"alg\":\"RS256\",\"typ\":\"JWT\"}",
                        bytes: Array("{\"alg\":\"RS256\",\"typ\":\"JWT\"}".utf8),
                        unpadded: "eyJhbGciOiJSUzI1NiIsInR5cCI6IkpXVCJ9",
                        padded: "eyJhbGciOiJSUzI1NiIsInR5cCI6IkpXVCJ9"),
        // RFC 7515 Appendix A.2: the RS256 JWS Protected Header {"alg":"RS256"}.
        Base64URLVector(source: "RFC 7515 A.2 header", bytes: Array("{\"alg\":\"RS256\"}".utf8),
                        unpadded: "eyJhbGciOiJSUzI1NiJ9", padded: "eyJhbGciOiJSUzI1NiJ9"),
    ]

    @Test("encodes to the unpadded published form", arguments: vectors)
    func encode(vector: Base64URLVector) {
        #expect(Base64URL.encode(vector.bytes) == vector.unpadded)
    }

    @Test("decodes the unpadded and the padded form", arguments: vectors)
    func decode(vector: Base64URLVector) {
        #expect(Base64URL.decode(vector.unpadded) == vector.bytes)
        #expect(Base64URL.decode(vector.padded) == vector.bytes)
    }

    @Test("output never carries padding or the standard alphabet's `+` and `/`; every length round-trips")
    func roundTrip() {
        for length in 0...300 {
            let bytes = SecureRandom.bytes(length)
            let text = Base64URL.encode(bytes)
            #expect(!text.contains("=") && !text.contains("+") && !text.contains("/"), "length \(length)")
            #expect(text.utf8.count == (length * 4 + 2) / 3, "length \(length)")
            #expect(Base64URL.decode(text) == bytes, "length \(length)")
        }
        let everyByte = (0...255).map(UInt8.init)
        #expect(Base64URL.decode(Base64URL.encode(everyByte)) == everyByte)
    }

    @Test("malformed input is refused", arguments: [
        // The standard alphabet's two characters are not base64url (RFC 4648 §5).
        "FPucA9l+", "+/8=", "//8", "Zm9v+A", "Zm9v/A",
        // One character past a whole group can encode no byte (RFC 4648 §5's groups of four).
        "Z", "Zm9vY", "FPucA9l-Z", "=",
        // Padding where it cannot be, or too much or too little of it.
        "Zg=", "Zg===", "Zm8==", "=Zg", "Z=g=", "Zg==Zg", "Zm9v=",
        // Characters in neither alphabet, and whitespace.
        "Zm9v!", "Zm9v Yg", " Zm9v", "Zm9v\n", "Zm9v.Yg", "Zm9vé",
    ])
    func malformed(text: String) {
        #expect(Base64URL.decode(text) == nil)
    }
}
