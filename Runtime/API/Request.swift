/// An incoming HTTP request as a worker sees it. The body is fully received before `fetch` runs
/// (bounded by the server's body limit).
public struct Request: Sendable {
    public var method: String
    public var url: URLParts
    public var headers: Headers
    public var body: [UInt8]
    /// "ip:port" of the client, when the request came from the network.
    public var remoteAddress: String?

    public init(method: String = "GET", url: URLParts, headers: Headers = Headers(), body: [UInt8] = [],
                remoteAddress: String? = nil) {
        self.method = method
        self.url = url
        self.headers = headers
        self.body = body
        self.remoteAddress = remoteAddress
    }

    /// Builds a request from a path ("/a?b=c"), mostly for tests and service calls.
    public init(method: String = "GET", path: String, headers: Headers = Headers(), body: [UInt8] = []) {
        self.init(method: method, url: URLParts(target: path, hostHeader: headers["host"]), headers: headers,
                  body: body)
    }

    /// True when the client asks to upgrade to WebSocket (`Upgrade: websocket`). The server checks the
    /// rest of the handshake when the worker answers with `Response(webSocket:)`.
    public var isWebSocketUpgrade: Bool {
        headers.values(for: "upgrade").contains { value in
            value.split(separator: ",").contains { $0.trimmingSpaces.lowercased() == "websocket" }
        }
    }

    /// The body decoded as UTF-8 (invalid sequences are replaced).
    public var text: String { String(decoding: body, as: UTF8.self) }
}

extension Substring {
    fileprivate var trimmingSpaces: Substring {
        var text = self
        while text.first == " " || text.first == "\t" { text.removeFirst() }
        while text.last == " " || text.last == "\t" { text.removeLast() }
        return text
    }
}
