import Testing
@testable import RuntimeCrypto

/// One test case of McGrew & Viega, "The Galois/Counter Mode of Operation (GCM)" (revised 2005), Appendix B,
/// in the paper's hex: K, P, A, IV, and the C and T it publishes.
struct GCMVector: Sendable, CustomTestStringConvertible {
    let testCase: Int
    let key: [UInt8]
    let plaintext: [UInt8]
    let associatedData: [UInt8]
    let iv: [UInt8]
    let ciphertext: [UInt8]
    let tag: [UInt8]

    var testDescription: String { "GCM test case \(testCase) (\(iv.count * 8)-bit IV)" }

    init(_ testCase: Int, key: String, plaintext: String, associatedData: String, iv: String, ciphertext: String,
         tag: String) {
        self.testCase = testCase
        self.key = bytes(hex: key)
        self.plaintext = bytes(hex: plaintext)
        self.associatedData = bytes(hex: associatedData)
        self.iv = bytes(hex: iv)
        self.ciphertext = bytes(hex: ciphertext)
        self.tag = bytes(hex: tag)
    }
}

/// Ways to alter a sealed message in transit.
enum Tamper: String, Sendable, CaseIterable {
    case firstCiphertextBit, middleCiphertextBit, lastCiphertextBit
    case firstTagBit, lastTagBit
    case associatedDataBit, associatedDataDropped, associatedDataExtended
    case nonceBit
    case ciphertextTruncated, ciphertextExtended
}

@Suite("AES-256-GCM")
struct AESGCMTests {
    private static let zeroKey = String(repeating: "00", count: 32)
    private static let key15 = "feffe9928665731c6d6a8f9467308308feffe9928665731c6d6a8f9467308308"
    private static let plaintext15 = "d9313225f88406e5a55909c5aff5269a86a7a9531534f7da2e4c303d8a318a72"
        + "1c3c0c95956809532fcf0e2449a6b525b16aedf5aa0de657ba637b391aafd255"
    /// Test cases 16–18 use the first 60 bytes of case 15's plaintext.
    private static let plaintext16 = String(plaintext15.prefix(120))
    private static let associatedData16 = "feedfacedeadbeeffeedfacedeadbeefabaddad2"

    /// Test cases 13–16: 256-bit keys with 96-bit IVs, the only IV length our API takes.
    static let vectors: [GCMVector] = [
        GCMVector(13, key: zeroKey, plaintext: "", associatedData: "", iv: "000000000000000000000000",
                  ciphertext: "", tag: "530f8afbc74536b9a963b4f1c4cb738b"),
        GCMVector(14, key: zeroKey, plaintext: "00000000000000000000000000000000", associatedData: "",
                  iv: "000000000000000000000000", ciphertext: "cea7403d4d606b6e074ec5d3baf39d18",
                  tag: "d0d1c8a799996bf0265b98b5d48ab919"),
        GCMVector(15, key: key15, plaintext: plaintext15, associatedData: "", iv: "cafebabefacedbaddecaf888",
                  ciphertext: "522dc1f099567d07f47f37a32a84427d643a8cdcbfe5c0c97598a2bd2555d1aa"
                      + "8cb08e48590dbb3da7b08b1056828838c5f61e6393ba7a0abcc9f662898015ad",
                  tag: "b094dac5d93471bdec1a502270e3cc6c"),
        GCMVector(16, key: key15, plaintext: plaintext16, associatedData: associatedData16,
                  iv: "cafebabefacedbaddecaf888",
                  ciphertext: "522dc1f099567d07f47f37a32a84427d643a8cdcbfe5c0c97598a2bd2555d1aa"
                      + "8cb08e48590dbb3da7b08b1056828838c5f61e6393ba7a0abcc9f662",
                  tag: "76fc6ece0f4e1768cddf8853bb2d551b"),
    ]

