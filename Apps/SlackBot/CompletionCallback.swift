import RuntimeAPI

/// The control plane's "a prompt from Slack finished" callback (reference §1.15, `notifySlack` in
/// Apps/ControlPlane/SessionSandbox.swift): `{sessionId, messageId, success, timestamp, context,
/// signature}`, where the signature is hex HMAC-SHA256 with INTERNAL_CALLBACK_SECRET over exactly
/// `{"sessionId":…,"messageId":…,"success":…,"timestamp":…,"context":…}` (that key order, compact,
/// `context` with its keys sorted: how the control plane's `JSON.text` writes it) and the timestamp is
/// Unix milliseconds.
struct CompletionCallback: Sendable {
    var sessionID: String
    var messageID: String
    var success: Bool
    var timestamp: Int64
    /// The `callbackContext` the bot sent with the prompt.
    var context: JSON
    var signature: String

    enum Failure: Error, Equatable, CustomStringConvertible {
        case stale
        case badSignature
        var description: String {
            switch self {
            case .stale: "callback timestamp is more than \(Lifetimes.callbackWindowMilliseconds / 1000) s from now"
            case .badSignature: "bad callback signature"
            }
        }
    }

    /// The parsed body, or a 400 naming the field that is missing or wrong.
    init(_ body: JSON) throws {
        guard let sessionID = body["sessionId"]?.string, Identifiers.isSessionID(sessionID) else {
            throw HTTPError(400, "sessionId: expected a session id")
        }
        guard let messageID = body["messageId"]?.string, Identifiers.isSessionID(messageID) else {
            throw HTTPError(400, "messageId: expected a message id")
        }
        guard let success = body["success"]?.bool else { throw HTTPError(400, "success: expected a boolean") }
        guard case .int(let timestamp)? = body["timestamp"] else { throw HTTPError(400, "timestamp: expected integer milliseconds") }
        guard let context = body["context"], context.object != nil else { throw HTTPError(400, "context: expected an object") }
        guard let signature = body["signature"]?.string, signature.utf8.count == 64 else {
            throw HTTPError(400, "signature: expected 64 hex digits")
        }
        self.sessionID = sessionID
        self.messageID = messageID
        self.success = success
        self.timestamp = timestamp
        self.context = context
        self.signature = signature
    }

    /// The exact text the control plane signed. The ids are checked to need no escaping, and `context`
    /// is written back with the same canonical writer (keys sorted) the control plane used.
    var signedText: String {
        "{\"sessionId\":\(JSON.string(sessionID).text),\"messageId\":\(JSON.string(messageID).text),"
            + "\"success\":\(success),\"timestamp\":\(timestamp),\"context\":\(context.text)}"
    }

    /// Checks the timestamp window, then the MAC in constant time.
    func verify(secret: String, now: Int64 = WallClock.milliseconds()) throws(Failure) {
        guard abs(now - timestamp) <= Lifetimes.callbackWindowMilliseconds else { throw .stale }
        guard let given = Encoding.hexDecode(signature) else { throw .badSignature }
        let expected = Crypto.hmacSHA256(key: Array(secret.utf8), signedText)
        guard Crypto.constantTimeEqual(expected, given) else { throw .badSignature }
    }

    /// Where to post: the thread the request came from.
    var channel: String? { context["channel"]?.string.flatMap { Identifiers.isSlackID($0) ? $0 : nil } }
    var threadTs: String? { context["threadTs"]?.string.flatMap { Identifiers.isSlackID($0) ? $0 : nil } }
    var repoFullName: String? { context["repoFullName"]?.string }
    var model: String? { context["model"]?.string }
}
