import RuntimeAPI

/// The cookies this app sets and reads.
enum Cookies {
    /// The signed-in session's token.
    static let session = "dispatch_session"
    /// A started sign-in's state (ties the OAuth callback or the dev form to this browser).
    static let signIn = "dispatch_sign_in"
    /// Longest `Cookie` header read; anything past it is ignored.
    static let maxHeaderBytes = 8 * 1024

    /// The value of cookie `name` in the request, or nil.
    static func value(_ name: String, in request: Request) -> String? {
        for header in request.headers.values(for: "cookie") where header.utf8.count <= maxHeaderBytes {
            for pair in header.split(separator: ";") {
                let trimmed = pair.drop { $0 == " " }
                guard let equals = trimmed.firstIndex(of: "="), trimmed[..<equals] == name else { continue }
                let value = trimmed[trimmed.index(after: equals)...]
                return value.isEmpty ? nil : String(value)
            }
        }
        return nil
    }

    /// A `Set-Cookie` value: HttpOnly, SameSite=Lax, Path=/, Secure when `secure`.
    static func set(_ name: String, _ value: String, maxAgeSeconds: Int64, secure: Bool) -> String {
        var text = "\(name)=\(value); Path=/; Max-Age=\(maxAgeSeconds); HttpOnly; SameSite=Lax"
        if secure { text += "; Secure" }
        return text
    }

    /// A `Set-Cookie` value that removes the cookie.
    static func clear(_ name: String, secure: Bool) -> String { set(name, "", maxAgeSeconds: 0, secure: secure) }
}

/// `application/x-www-form-urlencoded` bodies.
enum Form {
    /// Largest form body accepted (413 past it).
    static let maxBodyBytes = 64 * 1024
    /// Most fields read from one form.
    static let maxFields = 64

    /// True when the body says it is an `application/x-www-form-urlencoded` form.
    static func isForm(_ request: Request) -> Bool {
        (request.headers["content-type"]?.lowercased() ?? "").hasPrefix("application/x-www-form-urlencoded")
    }

    static func fields(_ request: Request) throws -> [String: String] {
        guard request.body.count <= maxBodyBytes else { throw HTTPError(413, "form body over \(maxBodyBytes) bytes") }
        guard isForm(request) else {
            throw HTTPError(415, "expected an application/x-www-form-urlencoded form")
        }
        var fields: [String: String] = [:]
        let pairs = String(decoding: request.body, as: UTF8.self).split(separator: "&")
        guard pairs.count <= maxFields else { throw HTTPError(400, "more than \(maxFields) form fields") }
        for pair in pairs {
            let parts = pair.split(separator: "=", maxSplits: 1, omittingEmptySubsequences: false)
            let name = PercentDecoding.decode(parts[0], plusIsSpace: true)
            let value = parts.count > 1 ? PercentDecoding.decode(parts[1], plusIsSpace: true) : ""
            if fields[name] == nil { fields[name] = value }
        }
        return fields
    }
}

/// HTML escaping for text and attribute values.
enum HTML {
    static func escape(_ text: String) -> String {
        var out = ""
        out.reserveCapacity(text.utf8.count)
        for character in text {
            switch character {
            case "&": out += "&amp;"
            case "<": out += "&lt;"
            case ">": out += "&gt;"
            case "\"": out += "&quot;"
            case "'": out += "&#39;"
            default: out.append(character)
            }
        }
        return out
    }
}
