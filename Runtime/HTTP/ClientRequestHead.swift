import RuntimeAPI

/// The head of an outbound request as bytes: request line, `Host`, the app's headers (minus the ones
/// the client owns), `User-Agent` and `Content-Length`. Pure; the client writes the result.
enum ClientRequestHead {
    /// Sent unless the app gives its own `User-Agent`.
    static let userAgent = "runtime"

    /// Headers the client writes itself or that describe one hop only (RFC 9110 §7.6.1); the app's
    /// values for them are dropped, so it cannot mis-frame the request or hijack the connection.
    static let ownedHeaders: Set<String> = [
        "host", "content-length", "transfer-encoding", "connection", "keep-alive", "te", "trailer",
        "upgrade", "proxy-connection",
    ]

    /// Methods that carry a body by definition: they get `Content-Length: 0` even without one, because
    /// some servers refuse a POST with no length at all (411).
    private static let methodsExpectingBody: Set<String> = ["POST", "PUT", "PATCH"]

    /// Throws `invalidRequest` for a method that is not a token, or a header name or value that could
    /// not be sent as one field (a CR, LF or NUL would split the request).
    static func encode(method: String, target: FetchTarget, headers: Headers, bodyCount: Int)
        throws(FetchError) -> [UInt8] {
        guard !method.isEmpty, method.utf8.allSatisfy(HTTPSyntax.isToken) else {
            throw .invalidRequest(url: target.url, reason: "method \"\(method)\" is not an HTTP token")
        }
        var out: [UInt8] = []
        out.reserveCapacity(256)
        append("\(method) \(target.requestTarget) HTTP/1.1\r\nHost: \(target.origin.authority)\r\n", to: &out)
        var hasUserAgent = false
        for field in headers {
            let lowered = field.name.lowercased()
            if ownedHeaders.contains(lowered) { continue }
            guard !field.name.isEmpty, field.name.utf8.allSatisfy(HTTPSyntax.isToken) else {
                throw .invalidRequest(url: target.url, reason: "header name \"\(field.name)\" is not an HTTP token")
            }
            guard field.value.utf8.allSatisfy(HTTPSyntax.isFieldValueByte) else {
                throw .invalidRequest(url: target.url,
                                      reason: "header \(field.name) has a control character (CR, LF or NUL) in its value")
            }
            if lowered == "user-agent" { hasUserAgent = true }
            append("\(field.name): \(field.value)\r\n", to: &out)
        }
        if !hasUserAgent { append("User-Agent: \(userAgent)\r\n", to: &out) }
        if bodyCount > 0 || methodsExpectingBody.contains(method) {
            append("Content-Length: \(bodyCount)\r\n", to: &out)
        }
        append("\r\n", to: &out)
        return out
    }

    private static func append(_ text: String, to out: inout [UInt8]) {
        var text = text
        text.withUTF8 { out.append(contentsOf: $0) }
    }
}
