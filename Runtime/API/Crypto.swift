import Synchronization

/// Cryptography for apps, from OpenSSL's libcrypto (never hand-rolled): hashes, MACs, comparison in
/// constant time, randomness, AES-256-GCM and RS256 signatures. The runtime supplies the implementation
/// (`CryptoBackend`), so an app module needs nothing but this one.
public enum Crypto {
    /// Length of an AES-256-GCM key.
    public static let aesKeyBytes = 32

    public static func sha256(_ bytes: [UInt8]) -> [UInt8] { backend.sha256(bytes) }
    public static func sha256(_ text: String) -> [UInt8] { backend.sha256(Array(text.utf8)) }

    public static func hmacSHA256(key: [UInt8], _ message: [UInt8]) -> [UInt8] { backend.hmacSHA256(key: key, message) }
    public static func hmacSHA256(key: [UInt8], _ message: String) -> [UInt8] {
        backend.hmacSHA256(key: key, Array(message.utf8))
    }

    /// Compares in time that depends only on the lengths, so a MAC check leaks nothing of where it differs.
    public static func constantTimeEqual(_ a: [UInt8], _ b: [UInt8]) -> Bool { backend.constantTimeEqual(a, b) }

    /// `count` bytes from the CSPRNG.
    public static func randomBytes(_ count: Int) -> [UInt8] { backend.randomBytes(count) }

    /// Encrypts and authenticates: `nonce (12) || ciphertext || tag (16)` with a fresh random nonce.
    public static func aesGCMSeal(_ plaintext: [UInt8], key: [UInt8], associatedData: [UInt8] = []) throws -> [UInt8] {
        try backend.aesGCMSeal(plaintext, key: key, associatedData: associatedData)
    }

    /// Opens what `aesGCMSeal` made; throws if the key, the associated data or a byte of it differ.
    public static func aesGCMOpen(_ box: [UInt8], key: [UInt8], associatedData: [UInt8] = []) throws -> [UInt8] {
        try backend.aesGCMOpen(box, key: key, associatedData: associatedData)
    }

    /// RSASSA-PKCS1-v1_5 with SHA-256 (JWT "RS256") of `message`, with a PEM private key (PKCS#1 or PKCS#8).
    public static func rs256Sign(_ message: [UInt8], privateKeyPEM: String) throws -> [UInt8] {
        try backend.rs256Sign(message, privateKeyPEM: privateKeyPEM)
    }

    static var backend: any CryptoBackend {
        guard let installed = CryptoBackendSlot.installed else {
            preconditionFailure("no crypto backend: the runtime installs one when it starts (CryptoBackendSlot.install)")
        }
        return installed
    }
}

/// Base64, base64url and hex.
public enum Encoding {
    public static func base64(_ bytes: [UInt8]) -> String { Crypto.backend.base64(bytes) }
    /// Nil unless `text` is padded standard base64.
    public static func base64Decode(_ text: String) -> [UInt8]? { Crypto.backend.base64Decode(text) }
    /// Unpadded base64url (as JWTs use it).
    public static func base64URL(_ bytes: [UInt8]) -> String { Crypto.backend.base64URL(bytes) }
    public static func base64URLDecode(_ text: String) -> [UInt8]? { Crypto.backend.base64URLDecode(text) }
    public static func hex(_ bytes: [UInt8]) -> String { Crypto.backend.hex(bytes) }
    public static func hexDecode(_ text: String) -> [UInt8]? { Crypto.backend.hexDecode(text) }
}

/// What implements `Crypto` and `Encoding`; the runtime installs one (RuntimeCrypto's, over libcrypto).
@_spi(Runtime) public protocol CryptoBackend: Sendable {
    func sha256(_ bytes: [UInt8]) -> [UInt8]
    func hmacSHA256(key: [UInt8], _ message: [UInt8]) -> [UInt8]
    func constantTimeEqual(_ a: [UInt8], _ b: [UInt8]) -> Bool
    func randomBytes(_ count: Int) -> [UInt8]
    func aesGCMSeal(_ plaintext: [UInt8], key: [UInt8], associatedData: [UInt8]) throws -> [UInt8]
    func aesGCMOpen(_ box: [UInt8], key: [UInt8], associatedData: [UInt8]) throws -> [UInt8]
    func rs256Sign(_ message: [UInt8], privateKeyPEM: String) throws -> [UInt8]
    func base64(_ bytes: [UInt8]) -> String
    func base64Decode(_ text: String) -> [UInt8]?
    func base64URL(_ bytes: [UInt8]) -> String
    func base64URLDecode(_ text: String) -> [UInt8]?
    func hex(_ bytes: [UInt8]) -> String
    func hexDecode(_ text: String) -> [UInt8]?
}

@_spi(Runtime) public enum CryptoBackendSlot {
    private static let slot = Mutex<(any CryptoBackend)?>(nil)
    public static var installed: (any CryptoBackend)? { slot.withLock { $0 } }
    public static func install(_ backend: any CryptoBackend) { slot.withLock { $0 = backend } }
}

/// Why a cryptographic call was refused (a bad key or length, or data that does not authenticate).
/// Never carries key material.
public struct CryptoFailure: Error, CustomStringConvertible {
    public let description: String
    public init(_ description: String) { self.description = description }
}
