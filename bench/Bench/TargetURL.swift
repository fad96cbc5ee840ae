import RuntimeIO

/// An http:// URL split into what the load generator needs.
struct TargetURL: CustomStringConvertible {
    let text: String
    let hostHeader: String
    let address: SocketAddress
    let path: String

    enum ParseError: Error, CustomStringConvertible {
        case unsupported(String)
        var description: String {
            switch self {
            case .unsupported(let text): "url \"\(text)\": expected http://host:port/path"
            }
        }
    }

    init(_ text: String) throws {
        guard text.hasPrefix("http://") else { throw ParseError.unsupported(text) }
        let rest = text.dropFirst("http://".count)
        let slash = rest.firstIndex(of: "/") ?? rest.endIndex
        let authority = String(rest[..<slash])
        guard !authority.isEmpty else { throw ParseError.unsupported(text) }
        path = slash == rest.endIndex ? "/" : String(rest[slash...])
        hostHeader = authority
        let hasPort = authority.contains(":") && !authority.hasSuffix("]")
        address = try SocketAddress(hasPort ? authority : authority + ":80")
        self.text = text
    }

    var description: String { text }
}
