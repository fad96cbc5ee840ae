import RuntimeAPI

/// One call to another Dispatch app's REST API over a service binding (in-process, no network), with a
/// fresh service token (`InternalToken`). The callers map a failed answer to their own errors.
enum ServiceCall {
    struct Answer: Sendable {
        let status: Int
        /// The body parsed, when it is JSON.
        let json: JSON?
        let bytes: [UInt8]

        var succeeded: Bool { (200..<300).contains(status) }
        /// The answer's `error` field, else the start of its body.
        var errorMessage: String { json?["error"]?.string ?? String(decoding: bytes.prefix(200), as: UTF8.self) }
    }

    /// Largest answer read by default.
    static let defaultMaxAnswerBytes = 8 * 1024 * 1024

    static func send(_ service: any ServiceBinding, secret: String, _ method: String, _ path: String, query: String? = nil,
                     body: JSON? = nil, maxAnswerBytes: Int = defaultMaxAnswerBytes) async throws -> Answer {
        var headers: Headers = ["Host": "internal", "Authorization": InternalToken.header(secret: secret)]
        if body != nil { headers.set("Content-Type", "application/json") }
        let request = Request(method: method, url: URLParts(scheme: "https", host: "internal", path: path, query: query),
                              headers: headers, body: body?.bytes ?? [])
        let response = try await service.fetch(request)
        let bytes = try await response.bodyBytes(limit: maxAnswerBytes)
        return Answer(status: response.status, json: try? JSON.parse(bytes), bytes: bytes)
    }
}
