/// Where an app answers: an optional host and a path, the path either exact or a prefix ending in `*`.
///
/// `/api/*` (any host, paths under /api/), `/health` (exactly), `chat.example.com/*` (that host),
/// `*.example.com/*` (its subdomains), `*` (everything). A `*` may only end the path, or begin the host
/// as `*.`; the more specific of two matching routes wins (a host before none, then the longer path).
public struct RoutePattern: Sendable, Equatable, Hashable, Codable, CustomStringConvertible {
    /// nil: any host. A leading "*." matches subdomains.
    public let host: String?
    public let path: String
    public let isPrefix: Bool

    public struct Invalid: Error {
        public let reason: String
    }

    public init(_ text: String) throws(Invalid) {
        guard !text.isEmpty else { throw Invalid(reason: "empty") }
        guard !text.contains("://") else { throw Invalid(reason: "leave out the scheme (http://, https://)") }
        if text == "*" {
            host = nil
            path = "/"
            isPrefix = true
            return
        }
        let hostPart: Substring?
        let pathPart: Substring
        if text.hasPrefix("/") {
            hostPart = nil
            pathPart = Substring(text)
        } else if let slash = text.firstIndex(of: "/") {
            hostPart = text[..<slash]
            pathPart = text[slash...]
        } else {
            throw Invalid(reason: "a route is a path (/api/*) or host/path (example.com/*)")
        }
        if let hostPart {
            let bare = hostPart.hasPrefix("*.") ? hostPart.dropFirst(2) : hostPart
            guard !bare.isEmpty, !bare.contains("*"),
                  bare.allSatisfy({ $0.isLetter || $0.isNumber || $0 == "-" || $0 == "." || $0 == ":" }) else {
                throw Invalid(reason: "bad host \"\(hostPart)\" (a * may only begin it, as *.)")
            }
            host = hostPart.lowercased()
        } else {
            host = nil
        }
        if let star = pathPart.firstIndex(of: "*") {
            guard pathPart.index(after: star) == pathPart.endIndex else {
                throw Invalid(reason: "a wildcard must end the pattern")
            }
            path = String(pathPart[..<star])
            isPrefix = true
        } else {
            path = String(pathPart)
            isPrefix = false
        }
    }

    public var description: String { (host ?? "") + path + (isPrefix ? "*" : "") }

    public init(from decoder: any Decoder) throws {
        let text = try decoder.singleValueContainer().decode(String.self)
        do {
            self = try RoutePattern(text)
        } catch {
            throw DecodingError.dataCorrupted(.init(codingPath: decoder.codingPath, debugDescription: error.reason))
        }
    }

    public func encode(to encoder: any Encoder) throws {
        var container = encoder.singleValueContainer()
        try container.encode(description)
    }

    /// Whether a request for `host` (without port, lowercased) and `path` falls under this route.
    public func matches(host requestHost: String, path requestPath: String) -> Bool {
        if let host {
            if host.hasPrefix("*.") {
                guard requestHost.hasSuffix(host.dropFirst(1)) else { return false }
            } else if host != requestHost {
                return false
            }
        }
        return isPrefix ? requestPath.hasPrefix(path) : requestPath == path
    }

    /// Orders matching routes: a host beats none, an exact path beats a prefix, a longer prefix beats a shorter.
    public var specificity: Int {
        (host == nil ? 0 : 1_000_000) + (isPrefix ? 0 : 500_000) + path.utf8.count
    }
}
