import RuntimeAPI

/// What one call to `RequestParser.next` produced.
public enum RequestEvent: Equatable, Sendable {
    /// The request line and header section. Always the first event of a message.
    case head(RequestHead)
    /// Body bytes: a slice of the bytes passed to `next`, valid until the caller drops them (no copy).
    case body(Range<Int>)
    /// The message is complete; `trailers` is empty unless a chunked body sent some. With framing `.none` or
    /// `Content-Length: 0` this comes from the call right after `.head`.
    case end(trailers: Headers)
}

/// An incremental HTTP/1.1 request parser (RFC 9112) for a server connection: bytes in, events out, no IO and
/// no copies of the body.
///
/// One parser serves one connection, message after message (pipelined requests simply follow one another in
/// the bytes). It is a value type with no shared state: use it from one thread at a time. Every limit of
/// `HTTPLimits` is enforced as early as the bytes allow, including while a head is still incomplete.
public struct RequestParser: Sendable {
    private enum State: Sendable {
        /// Reading a head; nothing of it is consumed until it is complete.
        case head(HeadProgress)
        /// Inside a Content-Length body.
        case fixedBody(remaining: Int)
        case chunkedBody(ChunkedDecoder)
        /// The body is over (or there was none): `.end` comes next, without consuming bytes.
        case endDue
        /// A call threw; every later call throws the same error.
        case failed(HTTPParseError)
    }

    private struct HeadProgress: Sendable {
        var block: HeaderBlockParser
        var requestLine: RequestLine?
        var emptyLines = 0
    }

    private struct RequestLine: Sendable {
        var method: String
        var target: String
        var versionMinor: Int
    }

    private let limits: HTTPLimits
    private var state: State
    /// The field array of the last head, emptied, so the next head reuses its allocation.
    private var spareFields: [(String, String)] = []

    /// Stands in for the state while a call works on a copy of it; a throw replaces it with the real error.
    private static let interrupted = State.failed(.badRequest("the parser was interrupted"))

    public init(limits: HTTPLimits = HTTPLimits()) {
        self.limits = limits
        state = .head(HeadProgress(block: Self.headBlock(limits, spareFields: [])))
    }

    /// True between messages (nothing of a next request seen yet) -- the server uses this for idle vs header
    /// timeouts.
    public var isIdle: Bool {
        if case .head(let progress) = state { return progress.block.isUntouched }
        return false
    }

    /// Parses from the start of `bytes`; returns how many bytes it consumed and at most one event.
    ///
    /// The caller drops the consumed bytes and calls again with the rest (plus any newly received bytes
    /// appended) until it returns `event == nil`, which means "need more bytes" and always comes with
    /// `consumed == 0`; unconsumed bytes must be presented again at the start of the next call, unchanged.
    /// The bytes are only read during the call; `.body` ranges index into them.
    ///
    /// Events come as `.head`, any number of `.body`, then `.end`; the next call starts the next request.
    /// Throws on bad input, and after a throw the parser is dead (every later call throws the same error):
    /// the server answers with `error.status` and closes.
    public mutating func next(_ bytes: UnsafeRawBufferPointer) throws(HTTPParseError)
        -> (consumed: Int, event: RequestEvent?) {
        do {
            return try step(bytes)
        } catch {
            state = .failed(error)
            throw error
        }
    }

    private mutating func step(_ bytes: UnsafeRawBufferPointer) throws(HTTPParseError)
        -> (consumed: Int, event: RequestEvent?) {
        switch state {
        case .head(var progress):
            // Take the progress out of `state` so its field array is uniquely owned and appends do not copy.
            state = Self.interrupted
            guard let head = try parseHead(&progress, bytes) else {
                state = .head(progress)
                return (0, nil)
            }
            let consumed = progress.block.lineStart
            switch head.framing {
            case .none, .contentLength(0), .untilClose:
                state = .endDue
            case .contentLength(let length):
                state = .fixedBody(remaining: length)
            case .chunked:
                state = .chunkedBody(ChunkedDecoder(limits: limits, headBytes: consumed,
                                                    headFields: progress.block.fieldCount))
            }
            return (consumed, .head(head))
        case .fixedBody(let remaining):
            let length = min(remaining, bytes.count)
            guard length > 0 else { return (0, nil) }
            state = length == remaining ? .endDue : .fixedBody(remaining: remaining - length)
            return (length, .body(0..<length))
        case .chunkedBody(var decoder):
            state = Self.interrupted
            let (consumed, event) = try decoder.next(bytes)
            switch event {
            case nil:
                state = .chunkedBody(decoder)
                return (0, nil)
            case .data(let range):
                state = .chunkedBody(decoder)
                return (consumed, .body(range))
            case .end(let trailers):
                startNextMessage()
                return (consumed, .end(trailers: trailers))
            }
        case .endDue:
            startNextMessage()
            return (0, .end(trailers: Headers()))
        case .failed(let error):
            throw error
        }
    }

    private mutating func startNextMessage() {
        state = .head(HeadProgress(block: Self.headBlock(limits, spareFields: spareFields)))
        spareFields = []
    }

    private static func headBlock(_ limits: HTTPLimits, spareFields: [(String, String)]) -> HeaderBlockParser {
        HeaderBlockParser(start: 0, maxBytes: limits.maxHeaderBytes, maxFields: limits.maxHeaderCount,
                          reportedLimits: limits, collectsFraming: true, spareFields: spareFields)
    }

