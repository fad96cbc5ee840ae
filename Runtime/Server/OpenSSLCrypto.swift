@_spi(Runtime) import RuntimeAPI
import RuntimeCrypto

/// `Crypto` and `Encoding` for apps, over RuntimeCrypto (libcrypto). Installed when a server starts.
struct OpenSSLCrypto: CryptoBackend {
    func sha256(_ bytes: [UInt8]) -> [UInt8] { Digest.sha256(bytes) }
    func hmacSHA256(key: [UInt8], _ message: [UInt8]) -> [UInt8] { Digest.hmacSHA256(key: key, message) }
    func constantTimeEqual(_ a: [UInt8], _ b: [UInt8]) -> Bool { Digest.constantTimeEqual(a, b) }
    func randomBytes(_ count: Int) -> [UInt8] { SecureRandom.bytes(count) }

    func aesGCMSeal(_ plaintext: [UInt8], key: [UInt8], associatedData: [UInt8]) throws -> [UInt8] {
        do {
            return try AESGCM.sealBox(plaintext, key: key, associatedData: associatedData)
        } catch {
            throw CryptoFailure(error.description)
        }
    }

    func aesGCMOpen(_ box: [UInt8], key: [UInt8], associatedData: [UInt8]) throws -> [UInt8] {
        do {
            return try AESGCM.openBox(box, key: key, associatedData: associatedData)
        } catch {
            throw CryptoFailure(error.description)
        }
    }

    func rs256Sign(_ message: [UInt8], privateKeyPEM: String) throws -> [UInt8] {
        do {
            return try RSAPrivateKey(pem: privateKeyPEM).signSHA256(message)
        } catch {
            throw CryptoFailure(error.description)
        }
    }

    func base64(_ bytes: [UInt8]) -> String { Base64.encode(bytes) }
    func base64Decode(_ text: String) -> [UInt8]? { Base64.decode(text) }
    func base64URL(_ bytes: [UInt8]) -> String { Base64URL.encode(bytes) }
    func base64URLDecode(_ text: String) -> [UInt8]? { Base64URL.decode(text) }
    func hex(_ bytes: [UInt8]) -> String { Hex.encode(bytes) }
    func hexDecode(_ text: String) -> [UInt8]? { Hex.decode(text) }
}
