import RuntimeAPI

/// A parsed status line and header section.
public struct ResponseHead: Sendable, Equatable {
    public var status: Int
    /// As sent (may be empty); decoded as UTF-8 with U+FFFD for invalid sequences, like field values.
    public var reason: String
    /// 0 or 1, for HTTP/1.0 or HTTP/1.1.
    public var versionMinor: Int
    public var headers: Headers
    public var framing: BodyFraming
    /// Whether the connection can carry another request: HTTP/1.1 unless "Connection: close", HTTP/1.0 only
    /// with "Connection: keep-alive"; never for a body that runs until close or a 101.
    public var keepAlive: Bool

    public init(status: Int, reason: String = "", versionMinor: Int = 1, headers: Headers = Headers(),
                framing: BodyFraming = .none, keepAlive: Bool = true) {
        self.status = status
        self.reason = reason
        self.versionMinor = versionMinor
        self.headers = headers
        self.framing = framing
        self.keepAlive = keepAlive
    }
}

/// What one call to `ResponseParser.next` (or `finishAtClose`) produced.
public enum ResponseEvent: Equatable, Sendable {
    /// The final response's status line and headers (interim 1xx responses other than 101 are skipped).
    case head(ResponseHead)
    /// Body bytes: a slice of the bytes passed to `next`, valid until the caller drops them (no copy).
    case body(Range<Int>)
    /// The response is complete; `trailers` is empty unless a chunked body sent some.
    case end(trailers: Headers)
}

/// An incremental HTTP/1.1 response parser (RFC 9112) for a client connection, such as the bench client.
/// Same shape and rules as `RequestParser`: header syntax, limits and chunked decoding are shared code. One
/// parser per connection, used from one thread at a time.
public struct ResponseParser: Sendable {
    private enum State: Sendable {
        /// Reading a head (its progress is in `head`); nothing of it is consumed until it is complete.
        case head
        case fixedBody(remaining: Int)
        case chunkedBody(ChunkedDecoder)
        /// No framing headers: everything until the peer closes is body.
        case untilCloseBody
        /// The body is over (or there was none): `.end` comes next, without consuming bytes.
        case endDue
        /// `finishAtClose` ended the connection's last response; nothing more comes.
        case closed
        /// A call threw; every later call throws the same error.
        case failed(HTTPParseError)
    }

    /// How far the current head has been read; beside `state` rather than in it, as in `RequestParser`.
    private struct HeadProgress: Sendable {
        var block: HeaderBlockParser
        var statusLine: StatusLine?

        init(_ limits: HTTPLimits) {
            block = HeaderBlockParser(start: 0, maxBytes: limits.maxHeaderBytes, maxFields: limits.maxHeaderCount,
                                      reportedLimits: limits, collectsFraming: true)
        }
    }

    private struct StatusLine: Sendable {
        var status: Int
        var reason: String
        var versionMinor: Int
    }

    private let limits: HTTPLimits
    private var state = State.head
    /// Meaningful only while `state` is `.head`.
    private var head: HeadProgress
    /// Set by `expectResponse(toHEAD:)` and cleared by the next final head: a HEAD answer has no body.
    private var answersHEAD = false

    public init(limits: HTTPLimits = HTTPLimits()) {
        self.limits = limits
        head = HeadProgress(limits)
    }

    /// Says what the next response answers; call it before each response. A response to HEAD has no body,
    /// whatever its Content-Length says (RFC 9110 §9.3.2).
    public mutating func expectResponse(toHEAD: Bool) {
        answersHEAD = toHEAD
    }

    /// Same contract as `RequestParser.next`, with one difference: an interim 1xx response (100 Continue) is
    /// consumed without an event, so `event == nil` may come with `consumed > 0`; drop those bytes as usual.
    /// 101 Switching Protocols is returned as a head with framing `.none` and `keepAlive == false`: the bytes
    /// after it belong to another protocol and the caller must stop using this parser.
    /// 204, 304 and answers to HEAD have no body; with neither Content-Length nor chunked the body runs until
    /// close (framing `.untilClose`: every byte is `.body`, and `.end` comes from `finishAtClose()`).
    public mutating func next(_ bytes: UnsafeRawBufferPointer) throws(HTTPParseError)
        -> (consumed: Int, event: ResponseEvent?) {
        do {
            return try step(bytes)
        } catch {
            state = .failed(error)
            throw error
        }
    }

    /// Connection closed by the peer: returns .end for an until-close body, throws badRequest if a message was
    /// cut short, returns nil between messages.
    public mutating func finishAtClose() throws(HTTPParseError) -> ResponseEvent? {
        switch state {
        case .untilCloseBody, .endDue:
            state = .closed
            return .end(trailers: Headers())
        case .head where head.block.isUntouched, .closed:
            state = .closed
            return nil
        case .head:
            state = .failed(.badRequest("connection closed in the middle of a response head"))
        case .fixedBody, .chunkedBody:
            state = .failed(.badRequest("connection closed before the response body was complete"))
        case .failed:
            break
        }
        guard case .failed(let error) = state else { return nil }
        throw error
    }

