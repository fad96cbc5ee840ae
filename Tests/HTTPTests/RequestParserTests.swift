import RuntimeAPI
import Testing

@testable import RuntimeHTTP

// MARK: Helpers

/// How a test hands bytes to a parser: all at once, or one byte per call as the slowest client would.
enum Feed: String, CaseIterable, Sendable, CustomTestStringConvertible {
    case whole, byteByByte
    var testDescription: String { rawValue }
}

/// Everything a parser made of a byte stream, message by message.
struct ParsedRequests: Equatable {
    var heads: [RequestHead] = []
    /// One per completed message.
    var bodies: [[UInt8]] = []
    /// One per completed message.
    var trailers: [Headers] = []
    /// Bytes still unconsumed at the end (an incomplete message).
    var leftover = 0
}

/// Feeds `bytes` to a fresh parser as a server would (append what arrived, call `next` until it returns no
/// event, drop what was consumed) and collects the events. Checks the contract on the way: a call without an
/// event consumes nothing, and events come as head, body..., end.
func parseRequests(_ bytes: [UInt8], feed: Feed, limits: HTTPLimits = HTTPLimits()) throws(HTTPParseError)
    -> ParsedRequests {
    var parser = RequestParser(limits: limits)
    var result = ParsedRequests()
    var buffer: [UInt8] = []
    var openBody: [UInt8]?
    let pieces = feed == .whole ? [bytes[...]] : bytes.indices.map { bytes[$0...$0] }
    for piece in pieces {
        buffer.append(contentsOf: piece)
        while true {
            let (consumed, event) = try nextEvent(&parser, buffer)
            var data: [UInt8] = []
            if case .body(let range) = event { data = Array(buffer[range]) }
            #expect(consumed >= 0 && consumed <= buffer.count)
            buffer.removeFirst(consumed)
            guard let event else {
                #expect(consumed == 0, "an event-less call must not consume")
                break
            }
            switch event {
            case .head(let head):
                #expect(openBody == nil, "a head arrived inside a message")
                result.heads.append(head)
                openBody = []
            case .body:
                #expect(openBody != nil, "a body slice arrived outside a message")
                openBody?.append(contentsOf: data)
            case .end(let trailers):
                #expect(openBody != nil, "an end arrived outside a message")
                result.bodies.append(openBody ?? [])
                result.trailers.append(trailers)
                openBody = nil
            }
        }
    }
    result.leftover = buffer.count
    return result
}

/// One call to `parser.next` with `bytes`. (A closure that throws typed errors straight through
/// `withUnsafeBytes` crashes the 6.3 compiler, hence the Result.)
func nextEvent(_ parser: inout RequestParser, _ bytes: [UInt8]) throws(HTTPParseError)
    -> (consumed: Int, event: RequestEvent?) {
    var outcome: Result<(Int, RequestEvent?), HTTPParseError> = .success((0, nil))
    bytes.withUnsafeBytes { raw in
        do throws(HTTPParseError) {
            outcome = .success(try parser.next(raw))
        } catch {
            outcome = .failure(error)
        }
    }
    let (consumed, event) = try outcome.get()
    return (consumed, event)
}

/// The status a parser answers `bytes` with, or nil if it accepts them.
func requestStatus(_ bytes: [UInt8], feed: Feed, limits: HTTPLimits = HTTPLimits()) -> Int? {
    do {
        _ = try parseRequests(bytes, feed: feed, limits: limits)
        return nil
    } catch {
        return error.status
    }
}

/// A message on the wire: `lines` joined with CRLF, the empty line, then `body`.
func wire(_ lines: String..., body: String = "") -> [UInt8] {
    Array((lines.joined(separator: "\r\n") + "\r\n\r\n" + body).utf8)
}

