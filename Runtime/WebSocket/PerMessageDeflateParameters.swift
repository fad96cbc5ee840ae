/// The permessage-deflate parameters both ends agreed on: what the server's response carried (RFC 7692
/// §7.1). A parser and an encoder are built from them, each taking the half that applies to its role.
public struct PerMessageDeflateParameters: Sendable, Equatable {
    /// The extension's registered name.
    public static let extensionName = "permessage-deflate"
    /// The window both sides assume when a `...max_window_bits` parameter is absent.
    public static let defaultWindowBits = 15

    /// The server compresses every message on its own.
    public var serverNoContextTakeover: Bool
    /// The client compresses every message on its own.
    public var clientNoContextTakeover: Bool
    /// The server compresses with at most this window; nil (absent) means 15.
    public var serverMaxWindowBits: Int?
    /// The client compresses with at most this window; nil (absent) means 15.
    public var clientMaxWindowBits: Int?

    public init(serverNoContextTakeover: Bool = false, clientNoContextTakeover: Bool = false,
                serverMaxWindowBits: Int? = nil, clientMaxWindowBits: Int? = nil) {
        self.serverNoContextTakeover = serverNoContextTakeover
        self.clientNoContextTakeover = clientNoContextTakeover
        self.serverMaxWindowBits = serverMaxWindowBits
        self.clientMaxWindowBits = clientMaxWindowBits
    }

    /// The Sec-WebSocket-Extensions value of the server's response:
    /// "permessage-deflate; server_no_context_takeover; client_max_window_bits=10".
    public var headerValue: String { asExtension.headerValue }

    var asExtension: WebSocketExtension {
        var parameters: [WebSocketExtension.Parameter] = []
        if serverNoContextTakeover { parameters.append(.init(name: Name.serverNoContextTakeover, value: nil)) }
        if clientNoContextTakeover { parameters.append(.init(name: Name.clientNoContextTakeover, value: nil)) }
        if let bits = serverMaxWindowBits { parameters.append(.init(name: Name.serverMaxWindowBits, value: "\(bits)")) }
        if let bits = clientMaxWindowBits { parameters.append(.init(name: Name.clientMaxWindowBits, value: "\(bits)")) }
        return WebSocketExtension(name: Self.extensionName, parameters: parameters)
    }

    /// The parameter names of RFC 7692 §7.1.
    enum Name {
        static let serverNoContextTakeover = "server_no_context_takeover"
        static let clientNoContextTakeover = "client_no_context_takeover"
        static let serverMaxWindowBits = "server_max_window_bits"
        static let clientMaxWindowBits = "client_max_window_bits"
    }

    /// The window the peer of `role` compresses with, so the one `role`'s decompressor needs.
    func incomingWindowBits(as role: WebSocketRole) -> Int {
        (role == .server ? clientMaxWindowBits : serverMaxWindowBits) ?? Self.defaultWindowBits
    }

    /// Whether the peer of `role` starts every message afresh, so `role` may forget the window too.
    func incomingNoContextTakeover(as role: WebSocketRole) -> Bool {
        role == .server ? clientNoContextTakeover : serverNoContextTakeover
    }

    /// The largest window `role` may compress with.
    func outgoingWindowBits(as role: WebSocketRole) -> Int {
        (role == .server ? serverMaxWindowBits : clientMaxWindowBits) ?? Self.defaultWindowBits
    }

    /// Whether `role` must compress every message on its own.
    func outgoingNoContextTakeover(as role: WebSocketRole) -> Bool {
        role == .server ? serverNoContextTakeover : clientNoContextTakeover
    }
}
