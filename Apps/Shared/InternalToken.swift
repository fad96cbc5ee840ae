import RuntimeAPI

/// The service-to-service bearer token of the original (reference §1.15):
/// `<unixMillis>.<hex(HMAC-SHA256(key: secret, message: "<unixMillis>"))>`, valid for
/// `InternalToken.maxSkewMilliseconds` either side of now, the signature compared in constant time.
enum InternalToken {
    /// How far a token's timestamp may be from now.
    static let maxSkewMilliseconds: Int64 = 5 * 60 * 1000
    /// Longest `Authorization` value looked at (a token is ~80 bytes).
    static let maxHeaderBytes = 512

    enum Failure: Error, Equatable, CustomStringConvertible {
        case missing
        case malformed
        case expired
        case badSignature
        var description: String {
            switch self {
            case .missing: "missing Authorization bearer token"
            case .malformed: "malformed service token"
            case .expired: "service token expired or from the future"
            case .badSignature: "bad service token signature"
            }
        }
    }

    /// A fresh token for `Authorization: Bearer <token>`.
    static func make(secret: String, now: Int64 = WallClock.milliseconds()) -> String {
        let stamp = String(now)
        return stamp + "." + Encoding.hex(Crypto.hmacSHA256(key: Array(secret.utf8), stamp))
    }

    /// The `Authorization` header value for a fresh token.
    static func header(secret: String) -> String { "Bearer " + make(secret: secret) }

    /// Checks an `Authorization` header value.
    static func verify(header: String?, secret: String, now: Int64 = WallClock.milliseconds()) throws(Failure) {
        guard let header, header.utf8.count <= maxHeaderBytes else { throw .missing }
        guard header.hasPrefix("Bearer ") else { throw .missing }
        let token = header.dropFirst("Bearer ".count)
        guard let dot = token.firstIndex(of: "."), let stamp = Int64(token[..<dot]),
              let signature = Encoding.hexDecode(String(token[token.index(after: dot)...])) else {
            throw .malformed
        }
        guard abs(now - stamp) <= maxSkewMilliseconds else { throw .expired }
        let expected = Crypto.hmacSHA256(key: Array(secret.utf8), String(token[..<dot]))
        guard Crypto.constantTimeEqual(expected, signature) else { throw .badSignature }
    }
}
