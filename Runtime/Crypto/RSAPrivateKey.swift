import COpenSSL

/// An RSA private key read from PEM (PKCS#1 "RSA PRIVATE KEY" or PKCS#8 "PRIVATE KEY"), for RS256
/// signatures (RSASSA-PKCS1-v1_5 with SHA-256), as GitHub App JWTs need.
///
/// Threading: immutable after init; OpenSSL's EVP_PKEY may be used for signing from several threads.
public final class RSAPrivateKey: @unchecked Sendable {
    private let key: OpaquePointer

    public init(pem: String) throws(CryptoError) {
        let bytes = Array(pem.utf8)
        guard let bio = bytes.withUnsafeBytes({ BIO_new_mem_buf($0.baseAddress, Int32($0.count)) }) else {
            throw .openSSL("BIO_new_mem_buf failed")
        }
        defer { BIO_free(bio) }
        // A refusing passphrase callback: without one, OpenSSL would prompt on the terminal (or read
        // standard input) for an encrypted key. Encrypted keys are refused instead.
        guard let read = PEM_read_bio_PrivateKey(bio, nil, { _, _, _, _ in -1 }, nil) else {
            throw .badPrivateKey(CryptoError.lastOpenSSLError())
        }
        guard EVP_PKEY_get_base_id(read) == EVP_PKEY_RSA else {
            EVP_PKEY_free(read)
            throw .notRSAKey
        }
        key = read
    }

    deinit { EVP_PKEY_free(key) }

    /// The RS256 signature of `message`.
    public func signSHA256(_ message: [UInt8]) throws(CryptoError) -> [UInt8] {
        guard let context = EVP_MD_CTX_new() else { throw .openSSL("EVP_MD_CTX_new failed") }
        defer { EVP_MD_CTX_free(context) }
        guard EVP_DigestSignInit(context, nil, EVP_sha256(), nil, key) == 1 else {
            throw .openSSL(CryptoError.lastOpenSSLError())
        }
        var length = 0
        guard EVP_DigestSign(context, nil, &length, message, message.count) == 1 else {
            throw .openSSL(CryptoError.lastOpenSSLError())
        }
        var signature = [UInt8](repeating: 0, count: length)
        guard EVP_DigestSign(context, &signature, &length, message, message.count) == 1 else {
            throw .openSSL(CryptoError.lastOpenSSLError())
        }
        return Array(signature.prefix(length))
    }
}
