import RuntimeAPI
import RuntimeCrypto

/// Makes and checks the ids of one namespace. The scheme binds each id to the namespace's secret key:
/// the first 16 bytes are the identity (an HMAC of the name, or random), the last 16 an HMAC of the
/// first under the same key, so an id from elsewhere (or a forged one) fails `parse`.
struct ObjectIDs: Sendable {
    let namespace: String
    /// SHA-256 of the namespace's unique key.
    private let key: [UInt8]

    init(namespace: String, uniqueKey: [UInt8]) {
        self.namespace = namespace
        key = Digest.sha256(uniqueKey)
    }

    func fromName(_ name: String) -> ObjectID {
        let base = Array(Digest.hmacSHA256(key: key, Array(name.utf8)).prefix(16))
        return ObjectID(bytes: base + mac(base), name: name)
    }

    func unique() -> ObjectID {
        let base = SecureRandom.bytes(16)
        return ObjectID(bytes: base + mac(base), name: nil)
    }

    func parse(_ text: String) throws(ObjectIDError) -> ObjectID {
        guard text.utf8.count == 64, let bytes = Hex.decode(text) else { throw .notHex(text) }
        let base = Array(bytes.prefix(16))
        guard Digest.constantTimeEqual(Array(bytes.suffix(16)), mac(base)) else { throw .wrongNamespace(namespace) }
        return ObjectID(bytes: bytes, name: nil)
    }

    private func mac(_ base: [UInt8]) -> [UInt8] { Array(Digest.hmacSHA256(key: key, base).prefix(16)) }
}
