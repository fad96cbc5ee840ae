import RuntimeAPI

/// Why a provider call failed, with the status it answers (Apps/DISPATCH.md: 400 bad input, 401 bad
/// HMAC, 404 unknown sandbox, 409 not ready yet, 503 secret not configured or no room, 500 failures).
enum ProviderError: Error, CustomStringConvertible {
    case badRequest(String)
    case unauthorized(String)
    case notFound(String)
    case methodNotAllowed(String)
    /// The sandbox is not in a state for this (still starting).
    case conflict(String)
    case unavailable(String)
    case failed(String)

    var status: Int {
        switch self {
        case .badRequest: 400
        case .unauthorized: 401
        case .notFound: 404
        case .methodNotAllowed: 405
        case .conflict: 409
        case .unavailable: 503
        case .failed: 500
        }
    }

    var description: String {
        switch self {
        case .badRequest(let text), .unauthorized(let text), .notFound(let text), .methodNotAllowed(let text),
             .conflict(let text), .unavailable(let text), .failed(let text):
            text
        }
    }
}

/// The response envelope of the original provider: `{"success": bool, "data"?: {...}, "error"?: "text"}`.
enum Envelope {
    static func success(_ data: JSON) -> Response {
        respond(200, ["success": true, "data": data])
    }

    static func failure(_ error: ProviderError) -> Response {
        respond(error.status, ["success": false, "error": .string(error.description)])
    }

    private static func respond(_ status: Int, _ body: JSON) -> Response {
        Response(status: status, headers: ["Content-Type": "application/json", "Cache-Control": "no-store"],
                 body: .bytes(body.bytes))
    }
}