/// One bad-input row: what is wrong, the bytes, the status the server must answer with.
struct BadInput: Sendable, CustomTestStringConvertible {
    let name: String
    let bytes: [UInt8]
    let status: Int
    init(_ name: String, _ bytes: [UInt8], _ status: Int) {
        self.name = name
        self.bytes = bytes
        self.status = status
    }
    init(_ name: String, raw: String, _ status: Int) { self.init(name, Array(raw.utf8), status) }
    var testDescription: String { "\(name) -> \(status)" }
}

/// A GET with Host plus `extra` header lines.
private func get(_ extra: String...) -> [UInt8] {
    Array((["GET / HTTP/1.1", "Host: h"] + extra).joined(separator: "\r\n").utf8) + Array("\r\n\r\n".utf8)
}

/// A deterministic generator (SplitMix64) so a failing input can be reproduced from its index.
struct SeededGenerator: RandomNumberGenerator {
    var state: UInt64
    mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }
}

/// Bytes that matter to HTTP syntax, so random strings hit the interesting branches often.
let syntaxBytes = Array("\r\n :;,/*-0123456789aAfFzZ\t\u{7F}\u{00}HTTP/1.01GETPOSTHost".utf8) + [0x80, 0xFF]

/// What a parser did with one fuzz input.
enum FuzzOutcome: Equatable {
    case accepted, rejected
    /// It looped, or returned a count or range outside the bytes it was given.
    case brokeContract
}

/// Feeds `bytes` in random-sized pieces and checks only that the parser returns or throws, never traps or
/// loops, and that what it returns stays inside the bytes it was given. `next` reports a call's consumed count
/// and its body range (an empty range for other events, nil for no event).
func fuzz<P>(_ parser: inout P, _ bytes: [UInt8], using random: inout SeededGenerator,
             next: (inout P, UnsafeRawBufferPointer) throws(HTTPParseError) -> (Int, Range<Int>?)) -> FuzzOutcome {
    var buffer: [UInt8] = []
    var index = 0
    var calls = 0
    while index < bytes.count {
        let piece = Int.random(in: 1...max(1, bytes.count / 3), using: &random)
        buffer += bytes[index..<min(index + piece, bytes.count)]
        index += piece
        while true {
            calls += 1
            guard calls < 10 * bytes.count + 100 else { return .brokeContract }
            var outcome: (consumed: Int, range: Range<Int>?)?
            buffer.withUnsafeBytes { raw in
                do {
                    let (consumed, range) = try next(&parser, raw)
                    let inside = consumed >= 0 && consumed <= raw.count && (range?.upperBound ?? 0) <= raw.count
                    outcome = inside ? (consumed, range) : (-1, nil)
                } catch {
                    outcome = nil
                }
            }
            guard let (consumed, range) = outcome else { return .rejected }
            guard consumed >= 0 else { return .brokeContract }
            buffer.removeFirst(consumed)
            if consumed == 0 && range == nil { break }
        }
    }
    return .accepted
}

/// `seed` with one to four random edits: a byte replaced, inserted or removed, or a slice repeated.
func mutated(_ seed: [UInt8], using random: inout SeededGenerator) -> [UInt8] {
    var bytes = seed
    for _ in 0..<Int.random(in: 1...4, using: &random) where !bytes.isEmpty {
        let at = Int.random(in: 0..<bytes.count, using: &random)
        switch Int.random(in: 0..<4, using: &random) {
        case 0: bytes[at] = syntaxBytes.randomElement(using: &random)!
        case 1: bytes.insert(UInt8.random(in: 0...255, using: &random), at: at)
        case 2: bytes.remove(at: at)
        default: bytes.insert(contentsOf: bytes[at...].prefix(8), at: at)
        }
    }
    return bytes
}

@Suite("Request parser")
struct RequestParserTests {
    // MARK: Valid requests