    /// Test cases 17 (64-bit IV) and 18 (480-bit IV): valid GCM, but not something `AESGCM` accepts.
    static let otherIVLengths: [GCMVector] = [
        GCMVector(17, key: key15, plaintext: plaintext16, associatedData: associatedData16, iv: "cafebabefacedbad",
                  ciphertext: "c3762df1ca787d32ae47c13bf19844cbaf1ae14d0b976afac52ff7d79bba9de0"
                      + "feb582d33934a4f0954cc2363bc73f7862ac430e64abe499f47c9b1f",
                  tag: "3a337dbf46a792c45e454913fe2ea8f2"),
        GCMVector(18, key: key15, plaintext: plaintext16, associatedData: associatedData16,
                  iv: "9313225df88406e555909c5aff5269aa6a7a9538534f7da1e4c303d2a318a728"
                      + "c3c0c95156809539fcf0e2429a6b525416aedbf5a0de6a57a637b39b",
                  ciphertext: "5a8def2f0c9e53f1f75d7853659e2a20eeb2b22aafde6419a058ab4f6f746bf4"
                      + "0fc0c3b780f244452da3ebf1c5d82cdea2418997200ef82e44ae7e3f",
                  tag: "a44a8266ee1c8eb0c8b5d4cf5ae9f19a"),
    ]

    // MARK: Published vectors

    @Test("seal gives the published ciphertext and tag", arguments: vectors)
    func seal(vector: GCMVector) throws {
        let (ciphertext, tag) = try AESGCM.seal(vector.plaintext, key: vector.key, nonce: vector.iv,
                                                associatedData: vector.associatedData)
        #expect(Hex.encode(ciphertext) == Hex.encode(vector.ciphertext))
        #expect(Hex.encode(tag) == Hex.encode(vector.tag))
    }

    @Test("open of the published ciphertext and tag gives the plaintext", arguments: vectors)
    func open(vector: GCMVector) throws {
        let plaintext = try AESGCM.open(vector.ciphertext, tag: vector.tag, key: vector.key, nonce: vector.iv,
                                        associatedData: vector.associatedData)
        #expect(plaintext == vector.plaintext)
    }

    @Test("openBox reads nonce || ciphertext || tag laid out from the published values", arguments: vectors)
    func openBox(vector: GCMVector) throws {
        let box = vector.iv + vector.ciphertext + vector.tag
        #expect(try AESGCM.openBox(box, key: vector.key, associatedData: vector.associatedData) == vector.plaintext)
    }

