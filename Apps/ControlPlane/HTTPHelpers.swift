import RuntimeAPI

/// Responses in the control plane's wire shape: JSON bodies, errors as `{"error": "..."}`, and the
/// permissive CORS of the original (reference §1.1) on every response.
enum Reply {
    static func json(_ value: JSON, status: Int = 200) -> Response {
        var headers = Headers()
        headers.set("Content-Type", "application/json")
        return withCORS(Response(status: status, headers: headers, body: .bytes(value.bytes)))
    }

    static func error(_ status: Int, _ message: String) -> Response {
        json(["error": .string(message)], status: status)
    }

    /// The answer to a CORS preflight.
    static func preflight() -> Response {
        var response = Response(status: 204)
        response.headers.set("Access-Control-Allow-Methods", "GET, POST, PUT, DELETE, OPTIONS")
        response.headers.set("Access-Control-Allow-Headers", "Content-Type, Authorization")
        response.headers.set("Access-Control-Max-Age", "86400")
        return withCORS(response)
    }

    static func withCORS(_ response: Response) -> Response {
        var response = response
        if response.status != 101 { response.headers.set("Access-Control-Allow-Origin", "*") }
        return response
    }
}

/// A request body as a JSON object, or a 400 that says what is wrong.
enum Body {
    static func object(_ request: Request, allowEmpty: Bool = false) throws -> JSON {
        guard request.body.count <= Limits.maxRequestBodyBytes else {
            throw HTTPError(413, "request body over \(Limits.maxRequestBodyBytes) bytes")
        }
        if request.body.isEmpty || request.body.allSatisfy({ $0 == 0x20 || $0 == 0x0a || $0 == 0x0d || $0 == 0x09 }) {
            if allowEmpty { return [:] }
            throw HTTPError(400, "expected a JSON object body")
        }
        let value: JSON
        do {
            value = try JSON.parse(request.body)
        } catch {
            throw HTTPError(400, "invalid JSON: \(error)")
        }
        guard value.object != nil else { throw HTTPError(400, "expected a JSON object body") }
        return value
    }
}

extension JSON {
    /// A required string field, at most `limit` bytes; 400 naming the field otherwise.
    func requiredString(_ key: String, limit: Int = Limits.maxNameBytes) throws -> String {
        guard let value = self[key]?.string, !value.trimmed.isEmpty else {
            throw HTTPError(400, "\(key) is required (a non-empty string)")
        }
        guard value.utf8.count <= limit else { throw HTTPError(400, "\(key): at most \(limit) bytes") }
        return value
    }

    /// An optional string field; a wrong type or length is a 400, absence or null is nil.
    func optionalString(_ key: String, limit: Int = Limits.maxNameBytes) throws -> String? {
        guard let field = self[key], !field.isNull else { return nil }
        guard let value = field.string else { throw HTTPError(400, "\(key): expected a string") }
        guard value.utf8.count <= limit else { throw HTTPError(400, "\(key): at most \(limit) bytes") }
        return value
    }

    func optionalInt(_ key: String) throws -> Int64? {
        guard let field = self[key], !field.isNull else { return nil }
        guard let value = field.int else { throw HTTPError(400, "\(key): expected an integer") }
        return value
    }
}

/// Random ids: `count` random bytes as lowercase hex (reference §1.14, `generateId`).
enum IDs {
    static func make(_ count: Int = 16) -> String { Encoding.hex(Crypto.randomBytes(count)) }
}
