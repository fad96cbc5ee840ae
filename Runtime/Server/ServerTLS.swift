import RuntimeHTTP
import RuntimeIO
import RuntimeTLS

/// TLS on the listener (`runtime serve --tls-cert FILE --tls-key FILE`): every accepted socket is
/// wrapped in a server `TLSStream` before HTTP sees it, so https and wss share the plain path's code.
enum ServerTLS {
    /// What a plain-HTTP client sent to the TLS port reads instead of a TLS alert it cannot parse.
    static let plainHTTPRefusal: [UInt8] = {
        let text = "This port speaks HTTPS: use an https:// (or wss://) URL.\n"
        return Array(("HTTP/1.1 400 Bad Request\r\nContent-Type: text/plain; charset=utf-8\r\n"
            + "Content-Length: \(text.utf8.count)\r\nConnection: close\r\n\r\n" + text).utf8)
    }()

    /// The server context, made once for all loops; nil without TLS. Throws naming the file at fault.
    static func context(for config: ServerConfig) throws(TLSError) -> TLSContext? {
        guard var tls = config.tls else { return nil }
        if tls.plainHTTPRefusal == nil { tls.plainHTTPRefusal = plainHTTPRefusal }
        return try TLSContext(server: tls)
    }

    /// The stream HTTP serves an accepted descriptor over. Runs on `loop`.
    static func stream(accepted fd: Int32, on loop: Loop, tls: TLSContext?) -> any ByteStream {
        let socket = StreamSocket(loop: loop, fd: fd)
        guard let tls else { return socket }
        return TLSStream(accepting: socket, context: tls)
    }
}

extension ServerConfig {
    /// The HTTP settings of the listener's connections: `Request.url.scheme` is "https" with TLS on.
    var listenerHTTP: HTTPServerConfig {
        var http = self.http
        if tls != nil { http.scheme = "https" }
        return http
    }

    /// The URL scheme the listener serves.
    public var listenerScheme: String { tls == nil ? "http" : "https" }
}
