/// The files of an app's `assets` folder (manifest field `assets`), read once when the version is
/// activated and kept in memory: templates, stylesheets, scripts, images. Paths are relative to the
/// folder, with `/` separators (`templates/page.html`).
public struct AppAssets: Sendable {
    /// One file.
    public struct File: Sendable {
        public let bytes: [UInt8]
        /// From the file's extension (`application/octet-stream` when unknown).
        public let contentType: String
        /// A strong validator (the runtime uses the first 16 bytes of the content's SHA-256, hex, quoted).
        public let etag: String

        public var text: String { String(decoding: bytes, as: UTF8.self) }

        public init(bytes: [UInt8], contentType: String, etag: String) {
            self.bytes = bytes
            self.contentType = contentType
            self.etag = etag
        }
    }

    public let files: [String: File]

    public init(files: [String: File] = [:]) { self.files = files }

    public func file(_ path: String) -> File? { files[path] }

    /// The file's text, or nil when there is no such file.
    public func text(_ path: String) -> String? { files[path]?.text }

    /// A response for `path` honouring `If-None-Match` (304 when it matches); nil when there is no such
    /// file. `cacheControl` goes out as is.
    public func response(_ path: String, request: Request, cacheControl: String = "public, max-age=300") -> Response? {
        guard let file = files[path] else { return nil }
        let headers: Headers = ["Content-Type": file.contentType, "ETag": file.etag, "Cache-Control": cacheControl]
        if let tags = request.headers["if-none-match"],
           tags.split(separator: ",").contains(where: { $0.trimmingSpaces() == file.etag || $0.trimmingSpaces() == "*" }) {
            return Response(status: 304, headers: headers)
        }
        return Response(status: 200, headers: headers, body: .bytes(file.bytes))
    }

    /// The media type for a file name's extension.
    public static func contentType(forPath path: String) -> String {
        let name = path.split(separator: "/").last ?? ""
        guard let dot = name.lastIndex(of: ".") else { return "application/octet-stream" }
        switch name[name.index(after: dot)...].lowercased() {
        case "html", "htm": return "text/html; charset=utf-8"
        case "css": return "text/css; charset=utf-8"
        case "js", "mjs": return "text/javascript; charset=utf-8"
        case "json": return "application/json"
        case "txt", "md": return "text/plain; charset=utf-8"
        case "svg": return "image/svg+xml"
        case "png": return "image/png"
        case "jpg", "jpeg": return "image/jpeg"
        case "gif": return "image/gif"
        case "webp": return "image/webp"
        case "ico": return "image/x-icon"
        case "woff2": return "font/woff2"
        case "woff": return "font/woff"
        case "wasm": return "application/wasm"
        default: return "application/octet-stream"
        }
    }
}

private extension Substring {
    func trimmingSpaces() -> Substring {
        var text = self
        while text.first == " " || text.first == "\t" { text.removeFirst() }
        while text.last == " " || text.last == "\t" { text.removeLast() }
        return text
    }
}