    @Test("a non-96-bit IV is refused by seal and open", arguments: otherIVLengths)
    func otherIVLength(vector: GCMVector) {
        let refusal = CryptoError.badNonceLength(expected: AESGCM.nonceBytes, got: vector.iv.count)
        #expect(throws: refusal) {
            try AESGCM.seal(vector.plaintext, key: vector.key, nonce: vector.iv, associatedData: vector.associatedData)
        }
        #expect(throws: refusal) {
            try AESGCM.open(vector.ciphertext, tag: vector.tag, key: vector.key, nonce: vector.iv,
                            associatedData: vector.associatedData)
        }
    }

    // MARK: Refusals

    @Test("open refuses anything altered", arguments: Tamper.allCases)
    func tampered(tamper: Tamper) {
        // Case 16 has both a partial final block and associated data, so every field can be altered.
        let vector = Self.vectors[3]
        var ciphertext = vector.ciphertext
        var tag = vector.tag
        var associatedData = vector.associatedData
        var nonce = vector.iv
        switch tamper {
        case .firstCiphertextBit: ciphertext[0] ^= 0x01
        case .middleCiphertextBit: ciphertext[ciphertext.count / 2] ^= 0x10
        case .lastCiphertextBit: ciphertext[ciphertext.count - 1] ^= 0x80
        case .firstTagBit: tag[0] ^= 0x01
        case .lastTagBit: tag[tag.count - 1] ^= 0x80
        case .associatedDataBit: associatedData[5] ^= 0x04
        case .associatedDataDropped: associatedData = []
        case .associatedDataExtended: associatedData.append(0)
        case .nonceBit: nonce[11] ^= 0x01
        case .ciphertextTruncated: ciphertext.removeLast()
        case .ciphertextExtended: ciphertext.append(0)
        }
        #expect(throws: CryptoError.authenticationFailed) {
            try AESGCM.open(ciphertext, tag: tag, key: vector.key, nonce: nonce, associatedData: associatedData)
        }
        #expect(throws: CryptoError.authenticationFailed) {
            try AESGCM.openBox(nonce + ciphertext + tag, key: vector.key, associatedData: associatedData)
        }
    }

    @Test("open refuses associated data on a message sealed without any")
    func unexpectedAssociatedData() {
        let vector = Self.vectors[2]
        #expect(throws: CryptoError.authenticationFailed) {
            try AESGCM.open(vector.ciphertext, tag: vector.tag, key: vector.key, nonce: vector.iv,
                            associatedData: [0])
        }
    }

    @Test("open refuses the wrong key")
    func wrongKey() throws {
        let vector = Self.vectors[3]
        var key = vector.key
        key[31] ^= 0x01
        #expect(throws: CryptoError.authenticationFailed) {
            try AESGCM.open(vector.ciphertext, tag: vector.tag, key: key, nonce: vector.iv,
                            associatedData: vector.associatedData)
        }
        let box = try AESGCM.sealBox(Array("secret".utf8), key: SecureRandom.bytes(AESGCM.keyBytes))
        #expect(throws: CryptoError.authenticationFailed) {
            try AESGCM.openBox(box, key: SecureRandom.bytes(AESGCM.keyBytes))
        }
    }

    /// GCM lets a tag be cut short, and OpenSSL would check only the bytes it is given; a shortened tag must be
    /// refused, never checked as a prefix.
    @Test("open refuses a tag that is not 16 bytes", arguments: [0, 1, 4, 8, 12, 15, 17, 32])
    func tagLength(length: Int) {
        let vector = Self.vectors[3]
        let tag = Array((vector.tag + [0x00] + vector.tag).prefix(length))
        #expect(throws: CryptoError.authenticationFailed) {
            try AESGCM.open(vector.ciphertext, tag: tag, key: vector.key, nonce: vector.iv,
                            associatedData: vector.associatedData)
        }
    }

    @Test("a sealed box shorter than nonce + tag is malformed", arguments: [0, 1, 12, 16, 27])
    func truncatedBox(length: Int) throws {
        let key = SecureRandom.bytes(AESGCM.keyBytes)
        let box = try AESGCM.sealBox(Array("a secret worth keeping".utf8), key: key)
        #expect(throws: CryptoError.malformedSealedBox) {
            try AESGCM.openBox(Array(box.prefix(length)), key: key)
        }
    }

    @Test("a sealed box cut short but still nonce + tag long fails authentication")
    func shortenedBox() throws {
        let key = SecureRandom.bytes(AESGCM.keyBytes)
        let box = try AESGCM.sealBox(Array("a secret worth keeping".utf8), key: key)
        for length in (AESGCM.nonceBytes + AESGCM.tagBytes)..<box.count {
            #expect(throws: CryptoError.authenticationFailed, "length \(length)") {
                try AESGCM.openBox(Array(box.prefix(length)), key: key)
            }
        }
    }

    @Test("a key that is not 32 bytes is refused everywhere", arguments: [0, 1, 16, 24, 31, 33, 64])
    func keyLength(length: Int) {
        let key = [UInt8](repeating: 0x42, count: length)
        let nonce = [UInt8](repeating: 0, count: AESGCM.nonceBytes)
        let tag = [UInt8](repeating: 0, count: AESGCM.tagBytes)
        let refusal = CryptoError.badKeyLength(expected: AESGCM.keyBytes, got: length)
        #expect(throws: refusal) { try AESGCM.seal([1, 2, 3], key: key, nonce: nonce) }
        #expect(throws: refusal) { try AESGCM.open([1, 2, 3], tag: tag, key: key, nonce: nonce) }
        #expect(throws: refusal) { try AESGCM.sealBox([1, 2, 3], key: key) }
        #expect(throws: refusal) { try AESGCM.openBox(nonce + [1, 2, 3] + tag, key: key) }
    }

    @Test("a nonce that is not 12 bytes is refused", arguments: [0, 1, 8, 11, 13, 16, 60])
    func nonceLength(length: Int) {
        let key = [UInt8](repeating: 0x42, count: AESGCM.keyBytes)
        let nonce = [UInt8](repeating: 0, count: length)
        let tag = [UInt8](repeating: 0, count: AESGCM.tagBytes)
        let refusal = CryptoError.badNonceLength(expected: AESGCM.nonceBytes, got: length)
        #expect(throws: refusal) { try AESGCM.seal([1, 2, 3], key: key, nonce: nonce) }
        #expect(throws: refusal) { try AESGCM.open([1, 2, 3], tag: tag, key: key, nonce: nonce) }
    }

    @Test("refusals say what was wrong and carry no key material")
    func descriptions() {
        #expect("\(CryptoError.badKeyLength(expected: 32, got: 16))" == "crypto: key must be 32 bytes, got 16")
        #expect("\(CryptoError.badNonceLength(expected: 12, got: 8))" == "crypto: nonce must be 12 bytes, got 8")
        #expect("\(CryptoError.authenticationFailed)".contains("authentication failed"))
        #expect("\(CryptoError.malformedSealedBox)".contains("sealed box"))
    }

    // MARK: Sealed boxes

    /// 1 MiB crosses OpenSSL's internal chunking many times over; empty is the smallest box there is.
    @Test("sealBox and openBox round-trip", arguments: [0, 1, 15, 16, 17, 1 << 20])
    func roundTrip(length: Int) throws {
        let key = SecureRandom.bytes(AESGCM.keyBytes)
        let plaintext = SecureRandom.bytes(length)
        for associatedData in [[], Array("object 42, version 7".utf8)] as [[UInt8]] {
            let box = try AESGCM.sealBox(plaintext, key: key, associatedData: associatedData)
            #expect(box.count == AESGCM.nonceBytes + length + AESGCM.tagBytes)
            if length >= 16 {
                let firstBlock = box[AESGCM.nonceBytes..<(AESGCM.nonceBytes + 16)]
                #expect(firstBlock != plaintext[0..<16], "ciphertext is not plaintext")
            }
            #expect(try AESGCM.openBox(box, key: key, associatedData: associatedData) == plaintext)
        }
    }

    @Test("two seals of the same plaintext use fresh nonces and differ")
    func freshNonces() throws {
        let key = SecureRandom.bytes(AESGCM.keyBytes)
        let plaintext = Array("the same message twice".utf8)
        var nonces = Set<[UInt8]>()
        var boxes = Set<[UInt8]>()
        for _ in 0..<64 {
            let box = try AESGCM.sealBox(plaintext, key: key)
            nonces.insert(Array(box.prefix(AESGCM.nonceBytes)))
            boxes.insert(box)
            #expect(try AESGCM.openBox(box, key: key) == plaintext)
        }
        #expect(nonces.count == 64)
        #expect(boxes.count == 64)
    }

    @Test("a box opens only with the associated data it was sealed with")
    func boxAssociatedData() throws {
        let key = SecureRandom.bytes(AESGCM.keyBytes)
        let box = try AESGCM.sealBox(Array("token".utf8), key: key, associatedData: Array("user 1".utf8))
        #expect(try AESGCM.openBox(box, key: key, associatedData: Array("user 1".utf8)) == Array("token".utf8))
        #expect(throws: CryptoError.authenticationFailed) {
            try AESGCM.openBox(box, key: key, associatedData: Array("user 2".utf8))
        }
        #expect(throws: CryptoError.authenticationFailed) { try AESGCM.openBox(box, key: key) }
    }
}