    /// Advances through the head as far as the bytes go; returns it once the empty line ending it is read.
    private mutating func parseHead(_ progress: inout HeadProgress, _ bytes: UnsafeRawBufferPointer)
        throws(HTTPParseError) -> RequestHead? {
        if progress.requestLine == nil {
            let lineLimit = (bytes: limits.maxRequestLineBytes,
                             error: HTTPParseError.uriTooLong(limit: limits.maxRequestLineBytes))
            while true {
                guard let line = try progress.block.nextLine(bytes, lineLimit: lineLimit) else { return nil }
                if !line.isEmpty {
                    progress.requestLine = try Self.parseRequestLine(bytes, line)
                    break
                }
                progress.emptyLines += 1
                guard progress.emptyLines <= HTTPLimits.maxLeadingEmptyLines else {
                    throw .badRequest("more than \(HTTPLimits.maxLeadingEmptyLines) empty lines before the request line")
                }
            }
        }
        guard try progress.block.parseFields(bytes), let requestLine = progress.requestLine else { return nil }

        let fields = progress.block.framing
        let minor = requestLine.versionMinor
        if minor == 1, fields.hostCount == 0 { throw .badRequest("HTTP/1.1 request has no Host header") }
        if fields.hostCount > 1 { throw .badRequest("request has more than one Host header") }
        let framing = try fields.framing(isRequest: true, versionMinor: minor, maxBodyBytes: limits.maxBodyBytes)
        let headers = progress.block.makeHeaders()
        spareFields = progress.block.spareFields
        return RequestHead(method: requestLine.method, target: requestLine.target, versionMinor: minor,
                           headers: headers, framing: framing, keepAlive: fields.keepAlive(versionMinor: minor),
                           expectsContinue: minor == 1 && fields.expectsContinue)
    }

    /// `METHOD SP target SP HTTP/1.x`, with exactly single spaces (RFC 9112 §3).
    private static func parseRequestLine(_ bytes: UnsafeRawBufferPointer, _ line: Range<Int>)
        throws(HTTPParseError) -> RequestLine {
        var methodEnd = line.lowerBound
        while methodEnd < line.upperBound, HTTPSyntax.isToken(bytes[methodEnd]) { methodEnd += 1 }
        guard methodEnd > line.lowerBound else {
            throw .badRequest("request line does not start with a method: \(HTTPSyntax.quoted(bytes, line))")
        }
        guard methodEnd < line.upperBound, bytes[methodEnd] == HTTPSyntax.space else {
            throw .badRequest("method is not followed by a single space: \(HTTPSyntax.quoted(bytes, line))")
        }
        var versionStart = line.upperBound
        while versionStart > methodEnd + 1, bytes[versionStart - 1] != HTTPSyntax.space { versionStart -= 1 }
        guard versionStart > methodEnd + 1 else {
            throw .badRequest("request line has no HTTP version: \(HTTPSyntax.quoted(bytes, line))")
        }
        let target = (methodEnd + 1)..<(versionStart - 1)
        guard !target.isEmpty else {
            throw .badRequest("request line has an empty target or two spaces in a row")
        }
        let versionMinor = try HTTPSyntax.parseVersion(bytes, versionStart..<line.upperBound)
        let method = line.lowerBound..<methodEnd
        try validateTarget(bytes, target, method: method)
        return RequestLine(method: HTTPSyntax.string(bytes, method), target: HTTPSyntax.string(bytes, target),
                           versionMinor: versionMinor)
    }

    /// Origin-form ("/path?query"), absolute-form ("http://host/path", "https://..."), or "*" with OPTIONS
    /// (RFC 9112 §3.2); authority-form is for CONNECT, which this server does not do. Only visible ASCII: a
    /// URI has no raw spaces, controls or bytes above 0x7E (those must be percent-encoded).
    private static func validateTarget(_ bytes: UnsafeRawBufferPointer, _ target: Range<Int>, method: Range<Int>)
        throws(HTTPParseError) {
        for index in target {
            let byte = bytes[index]
            guard byte > HTTPSyntax.space, byte < 0x7F else {
                if byte == HTTPSyntax.space { throw .badRequest("request target contains a space") }
                if byte == HTTPSyntax.cr { throw .badRequest("bare CR in the request line (lines must end with CRLF)") }
                if byte >= 0x80 { throw .badRequest("request target contains a non-ASCII byte (percent-encode it)") }
                throw .badRequest("request target contains a control character")
            }
        }
        let first = bytes[target.lowerBound]
        if first == 0x2F { return }  // "/"
        if first == 0x2A, target.count == 1 {  // "*"
            guard HTTPSyntax.equalsCaseSensitive(bytes, method, "OPTIONS") else {
                throw .badRequest("request target \"*\" is only allowed with OPTIONS")
            }
            return
        }
        if HTTPSyntax.equalsIgnoringCase(bytes, target.prefix(7), "http://") { return }
        if HTTPSyntax.equalsIgnoringCase(bytes, target.prefix(8), "https://") { return }
        throw .badRequest("request target must start with \"/\" or \"http://\", or be \"*\": \(HTTPSyntax.quoted(bytes, target))")
    }
}
