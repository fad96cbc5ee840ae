import Foundation

/// A `control_plane_url` checked against `ALLOWED_CONTROL_PLANE_HOSTS` (reference §1.15: the allowlist
/// keeps the provider from pointing sandboxes, and their tokens, at arbitrary hosts). Only
/// `http(s)://host[:port][/path]` is accepted (a path when the control plane answers under a prefix,
/// such as `/api`); the bridge gets the normalised `scheme://host:port[/path]`.
struct ControlPlaneURL: Sendable, Equatable {
    var scheme: String
    /// Lowercased; IPv6 literals keep their brackets.
    var host: String
    var port: Int
    /// Empty, or a path prefix such as "/api" (no trailing slash).
    var path: String = ""

    /// Longest URL looked at.
    static let maxBytes = 2048
    /// Most allowlist entries.
    static let maxAllowedHosts = 64

    /// One allowlist entry: a host, and a port or any port.
    struct AllowedHost: Sendable, Equatable {
        var host: String
        var port: Int?
    }

    struct Invalid: Error, CustomStringConvertible {
        let description: String
    }

    var text: String { "\(scheme)://\(host):\(port)\(path)" }

    init(parsing text: String) throws(Invalid) {
        guard text.utf8.count <= Self.maxBytes else { throw Invalid(description: "longer than \(Self.maxBytes) bytes") }
        guard let components = URLComponents(string: text), let scheme = components.scheme?.lowercased() else {
            throw Invalid(description: "\"\(text)\" is not a URL")
        }
        guard scheme == "http" || scheme == "https" else { throw Invalid(description: "scheme must be http or https, not \(scheme)") }
        guard components.user == nil, components.password == nil else { throw Invalid(description: "must not carry credentials") }
        guard components.query == nil, components.fragment == nil else {
            throw Invalid(description: "must be scheme://host[:port][/path] with no query or fragment")
        }
        var path = components.path
        while path.hasSuffix("/") { path.removeLast() }
        guard path.isEmpty || path.allSatisfy({ $0.isASCII && ($0.isLetter || $0.isNumber || "/-._~".contains($0)) }),
              !path.contains("//"), !path.split(separator: "/").contains(where: { $0 == "." || $0 == ".." }) else {
            throw Invalid(description: "path \"\(components.path)\" may hold only letters, digits and -._~ segments")
        }
        guard let host = components.host?.lowercased(), !host.isEmpty else { throw Invalid(description: "has no host") }
        let port = components.port ?? (scheme == "https" ? 443 : 80)
        guard (1...65535).contains(port) else { throw Invalid(description: "port \(port) is out of range") }
        self.scheme = scheme
        self.host = host.contains(":") && !host.hasPrefix("[") ? "[\(host)]" : host
        self.port = port
        self.path = path
    }

    /// `host[:port]` entries, comma-separated; blanks are skipped. Empty allows nothing.
    static func parseAllowList(_ text: String) throws(Invalid) -> [AllowedHost] {
        var entries: [AllowedHost] = []
        for item in text.split(separator: ",") {
            let entry = item.trimmingCharacters(in: .whitespaces).lowercased()
            if entry.isEmpty { continue }
            var host = entry
            var port: Int?
            if let colon = entry.lastIndex(of: ":"), !entry.hasSuffix("]") {
                guard let number = Int(entry[entry.index(after: colon)...]), (1...65535).contains(number) else {
                    throw Invalid(description: "\"\(entry)\" has a bad port")
                }
                host = String(entry[..<colon])
                port = number
            }
            guard !host.isEmpty, !host.contains("/") else { throw Invalid(description: "\"\(entry)\" is not host[:port]") }
            entries.append(AllowedHost(host: host, port: port))
        }
        guard entries.count <= maxAllowedHosts else { throw Invalid(description: "at most \(maxAllowedHosts) entries") }
        return entries
    }

    /// True when an entry names this host and this port (or any port).
    func isAllowed(by list: [AllowedHost]) -> Bool {
        list.contains { $0.host == host && ($0.port == nil || $0.port == port) }
    }
}
