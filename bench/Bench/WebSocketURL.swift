import RuntimeIO

/// A ws:// URL split into what the WebSocket load generator needs. Only plain ws:// (the bench targets
/// loopback servers and has no TLS).
struct WebSocketURL: CustomStringConvertible, Sendable {
    let text: String
    /// The Host header: the authority as written.
    let hostHeader: String
    let address: SocketAddress
    /// The path without the query, e.g. "/room/bench".
    let path: String
    /// The query with its "?", or "".
    let query: String

    enum ParseError: Error, CustomStringConvertible {
        case unsupported(String)
        case badAddress(String, SocketAddress.ParseError)
        var description: String {
            switch self {
            case .unsupported(let text): "url \"\(text)\": expected ws://host:port/path"
            case .badAddress(let text, let error): "url \"\(text)\": \(error)"
            }
        }
    }

    init(_ text: String) throws(ParseError) {
        guard text.hasPrefix("ws://") else { throw .unsupported(text) }
        let rest = text.dropFirst("ws://".count)
        let slash = rest.firstIndex { $0 == "/" || $0 == "?" } ?? rest.endIndex
        let authority = String(rest[..<slash])
        guard !authority.isEmpty else { throw .unsupported(text) }
        let target = rest[slash...]
        let question = target.firstIndex(of: "?") ?? target.endIndex
        let path = String(target[..<question])
        self.path = path.isEmpty ? "/" : path
        query = String(target[question...])
        hostHeader = authority
        let hasPort = authority.contains(":") && !authority.hasSuffix("]")
        do {
            address = try SocketAddress(hasPort ? authority : authority + ":80")
        } catch {
            throw .badAddress(text, error)
        }
        self.text = text
    }

    private init(text: String, hostHeader: String, address: SocketAddress, path: String, query: String) {
        self.text = text
        self.hostHeader = hostHeader
        self.address = address
        self.path = path
        self.query = query
    }

    /// The request target of the upgrade request: path and query.
    var requestTarget: String { path + query }

    /// The same URL with `suffix` appended to its path, before the query: "/room/idle" + "-3" is
    /// "/room/idle-3".
    func appendingToPath(_ suffix: String) -> WebSocketURL {
        WebSocketURL(text: "ws://\(hostHeader)\(path)\(suffix)\(query)", hostHeader: hostHeader, address: address,
                     path: path + suffix, query: query)
    }

    var description: String { text }
}
