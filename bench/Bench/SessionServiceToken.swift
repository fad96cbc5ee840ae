import Foundation
import RuntimeCrypto

/// Dispatch's service-to-service bearer (Apps/Shared/InternalToken.swift, reference §1.15):
/// `<unixMillis>.<hex(HMAC-SHA256(key: secret, message: "<unixMillis>"))>`, valid within
/// `maxSkewMilliseconds` of now. The bench makes them for its REST calls (`INTERNAL_CALLBACK_SECRET`) and
/// checks them on the provider calls it answers (`SANDBOX_API_SECRET`).
enum SessionServiceToken {
    /// How far a token's timestamp may be from now (the control plane's own window).
    static let maxSkewMilliseconds: Int64 = 5 * 60 * 1000

    enum Failure: Error, CustomStringConvertible {
        case missing
        case malformed
        case expired
        case badSignature
        var description: String {
            switch self {
            case .missing: "no Authorization bearer"
            case .malformed: "malformed service token"
            case .expired: "service token expired or from the future"
            case .badSignature: "bad service token signature"
            }
        }
    }

    static func now() -> Int64 { Int64(Date().timeIntervalSince1970 * 1000) }

    /// A fresh `Authorization` value.
    static func header(secret: String) -> String {
        let stamp = String(now())
        return "Bearer " + stamp + "." + Hex.encode(Digest.hmacSHA256(key: Array(secret.utf8), Array(stamp.utf8)))
    }

    /// Checks an `Authorization` value.
    static func verify(header: String?, secret: String) throws(Failure) {
        guard let header, header.hasPrefix("Bearer ") else { throw .missing }
        let token = header.dropFirst("Bearer ".count)
        guard let dot = token.firstIndex(of: "."), let stamp = Int64(token[..<dot]),
              let signature = Hex.decode(String(token[token.index(after: dot)...])) else { throw .malformed }
        guard abs(now() - stamp) <= maxSkewMilliseconds else { throw .expired }
        let expected = Digest.hmacSHA256(key: Array(secret.utf8), Array(token[..<dot].utf8))
        guard Digest.constantTimeEqual(expected, signature) else { throw .badSignature }
    }

    /// Reads a secret file the way `runtime secret put` reads standard input: one trailing newline dropped.
    static func readSecret(path: String, flag: String) throws -> String {
        guard let data = FileManager.default.contents(atPath: path) else {
            throw SessionBenchFailure.secretFile(flag: flag, path: path, reason: "cannot be read")
        }
        var value = String(decoding: data, as: UTF8.self)
        if value.hasSuffix("\n") { value.removeLast() }
        guard !value.isEmpty else { throw SessionBenchFailure.secretFile(flag: flag, path: path, reason: "is empty") }
        return value
    }
}
