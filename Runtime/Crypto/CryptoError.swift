import COpenSSL

/// Why a cryptographic operation was refused. Never carries key material.
public enum CryptoError: Error, CustomStringConvertible, Equatable {
    case badKeyLength(expected: Int, got: Int)
    case badNonceLength(expected: Int, got: Int)
    /// The ciphertext or its tag was altered, or the key, nonce or associated data differ.
    case authenticationFailed
    case malformedSealedBox
    /// The PEM text is not a private key OpenSSL can read (the reason is OpenSSL's).
    case badPrivateKey(String)
    case notRSAKey
    case openSSL(String)

    public var description: String {
        switch self {
        case .badKeyLength(let expected, let got): "crypto: key must be \(expected) bytes, got \(got)"
        case .badNonceLength(let expected, let got): "crypto: nonce must be \(expected) bytes, got \(got)"
        case .authenticationFailed: "crypto: authentication failed (wrong key, or the data was altered)"
        case .malformedSealedBox: "crypto: sealed box too short or malformed"
        case .badPrivateKey(let reason): "crypto: cannot read private key: \(reason)"
        case .notRSAKey: "crypto: the private key is not an RSA key"
        case .openSSL(let reason): "crypto: OpenSSL: \(reason)"
        }
    }

    /// OpenSSL's most recent (most specific) error as text, and the queue cleared.
    static func lastOpenSSLError() -> String {
        let code = ERR_peek_last_error()
        ERR_clear_error()
        guard code != 0 else { return "unknown error" }
        var buffer = [CChar](repeating: 0, count: 256)
        ERR_error_string_n(code, &buffer, buffer.count)
        return String(decoding: buffer.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self)
    }
}