    @inline(__always)  // `next` only wraps it; inlining saves copying the returned event
    private mutating func step(_ bytes: UnsafeRawBufferPointer) throws(HTTPParseError)
        -> (consumed: Int, event: ResponseEvent?) {
        switch state {
        case .head:
            return try stepHead(bytes)
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
        case .untilCloseBody:
            guard bytes.count > 0 else { return (0, nil) }
            return (bytes.count, .body(0..<bytes.count))
        case .endDue:
            startNextMessage()
            return (0, .end(trailers: Headers()))
        case .closed:
            return (0, nil)
        case .failed(let error):
            throw error
        }
    }

    private mutating func startNextMessage() {
        state = .head
        head = HeadProgress(limits)
    }

    /// Parses heads until a final one; interim ones are consumed and parsing goes on after them.
    private mutating func stepHead(_ bytes: UnsafeRawBufferPointer) throws(HTTPParseError)
        -> (consumed: Int, event: ResponseEvent?) {
        var skipped = 0
        while true {
            let rest = UnsafeRawBufferPointer(rebasing: bytes[skipped...])
            guard let statusLine = try parseHead(rest) else { return (skipped, nil) }
            let headBytes = head.block.lineStart
            let fields = head.block.framing
            let minor = statusLine.versionMinor
            let switching = statusLine.status == 101
            if statusLine.status < 200, !switching {
                skipped += headBytes
                head = HeadProgress(limits)
                continue
            }
            let noBody = answersHEAD || switching || statusLine.status == 204 || statusLine.status == 304
            let framing = noBody ? BodyFraming.none
                : try fields.framing(isRequest: false, versionMinor: minor, maxBodyBytes: limits.maxBodyBytes)
            switch framing {
            case .none, .contentLength(0): state = .endDue
            case .contentLength(let length): state = .fixedBody(remaining: length)
            case .untilClose: state = .untilCloseBody
            case .chunked:
                state = .chunkedBody(ChunkedDecoder(limits: limits, headBytes: headBytes,
                                                    headFields: head.block.fieldCount))
            }
            answersHEAD = false
            let keepAlive = !switching && framing != .untilClose && fields.keepAlive(versionMinor: minor)
            let parsed = ResponseHead(status: statusLine.status, reason: statusLine.reason, versionMinor: minor,
                                      headers: head.block.headers, framing: framing, keepAlive: keepAlive)
            return (skipped + headBytes, .head(parsed))
        }
    }

    /// Advances through the head as far as the bytes go; returns its status line once the head is complete.
    private mutating func parseHead(_ bytes: UnsafeRawBufferPointer) throws(HTTPParseError) -> StatusLine? {
        if head.statusLine == nil {
            guard let line = try head.block.nextLine(bytes) else { return nil }
            head.statusLine = try Self.parseStatusLine(bytes, line)
        }
        guard try head.block.parseFields(bytes) else { return nil }
        return head.statusLine
    }

    /// `HTTP/1.x SP 3DIGIT SP reason` (RFC 9112 §4). A missing SP before an empty reason is accepted, as
    /// RFC 9112 §4 asks clients to be lenient about the reason.
    private static func parseStatusLine(_ bytes: UnsafeRawBufferPointer, _ line: Range<Int>)
        throws(HTTPParseError) -> StatusLine {
        let versionLength = 8, codeLength = 3
        let codeStart = line.lowerBound + versionLength + 1
        guard line.count >= versionLength + 1 + codeLength, bytes[codeStart - 1] == HTTPSyntax.space else {
            throw .badRequest("malformed status line: \(HTTPSyntax.quoted(bytes, line))")
        }
        let versionMinor = try HTTPSyntax.parseVersion(bytes, line.lowerBound..<(codeStart - 1))
        let code = codeStart..<(codeStart + codeLength)
        guard let status = HTTPSyntax.parseDecimal(bytes, code), status >= 100 else {
            throw .badRequest("malformed status code: \(HTTPSyntax.quoted(bytes, line))")
        }
        var reason = code.upperBound..<code.upperBound
        if code.upperBound < line.upperBound {
            guard bytes[code.upperBound] == HTTPSyntax.space else {
                throw .badRequest("status code is not followed by a space: \(HTTPSyntax.quoted(bytes, line))")
            }
            reason = (code.upperBound + 1)..<line.upperBound
            if HTTPSyntax.firstInvalidFieldValueByte(bytes, reason) != nil {
                throw .badRequest("reason phrase contains a control character")
            }
        }
        return StatusLine(status: status, reason: HTTPSyntax.string(bytes, reason), versionMinor: versionMinor)
    }
}