    @Test("a simple GET yields its head, then end with no body", arguments: Feed.allCases)
    func simpleGet(feed: Feed) throws {
        let parsed = try parseRequests(wire("GET /a?b=c HTTP/1.1", "Host: example.com", "Accept: */*"), feed: feed)
        let head = try #require(parsed.heads.first)
        #expect(head == RequestHead(method: "GET", target: "/a?b=c", versionMinor: 1,
                                    headers: ["Host": "example.com", "Accept": "*/*"], framing: .none, keepAlive: true))
        #expect(parsed.bodies == [[]])
        #expect(parsed.trailers == [Headers()])
        #expect(parsed.leftover == 0)
    }

    @Test("a Content-Length body arrives whole, and the next pipelined request follows", arguments: Feed.allCases)
    func contentLengthAndPipelining(feed: Feed) throws {
        let bytes = wire("POST /p HTTP/1.1", "Host: h", "Content-Length: 5", body: "hello")
            + wire("GET /second HTTP/1.1", "Host: h")
            + wire("POST /c HTTP/1.1", "Host: h", "Transfer-Encoding: chunked", body: "3\r\nabc\r\n0\r\n\r\n")
        let parsed = try parseRequests(bytes, feed: feed)
        #expect(parsed.heads.map(\.target) == ["/p", "/second", "/c"])
        #expect(parsed.heads.map(\.framing) == [.contentLength(5), .none, .chunked])
        #expect(parsed.bodies == [Array("hello".utf8), [], Array("abc".utf8)])
        #expect(parsed.leftover == 0)
    }

    @Test("a chunked body with extensions, uppercase hex and trailers", arguments: Feed.allCases)
    func chunkedWithTrailers(feed: Feed) throws {
        let body = "A;name=value\r\n0123456789\r\n1 ; x\r\n!\r\n0\r\nX-Checksum: abc\r\nX-Other:  d \r\n\r\n"
        let parsed = try parseRequests(wire("PUT /u HTTP/1.1", "Host: h", "Transfer-Encoding: Chunked", body: body),
                                       feed: feed)
        #expect(parsed.bodies == [Array("0123456789!".utf8)])
        #expect(parsed.trailers == [["X-Checksum": "abc", "X-Other": "d"]])
    }

    @Test("field values are trimmed, inner spaces kept, names kept as sent, repeats kept apart", arguments: Feed.allCases)
    func fieldValues(feed: Feed) throws {
        let parsed = try parseRequests(get("X-A: \t spaced  out \t", "x-a:b", "Empty:", "Tab:\tv"), feed: feed)
        let headers = try #require(parsed.heads.first).headers
        #expect(headers.values(for: "X-A") == ["spaced  out", "b"])
        #expect(headers.fields.map(\.name) == ["Host", "X-A", "x-a", "Empty", "Tab"])
        #expect(headers["empty"] == "")
        #expect(headers["tab"] == "v")
    }

    @Test("bytes above 0x7F in values are decoded as UTF-8, invalid sequences as U+FFFD")
    func obsTextValues() throws {
        let bytes = Array("GET / HTTP/1.1\r\nHost: h\r\nName: café\r\nBad: a".utf8) + [0xFF, 0x62] + Array("\r\n\r\n".utf8)
        let headers = try #require(parseRequests(bytes, feed: .whole).heads.first).headers
        #expect(headers["name"] == "café")
        #expect(headers["bad"] == "a\u{FFFD}b")
    }

    @Test("keep-alive follows the version and the Connection header")
    func keepAlive() throws {
        func keepAlive(_ bytes: [UInt8]) throws -> Bool { try #require(parseRequests(bytes, feed: .whole).heads.first).keepAlive }
        #expect(try keepAlive(wire("GET / HTTP/1.1", "Host: h")))
        #expect(try !keepAlive(wire("GET / HTTP/1.1", "Host: h", "Connection: close")))
        #expect(try !keepAlive(wire("GET / HTTP/1.1", "Host: h", "Connection: Upgrade, CLOSE")))
        #expect(try !keepAlive(wire("GET / HTTP/1.0")))
        #expect(try keepAlive(wire("GET / HTTP/1.0", "Connection: Keep-Alive")))
        #expect(try !keepAlive(wire("GET / HTTP/1.0", "Connection: keep-alive", "Connection: close")))
    }

    @Test("Expect: 100-continue is seen case-insensitively on HTTP/1.1 only")
    func expectContinue() throws {
        func expects(_ bytes: [UInt8]) throws -> Bool {
            try #require(parseRequests(bytes, feed: .whole).heads.first).expectsContinue
        }
        #expect(try expects(wire("POST / HTTP/1.1", "Host: h", "Expect: 100-Continue", "Content-Length: 0")))
        #expect(try !expects(wire("POST / HTTP/1.1", "Host: h", "Expect: something-else")))
        #expect(try !expects(wire("POST / HTTP/1.0", "Expect: 100-continue")))
    }

    @Test("valid request lines and framings that must be accepted", arguments: [
        wire("OPTIONS * HTTP/1.1", "Host: h"),
        wire("GET http://example.com/x HTTP/1.1", "Host: example.com"),
        wire("GET HTTPS://example.com HTTP/1.1", "Host: example.com"),
        wire("get /lowercase-method-is-just-another-token HTTP/1.1", "Host: h"),
        wire("M-SEARCH /x HTTP/1.1", "Host: h"),
        wire("GET / HTTP/1.0"),
        wire("GET / HTTP/1.1", "Host: h", "Content-Length: 3", body: "abc"),
        wire("HEAD / HTTP/1.1", "Host: h", "Content-Length: 3, 3", body: "abc"),
        wire("GET / HTTP/1.1", "Host: h", "Content-Length: 2", "content-length: 2", body: "ab"),
        wire("GET / HTTP/1.1", "Host: h", "Transfer-Encoding: , chunked", body: "0\r\n\r\n"),
        Array("\r\n\r\n".utf8) + wire("GET / HTTP/1.1", "Host: h"),
        wire("GET /%7Efile?q=a%20b&x=/:@!$'()*+,; HTTP/1.1", "Host: h"),
    ])
    func acceptedRequests(bytes: [UInt8]) throws {
        for feed in Feed.allCases {
            let parsed = try parseRequests(bytes, feed: feed)
            #expect(parsed.heads.count == 1 && parsed.bodies.count == 1 && parsed.leftover == 0, "\(feed)")
        }
    }

    @Test("isIdle is true only between messages")
    func idleBetweenMessages() throws {
        var parser = RequestParser()
        #expect(parser.isIdle)
        let first = try nextEvent(&parser, [])
        #expect(first.consumed == 0 && first.event == nil)
        #expect(parser.isIdle)
        let partial = try nextEvent(&parser, Array("GET / HT".utf8))
        #expect(partial.consumed == 0 && partial.event == nil)
        #expect(!parser.isIdle)
        let whole = wire("GET / HTTP/1.1", "Host: h")
        #expect(try nextEvent(&parser, whole).consumed == whole.count)
        #expect(!parser.isIdle)
        #expect(try nextEvent(&parser, []).event == .end(trailers: Headers()))
        #expect(parser.isIdle)
    }

    @Test("after a throw the parser is dead and keeps throwing the same error")
    func deadAfterThrow() {
        var parser = RequestParser()
        let bare = HTTPParseError.badRequest("line ends in a bare LF (lines must end with CRLF)")
        #expect(throws: bare) { try nextEvent(&parser, Array("GET / HTTP/1.1\nHost: h\r\n\r\n".utf8)) }
        #expect(throws: bare) { try nextEvent(&parser, wire("GET / HTTP/1.1", "Host: h")) }
    }

    // MARK: Bad input

    @Test("bad input gets its status, however it is split", arguments: [
        // Line endings
        BadInput("bare LF ends the request line", raw: "GET / HTTP/1.1\nHost: h\r\n\r\n", 400),
        BadInput("bare LF ends a header line", raw: "GET / HTTP/1.1\r\nHost: h\n\r\n", 400),
        BadInput("bare LF ends the head", raw: "GET / HTTP/1.1\r\nHost: h\r\n\n", 400),
        BadInput("bare CR inside a value", raw: "GET / HTTP/1.1\r\nHost: h\rX: y\r\n\r\n", 400),
        BadInput("bare CR in the request line", raw: "GET /\r HTTP/1.1\r\nHost: h\r\n\r\n", 400),
        BadInput("bare CR in a name", raw: "GET / HTTP/1.1\r\nHo\rst: h\r\n\r\n", 400),
        BadInput("too many leading empty lines", Array("\r\n\r\n\r\n\r\n\r\n".utf8) + wire("GET / HTTP/1.1", "Host: h"), 400),
        // Request line
        BadInput("two spaces after the method", wire("GET  / HTTP/1.1", "Host: h"), 400),
        BadInput("two spaces before the version", wire("GET /  HTTP/1.1", "Host: h"), 400),
        BadInput("tab instead of space", wire("GET\t/ HTTP/1.1", "Host: h"), 400),
        BadInput("leading space", wire(" GET / HTTP/1.1", "Host: h"), 400),
        BadInput("trailing space", wire("GET / HTTP/1.1 ", "Host: h"), 400),
        BadInput("no version", wire("GET /", "Host: h"), 400),
        BadInput("method only", wire("GET", "Host: h"), 400),
        BadInput("method is not a token", wire("GE(T / HTTP/1.1", "Host: h"), 400),
        BadInput("space in the target", wire("GET /a b HTTP/1.1", "Host: h"), 400),
        BadInput("control character in the target", wire("GET /a\u{01}b HTTP/1.1", "Host: h"), 400),
        BadInput("DEL in the target", wire("GET /a\u{7F} HTTP/1.1", "Host: h"), 400),
        BadInput("non-ASCII target", wire("GET /café HTTP/1.1", "Host: h"), 400),
        BadInput("relative target", wire("GET a/b HTTP/1.1", "Host: h"), 400),
        BadInput("authority-form target", wire("CONNECT example.com:443 HTTP/1.1", "Host: h"), 400),
        BadInput("asterisk without OPTIONS", wire("GET * HTTP/1.1", "Host: h"), 400),
        // Version
        BadInput("HTTP/2.0", wire("GET / HTTP/2.0", "Host: h"), 505),
        BadInput("HTTP/1.2", wire("GET / HTTP/1.2", "Host: h"), 505),
        BadInput("HTTP/3.0", wire("GET / HTTP/3.0", "Host: h"), 505),
        BadInput("HTTP/0.9", wire("GET / HTTP/0.9", "Host: h"), 505),
        BadInput("HTTX/1.1", wire("GET / HTTX/1.1", "Host: h"), 400),
        BadInput("HTTP/1", wire("GET / HTTP/1", "Host: h"), 400),
        BadInput("http/1.1", wire("GET / http/1.1", "Host: h"), 400),
        BadInput("HTTP/1.10", wire("GET / HTTP/1.10", "Host: h"), 400),
        BadInput("HTTP/1.x", wire("GET / HTTP/1.x", "Host: h"), 400),
        // Header lines
        BadInput("space before the colon", get("Foo : bar"), 400),
        BadInput("tab before the colon", get("Foo\t: bar"), 400),
        BadInput("obs-fold", get("Foo: bar", " continued"), 400),
        BadInput("obs-fold with a tab", get("Foo: bar", "\tcontinued"), 400),
        BadInput("no colon", get("Foo bar"), 400),
        BadInput("empty name", get(": bar"), 400),
        BadInput("name is not a token", get("Fo(o: bar"), 400),
        BadInput("NUL in a value", get("Foo: a\u{00}b"), 400),
        BadInput("DEL in a value", get("Foo: a\u{7F}"), 400),
        BadInput("escape in a value", get("Foo: \u{1B}[31m"), 400),
        // Host
        BadInput("HTTP/1.1 without Host", wire("GET / HTTP/1.1", "Accept: */*"), 400),
        BadInput("two Host fields", wire("GET / HTTP/1.1", "Host: a", "host: b"), 400),
        BadInput("two Host fields on 1.0", wire("GET / HTTP/1.0", "Host: a", "Host: a"), 400),
        // Content-Length
        BadInput("signed Content-Length", get("Content-Length: +5"), 400),
        BadInput("negative Content-Length", get("Content-Length: -1"), 400),
        BadInput("space inside Content-Length", get("Content-Length: 5 5"), 400),
        BadInput("hex Content-Length", get("Content-Length: 0x5"), 400),
        BadInput("empty Content-Length", get("Content-Length:"), 400),
        BadInput("list of different lengths", get("Content-Length: 5, 6"), 400),
        BadInput("list with an empty element", get("Content-Length: 5,"), 400),
        BadInput("two different Content-Length fields", get("Content-Length: 5", "Content-Length: 6"), 400),
        BadInput("Content-Length over the limit", get("Content-Length: 16777217"), 413),
        BadInput("Content-Length overflowing Int", get("Content-Length: 999999999999999999999999"), 413),
        // Transfer-Encoding
        BadInput("gzip", get("Transfer-Encoding: gzip"), 501),
        BadInput("gzip, chunked", get("Transfer-Encoding: gzip, chunked"), 501),
        BadInput("chunked, gzip", get("Transfer-Encoding: chunked, gzip"), 501),
        BadInput("chunked with a parameter", get("Transfer-Encoding: chunked;q=1"), 501),
        BadInput("chunked twice in a list", get("Transfer-Encoding: chunked, chunked"), 400),
        BadInput("chunked twice in two fields", get("Transfer-Encoding: chunked", "Transfer-Encoding: chunked"), 400),
        BadInput("empty Transfer-Encoding", get("Transfer-Encoding: "), 400),
        BadInput("Transfer-Encoding and Content-Length", get("Transfer-Encoding: chunked", "Content-Length: 3"), 400),
        BadInput("Transfer-Encoding on HTTP/1.0", wire("POST / HTTP/1.0", "Transfer-Encoding: chunked"), 400),
        // Chunked bodies
        BadInput("chunk size not hex", get("Transfer-Encoding: chunked") + Array("zz\r\n".utf8), 400),
        BadInput("chunk size with 0x", get("Transfer-Encoding: chunked") + Array("0x5\r\nhello\r\n".utf8), 400),
        BadInput("negative chunk size", get("Transfer-Encoding: chunked") + Array("-5\r\n".utf8), 400),
        BadInput("16 hex digits", get("Transfer-Encoding: chunked") + Array("0000000000000001\r\n".utf8), 400),
        BadInput("chunk overflowing Int", get("Transfer-Encoding: chunked") + Array("FFFFFFFFFFFFFFFFF\r\n".utf8), 400),
        BadInput("data not followed by CRLF", get("Transfer-Encoding: chunked") + Array("3\r\nabcX\r\n0\r\n\r\n".utf8), 400),
        BadInput("data followed by bare LF", get("Transfer-Encoding: chunked") + Array("3\r\nabc\n0\r\n\r\n".utf8), 400),
        BadInput("bare LF after a chunk size", get("Transfer-Encoding: chunked") + Array("3\nabc\r\n".utf8), 400),
        BadInput("chunk size line too long",
                 get("Transfer-Encoding: chunked") + Array(("1;" + String(repeating: "x", count: 5000)).utf8), 400),
        BadInput("chunks over the body limit", get("Transfer-Encoding: chunked") + Array("1000001\r\n".utf8), 413),
        BadInput("trailer with space before colon", get("Transfer-Encoding: chunked") + Array("0\r\nX : y\r\n\r\n".utf8), 400),
        BadInput("trailer obs-fold", get("Transfer-Encoding: chunked") + Array("0\r\nX: y\r\n z\r\n\r\n".utf8), 400),
    ])
    func badInput(_ input: BadInput) {
        for feed in Feed.allCases {
            #expect(requestStatus(input.bytes, feed: feed) == input.status, "\(feed)")
        }
    }

    // MARK: Limits

    @Test("a request line at the limit passes; one byte over gets 414, with or without its CRLF", arguments: Feed.allCases)
    func requestLineLimit(feed: Feed) {
        let limits = HTTPLimits(maxRequestLineBytes: 64)
        let atLimit = "GET /" + String(repeating: "a", count: 64 - "GET / HTTP/1.1".count) + " HTTP/1.1"
        #expect(requestStatus(wire(atLimit, "Host: h"), feed: feed, limits: limits) == nil)
        let over = "GET /" + String(repeating: "a", count: 65 - "GET / HTTP/1.1".count) + " HTTP/1.1"
        #expect(requestStatus(wire(over, "Host: h"), feed: feed, limits: limits) == 414)
        #expect(requestStatus(Array(("GET /" + String(repeating: "a", count: 100)).utf8), feed: feed, limits: limits) == 414)
    }

    @Test("100 KB without the end of a head gets 431 (or 414 while still in the request line)", arguments: Feed.allCases)
    func endlessHead(feed: Feed) {
        let endlessValue = Array("GET / HTTP/1.1\r\nHost: h\r\nX: ".utf8) + [UInt8](repeating: 0x61, count: 100_000)
        #expect(requestStatus(endlessValue, feed: feed) == 431)
        let endlessLines = Array("GET / HTTP/1.1\r\n".utf8)
            + Array(String(repeating: "X: y\r\n", count: 20_000).utf8)
        #expect(requestStatus(endlessLines, feed: .whole) == 431)
        let endlessTarget = Array("GET /".utf8) + [UInt8](repeating: 0x61, count: 100_000)
        #expect(requestStatus(endlessTarget, feed: feed) == 414)
    }

    @Test("the head byte limit counts every byte up to the final CRLF", arguments: Feed.allCases)
    func headByteLimit(feed: Feed) {
        let head = wire("GET / HTTP/1.1", "Host: h")
        #expect(requestStatus(head, feed: feed, limits: HTTPLimits(maxHeaderBytes: head.count)) == nil)
        #expect(requestStatus(head, feed: feed, limits: HTTPLimits(maxHeaderBytes: head.count - 1)) == 431)
    }

    @Test("the header count limit is exact, and trailers count against it", arguments: Feed.allCases)
    func headerCountLimit(feed: Feed) {
        let limits = HTTPLimits(maxHeaderCount: 3)
        #expect(requestStatus(get("A: 1", "B: 2"), feed: feed, limits: limits) == nil)
        #expect(requestStatus(get("A: 1", "B: 2", "C: 3"), feed: feed, limits: limits) == 431)
        let chunked = get("Transfer-Encoding: chunked")
        #expect(requestStatus(chunked + Array("0\r\nT: 1\r\n\r\n".utf8), feed: feed, limits: limits) == nil)
        #expect(requestStatus(chunked + Array("0\r\nT: 1\r\nU: 2\r\n\r\n".utf8), feed: feed, limits: limits) == 431)
    }

    @Test("a Content-Length at the body limit passes; one over gets 413 before any body byte arrives")
    func bodyLimit() throws {
        let limits = HTTPLimits(maxBodyBytes: 4)
        #expect(requestStatus(get("Content-Length: 4") + Array("abcd".utf8), feed: .whole, limits: limits) == nil)
        #expect(requestStatus(get("Content-Length: 5"), feed: .whole, limits: limits) == 413)
        let chunked = get("Transfer-Encoding: chunked")
        #expect(requestStatus(chunked + Array("2\r\nab\r\n2\r\ncd\r\n0\r\n\r\n".utf8), feed: .whole, limits: limits) == nil)
        #expect(requestStatus(chunked + Array("2\r\nab\r\n3\r\n".utf8), feed: .whole, limits: limits) == 413)
    }

    // MARK: Robustness

    static let fuzzSeeds = [
        wire("POST /p HTTP/1.1", "Host: h", "Content-Length: 5", body: "hello"),
        wire("PUT /c HTTP/1.1", "Host: h", "Transfer-Encoding: chunked", body: "3;e=1\r\nabc\r\n0\r\nT: v\r\n\r\n"),
        wire("GET / HTTP/1.0", "Connection: keep-alive") + wire("OPTIONS * HTTP/1.1", "Host: h"),
    ]

    @Test("how the bytes are split never changes what is parsed or refused")
    func splitIndependence() {
        var random = SeededGenerator(state: 7230)
        let limits = HTTPLimits(maxRequestLineBytes: 40, maxHeaderBytes: 200, maxHeaderCount: 6, maxBodyBytes: 64)
        for round in 0..<600 {
            let bytes = mutated(Self.fuzzSeeds[round % Self.fuzzSeeds.count], using: &random)
            let outcomes = Feed.allCases.map { feed -> (parsed: ParsedRequests?, status: Int?) in
                do throws(HTTPParseError) {
                    return (try parseRequests(bytes, feed: feed, limits: limits), nil)
                } catch {
                    return (nil, error.status)
                }
            }
            #expect(outcomes[0].parsed == outcomes[1].parsed && outcomes[0].status == outcomes[1].status,
                    "round \(round): \(String(decoding: bytes, as: UTF8.self).debugDescription)")
        }
    }

    @Test("the word-at-a-time byte scans agree with the byte-by-byte rules")
    func wordScans() {
        var random = SeededGenerator(state: 64)
        let interesting: [UInt8] = [0x00, 0x09, 0x0D, 0x1F, 0x20, 0x21, 0x7E, 0x7F, 0x80, 0xFF, 0x61]
        for _ in 0..<3000 {
            let bytes = (0..<Int.random(in: 0...40, using: &random)).map { _ in
                Int.random(in: 0..<4, using: &random) == 0 ? interesting.randomElement(using: &random)! : 0x61
            }
            let start = Int.random(in: 0...bytes.count, using: &random)
            let range = start..<Int.random(in: start...bytes.count, using: &random)
            bytes.withUnsafeBytes { raw in
                #expect(HTTPSyntax.firstInvalidFieldValueByte(raw, range)
                    == range.first { !HTTPSyntax.isFieldValueByte(raw[$0]) })
                #expect(HTTPSyntax.firstNonVisibleASCII(raw, range) == range.first { raw[$0] <= 0x20 || raw[$0] >= 0x7F })
            }
        }
    }

    @Test("thousands of random and mutated requests never trap")
    func fuzzRequests() {
        var random = SeededGenerator(state: 2026)
        let limits = HTTPLimits(maxRequestLineBytes: 40, maxHeaderBytes: 200, maxHeaderCount: 6, maxBodyBytes: 64)
        var outcomes: [FuzzOutcome: Int] = [:]
        for round in 0..<4000 {
            var bytes: [UInt8]
            if round % 2 == 0 {
                bytes = (0..<Int.random(in: 0...160, using: &random)).map { _ in
                    Bool.random(using: &random) ? syntaxBytes.randomElement(using: &random)!
                        : UInt8.random(in: 0...255, using: &random)
                }
            } else {
                bytes = mutated(Self.fuzzSeeds[round % Self.fuzzSeeds.count], using: &random)
            }
            for parserLimits in [HTTPLimits(), limits] {
                var parser = RequestParser(limits: parserLimits)
                let outcome = fuzz(&parser, bytes, using: &random) { parser, raw throws(HTTPParseError) in
                    let (consumed, event) = try parser.next(raw)
                    if case .body(let range) = event { return (consumed, range) }
                    return (consumed, event == nil ? nil : 0..<0)
                }
                #expect(outcome != .brokeContract, "round \(round)")
                outcomes[outcome, default: 0] += 1
            }
        }
        // Both paths must be exercised, or the mutations are too weak to mean anything.
        #expect(outcomes[.accepted, default: 0] > 500 && outcomes[.rejected, default: 0] > 500, "\(outcomes)")
    }
}
