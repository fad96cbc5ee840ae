import RuntimeAPI

/// Slack's request signature (version `v0`): `X-Slack-Signature: v0=<hex HMAC-SHA256>` over
/// `v0:{X-Slack-Request-Timestamp}:{raw body}`, keyed with the app's signing secret. Requests whose
/// timestamp is more than `Lifetimes.slackSignatureWindowSeconds` from now are refused, so a captured
/// request cannot be replayed later; the MAC is compared in constant time.
enum SlackSignature {
    static let version = "v0"
    /// Longest header value looked at (a signature is 67 bytes).
    static let maxHeaderBytes = 128

    enum Failure: Error, Equatable, CustomStringConvertible {
        case missingHeaders
        case malformedTimestamp
        case stale
        case badSignature
        var description: String {
            switch self {
            case .missingHeaders: "missing X-Slack-Signature or X-Slack-Request-Timestamp"
            case .malformedTimestamp: "X-Slack-Request-Timestamp is not a Unix time in seconds"
            case .stale: "X-Slack-Request-Timestamp is more than \(Lifetimes.slackSignatureWindowSeconds) s from now"
            case .badSignature: "bad Slack signature"
            }
        }
    }

    /// What every endpoint Slack calls checks first: the bot is configured (503), the body is within
    /// `bodyLimit` (413), and Slack signed it (401). Returns the Slack client to answer with.
    static func verifiedClient(for request: Request, config: BotConfig, bodyLimit: Int) throws -> SlackAPI {
        guard let secret = config.slackSigningSecret, let slack = SlackAPI(config) else {
            throw HTTPError(503, BotConfig.slackNotConfigured)
        }
        try RequestBody.requireSize(request, limit: bodyLimit)
        do {
            try verify(request, secret: secret)
        } catch {
            throw HTTPError(401, "unauthorized: \(error)")
        }
        return slack
    }

    /// Checks the request's signature headers against its raw body.
    static func verify(_ request: Request, secret: String, nowSeconds: Int64 = WallClock.milliseconds() / 1000)
        throws(Failure) {
        guard let timestamp = request.headers["x-slack-request-timestamp"], let signature = request.headers["x-slack-signature"],
              timestamp.utf8.count <= maxHeaderBytes, signature.utf8.count <= maxHeaderBytes else { throw .missingHeaders }
        guard timestamp.utf8.count <= 12, timestamp.utf8.allSatisfy({ $0 >= 0x30 && $0 <= 0x39 }), let seconds = Int64(timestamp) else {
            throw .malformedTimestamp
        }
        guard abs(nowSeconds - seconds) <= Lifetimes.slackSignatureWindowSeconds else { throw .stale }
        guard signature.hasPrefix(version + "="), let given = Encoding.hexDecode(String(signature.dropFirst(version.count + 1))) else {
            throw .badSignature
        }
        let expected = Crypto.hmacSHA256(key: Array(secret.utf8), Array("\(version):\(timestamp):".utf8) + request.body)
        guard Crypto.constantTimeEqual(expected, given) else { throw .badSignature }
    }
}
