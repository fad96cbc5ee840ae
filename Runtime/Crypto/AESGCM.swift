import COpenSSL

/// AES-256-GCM from libcrypto: authenticated encryption for secrets and tokens at rest.
///
/// `seal` draws a fresh random 96-bit nonce per message; never reuse a nonce with the same key (GCM's
/// security depends on it). The sealed-box form is `nonce (12) || ciphertext || tag (16)`.
public enum AESGCM {
    public static let keyBytes = 32
    public static let nonceBytes = 12
    public static let tagBytes = 16

    /// Encrypts `plaintext` under `key` with `nonce`, binding `associatedData`; returns ciphertext and tag.
    public static func seal(_ plaintext: [UInt8], key: [UInt8], nonce: [UInt8], associatedData: [UInt8] = [])
        throws(CryptoError) -> (ciphertext: [UInt8], tag: [UInt8]) {
        try check(key: key, nonce: nonce)
        guard let context = EVP_CIPHER_CTX_new() else { throw .openSSL("EVP_CIPHER_CTX_new failed") }
        defer { EVP_CIPHER_CTX_free(context) }
        var ciphertext = [UInt8](repeating: 0, count: plaintext.count + 16)
        var tag = [UInt8](repeating: 0, count: tagBytes)
        var length: Int32 = 0
        var total: Int32 = 0
        guard EVP_EncryptInit_ex(context, EVP_aes_256_gcm(), nil, nil, nil) == 1,
              EVP_CIPHER_CTX_ctrl(context, EVP_CTRL_GCM_SET_IVLEN, Int32(nonceBytes), nil) == 1,
              EVP_EncryptInit_ex(context, nil, nil, key, nonce) == 1 else {
            throw .openSSL(CryptoError.lastOpenSSLError())
        }
        if !associatedData.isEmpty {
            guard EVP_EncryptUpdate(context, nil, &length, associatedData, Int32(associatedData.count)) == 1 else {
                throw .openSSL(CryptoError.lastOpenSSLError())
            }
        }
        let updated = ciphertext.withUnsafeMutableBufferPointer { out in
            EVP_EncryptUpdate(context, out.baseAddress, &length, plaintext, Int32(plaintext.count))
        }
        guard updated == 1 else { throw .openSSL(CryptoError.lastOpenSSLError()) }
        total = length
        let finished = ciphertext.withUnsafeMutableBufferPointer { out in
            EVP_EncryptFinal_ex(context, out.baseAddress! + Int(total), &length)
        }
        guard finished == 1 else { throw .openSSL(CryptoError.lastOpenSSLError()) }
        total += length
        guard EVP_CIPHER_CTX_ctrl(context, EVP_CTRL_GCM_GET_TAG, Int32(tagBytes), &tag) == 1 else {
            throw .openSSL(CryptoError.lastOpenSSLError())
        }
        return (Array(ciphertext.prefix(Int(total))), tag)
    }

    /// Decrypts and checks the tag; throws `authenticationFailed` for anything altered.
    public static func open(_ ciphertext: [UInt8], tag: [UInt8], key: [UInt8], nonce: [UInt8],
                            associatedData: [UInt8] = []) throws(CryptoError) -> [UInt8] {
        try check(key: key, nonce: nonce)
        guard tag.count == tagBytes else { throw .authenticationFailed }
        guard let context = EVP_CIPHER_CTX_new() else { throw .openSSL("EVP_CIPHER_CTX_new failed") }
        defer { EVP_CIPHER_CTX_free(context) }
        var plaintext = [UInt8](repeating: 0, count: ciphertext.count + 16)
        var length: Int32 = 0
        guard EVP_DecryptInit_ex(context, EVP_aes_256_gcm(), nil, nil, nil) == 1,
              EVP_CIPHER_CTX_ctrl(context, EVP_CTRL_GCM_SET_IVLEN, Int32(nonceBytes), nil) == 1,
              EVP_DecryptInit_ex(context, nil, nil, key, nonce) == 1 else {
            throw .openSSL(CryptoError.lastOpenSSLError())
        }
        if !associatedData.isEmpty {
            guard EVP_DecryptUpdate(context, nil, &length, associatedData, Int32(associatedData.count)) == 1 else {
                throw .authenticationFailed
            }
        }
        let updated = plaintext.withUnsafeMutableBufferPointer { out in
            EVP_DecryptUpdate(context, out.baseAddress, &length, ciphertext, Int32(ciphertext.count))
        }
        guard updated == 1 else { throw .authenticationFailed }
        let total = length
        var mutableTag = tag
        guard EVP_CIPHER_CTX_ctrl(context, EVP_CTRL_GCM_SET_TAG, Int32(tagBytes), &mutableTag) == 1 else {
            throw .openSSL(CryptoError.lastOpenSSLError())
        }
        let finished = plaintext.withUnsafeMutableBufferPointer { out in
            EVP_DecryptFinal_ex(context, out.baseAddress! + Int(total), &length)
        }
        ERR_clear_error()
        guard finished == 1 else { throw .authenticationFailed }
        return Array(plaintext.prefix(Int(total + length)))
    }

    /// `nonce || ciphertext || tag` with a fresh random nonce.
    public static func sealBox(_ plaintext: [UInt8], key: [UInt8], associatedData: [UInt8] = []) throws(CryptoError)
        -> [UInt8] {
        let nonce = SecureRandom.bytes(nonceBytes)
        let (ciphertext, tag) = try seal(plaintext, key: key, nonce: nonce, associatedData: associatedData)
        return nonce + ciphertext + tag
    }

    /// Opens what `sealBox` made.
    public static func openBox(_ box: [UInt8], key: [UInt8], associatedData: [UInt8] = []) throws(CryptoError)
        -> [UInt8] {
        guard box.count >= nonceBytes + tagBytes else { throw .malformedSealedBox }
        let nonce = Array(box.prefix(nonceBytes))
        let tag = Array(box.suffix(tagBytes))
        let ciphertext = Array(box[nonceBytes..<(box.count - tagBytes)])
        return try open(ciphertext, tag: tag, key: key, nonce: nonce, associatedData: associatedData)
    }

    private static func check(key: [UInt8], nonce: [UInt8]) throws(CryptoError) {
        guard key.count == keyBytes else { throw .badKeyLength(expected: keyBytes, got: key.count) }
        guard nonce.count == nonceBytes else { throw .badNonceLength(expected: nonceBytes, got: nonce.count) }
    }
}
