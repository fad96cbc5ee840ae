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
        /// Reading a head (its progress is in `head`); nothing of it is consumed until it is complete.
        case head
        /// Inside a Content-Length body.
        case fixedBody(remaining: Int)
        case chunkedBody(ChunkedDecoder)
        /// The body is over (or there was none): `.end` comes next, without consuming bytes.
        case endDue
        /// A call threw; every later call throws the same error.
        case failed(HTTPParseError)
    }

    /// How far the current head has been read. It lives beside `state` rather than in it so the hot path
    /// updates it in place, instead of moving a large payload out of the enum and back on every call.
    private struct HeadProgress: Sendable {
        var block: HeaderBlockParser
        var requestLine: RequestLine?
        var emptyLines = 0

        init(_ limits: HTTPLimits) {
            block = HeaderBlockParser(start: 0, maxBytes: limits.maxHeaderBytes, maxFields: limits.maxHeaderCount,
                                      reportedLimits: limits, collectsFraming: true)
        }
    }

    private struct RequestLine: Sendable {
        var method: String
        var target: String
        var versionMinor: Int
    }

    private let limits: HTTPLimits
    private var state = State.head
    /// Meaningful only while `state` is `.head`.
    private var head: HeadProgress

    public init(limits: HTTPLimits = HTTPLimits()) {
        self.limits = limits
        head = HeadProgress(limits)
    }

    /// True between messages (nothing of a next request seen yet) -- the server uses this for idle vs header
    /// timeouts.
    public var isIdle: Bool {
        if case .head = state { return head.block.isUntouched }
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

    @inline(__always)  // `next` only wraps it; inlining saves copying the returned event
    private mutating func step(_ bytes: UnsafeRawBufferPointer) throws(HTTPParseError)
        -> (consumed: Int, event: RequestEvent?) {
        switch state {
        case .head:
            guard let parsed = try parseHead(bytes) else { return (0, nil) }
            let consumed = head.block.lineStart
            switch parsed.framing {
            case .none, .contentLength(0), .untilClose:
                state = .endDue
            case .contentLength(let length):
                state = .fixedBody(remaining: length)
            case .chunked:
                state = .chunkedBody(ChunkedDecoder(limits: limits, headBytes: consumed,
                                                    headFields: head.block.fieldCount))
            }
            return (consumed, .head(parsed))
        case .fixedBody(let remaining):
            let length = min(remaining, bytes.count)
            guard length > 0 else { return (0, nil) }
            state = length == remaining ? .endDue : .fixedBody(remaining: remaining - length)
            return (length, .body(0..<length))
        case .chunkedBody(var decoder):
            let (consumed, event) = try decoder.next(bytes)
            switch event {
            case nil:
                state = .chunkedBody(decoder)  // keeps how far the decoder's search got
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
        state = .head
        head = HeadProgress(limits)
    }

    /// Advances through the head as far as the bytes go; returns it once the empty line ending it is read.
    private mutating func parseHead(_ bytes: UnsafeRawBufferPointer) throws(HTTPParseError) -> RequestHead? {
        if head.requestLine == nil {
            let lineLimit = (bytes: limits.maxRequestLineBytes,
                             error: HTTPParseError.uriTooLong(limit: limits.maxRequestLineBytes))
            while true {
                guard let line = try head.block.nextLine(bytes, lineLimit: lineLimit) else { return nil }
                if !line.isEmpty {
                    head.requestLine = try Self.parseRequestLine(bytes, line)
                    break
                }
                head.emptyLines += 1
                guard head.emptyLines <= HTTPLimits.maxLeadingEmptyLines else {
                    throw .badRequest("more than \(HTTPLimits.maxLeadingEmptyLines) empty lines before the request line")
                }
            }
        }
        guard try head.block.parseFields(bytes), let requestLine = head.requestLine else { return nil }

        let fields = head.block.framing
        let minor = requestLine.versionMinor
        if minor == 1, fields.hostCount == 0 { throw .badRequest("HTTP/1.1 request has no Host header") }
        if fields.hostCount > 1 { throw .badRequest("request has more than one Host header") }
        let framing = try fields.framing(isRequest: true, versionMinor: minor, maxBodyBytes: limits.maxBodyBytes)
        return RequestHead(method: requestLine.method, target: requestLine.target, versionMinor: minor,
                           headers: head.block.headers, framing: framing,
                           keepAlive: fields.keepAlive(versionMinor: minor),
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
        if let index = HTTPSyntax.firstNonVisibleASCII(bytes, target) {
            switch bytes[index] {
            case HTTPSyntax.space: throw .badRequest("request target contains a space")
            case HTTPSyntax.cr: throw .badRequest("bare CR in the request line (lines must end with CRLF)")
            case 0x80...: throw .badRequest("request target contains a non-ASCII byte (percent-encode it)")
            default: throw .badRequest("request target contains a control character")
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
