import RuntimeAPI
import Testing

@testable import RuntimeHTTP

/// Everything a response parser made of a byte stream, response by response.
struct ParsedResponses {
    var heads: [ResponseHead] = []
    /// One per completed response.
    var bodies: [[UInt8]] = []
    var trailers: [Headers] = []
    var leftover = 0
}

/// One call to `parser.next` with `bytes` (see `nextEvent` for requests on why this goes through a Result).
func nextResponseEvent(_ parser: inout ResponseParser, _ bytes: [UInt8]) throws(HTTPParseError)
    -> (consumed: Int, event: ResponseEvent?) {
    var outcome: Result<(Int, ResponseEvent?), HTTPParseError> = .success((0, nil))
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

/// Feeds `bytes` to a fresh parser as a client would, telling it before each response whether it answers a
/// HEAD (`toHEAD[i]` for the i-th response, false past the end), and calling `finishAtClose` at the end when
/// `closed`. Events must come as head, body..., end.
func parseResponses(_ bytes: [UInt8], feed: Feed, toHEAD: [Bool] = [], closed: Bool = false,
                    limits: HTTPLimits = HTTPLimits()) throws(HTTPParseError) -> ParsedResponses {
    var parser = ResponseParser(limits: limits)
    var result = ParsedResponses()
    var buffer: [UInt8] = []
    var openBody: [UInt8]?
    func expectNext() { parser.expectResponse(toHEAD: toHEAD.count > result.heads.count && toHEAD[result.heads.count]) }
    func record(_ event: ResponseEvent, data: [UInt8]) {
        switch event {
        case .head(let head):
            #expect(openBody == nil, "a head arrived inside a response")
            result.heads.append(head)
            openBody = []
        case .body:
            #expect(openBody != nil, "a body slice arrived outside a response")
            openBody?.append(contentsOf: data)
        case .end(let trailers):
            #expect(openBody != nil, "an end arrived outside a response")
            result.bodies.append(openBody ?? [])
            result.trailers.append(trailers)
            openBody = nil
            expectNext()
        }
    }
    expectNext()
    let pieces = feed == .whole ? [bytes[...]] : bytes.indices.map { bytes[$0...$0] }
    for piece in pieces {
        buffer.append(contentsOf: piece)
        while true {
            let (consumed, event) = try nextResponseEvent(&parser, buffer)
            var data: [UInt8] = []
            if case .body(let range) = event { data = Array(buffer[range]) }
            buffer.removeFirst(consumed)
            guard let event else { break }
            record(event, data: data)
        }
    }
    if closed, let event = try parser.finishAtClose() { record(event, data: []) }
    result.leftover = buffer.count
    return result
}

/// A response on the wire: `lines` joined with CRLF, the empty line, then `body`.
private func response(_ lines: String..., body: String = "") -> [UInt8] {
    Array((lines.joined(separator: "\r\n") + "\r\n\r\n" + body).utf8)
}

@Suite("Response parser")
struct ResponseParserTests {
    @Test("Content-Length and chunked responses, pipelined", arguments: Feed.allCases)
    func pipelined(feed: Feed) throws {
        let bytes = response("HTTP/1.1 200 OK", "Content-Length: 5", "Server: x", body: "hello")
            + response("HTTP/1.1 201 Created Here", "Transfer-Encoding: chunked", body: "3\r\nabc\r\n0\r\nT: 1\r\n\r\n")
            + response("HTTP/1.1 200", "Content-Length: 0")
        let parsed = try parseResponses(bytes, feed: feed)
        #expect(parsed.heads == [
            ResponseHead(status: 200, reason: "OK", headers: ["Content-Length": "5", "Server": "x"],
                         framing: .contentLength(5)),
            ResponseHead(status: 201, reason: "Created Here", headers: ["Transfer-Encoding": "chunked"],
                         framing: .chunked),
            ResponseHead(status: 200, reason: "", headers: ["Content-Length": "0"], framing: .contentLength(0)),
        ])
        #expect(parsed.bodies == [Array("hello".utf8), Array("abc".utf8), []])
        #expect(parsed.trailers == [Headers(), ["T": "1"], Headers()])
        #expect(parsed.leftover == 0)
    }

    @Test("HEAD answers, 204 and 304 have no body whatever their Content-Length says", arguments: Feed.allCases)
    func noBody(feed: Feed) throws {
        let bytes = response("HTTP/1.1 200 OK", "Content-Length: 50")
            + response("HTTP/1.1 204 No Content", "Content-Length: 7")
            + response("HTTP/1.1 304 Not Modified", "Transfer-Encoding: chunked")
            + response("HTTP/1.1 200 OK", "Content-Length: 2", body: "ok")
        let parsed = try parseResponses(bytes, feed: feed, toHEAD: [true])
        #expect(parsed.heads.map(\.framing) == [.none, .none, .none, .contentLength(2)])
        #expect(parsed.bodies == [[], [], [], Array("ok".utf8)])
    }

    @Test("interim 1xx responses are skipped; the final one is returned", arguments: Feed.allCases)
    func interimSkipped(feed: Feed) throws {
        let bytes = response("HTTP/1.1 100 Continue") + response("HTTP/1.1 103 Early Hints", "Link: </a>")
            + response("HTTP/1.1 200 OK", "Content-Length: 1", body: "x")
        let parsed = try parseResponses(bytes, feed: feed)
        #expect(parsed.heads.map(\.status) == [200])
        #expect(parsed.bodies == [Array("x".utf8)])
        #expect(parsed.leftover == 0)
    }

    @Test("a lone 100 Continue is consumed without an event")
    func lone100() throws {
        var parser = ResponseParser()
        let interim = response("HTTP/1.1 100 Continue")
        let step = try nextResponseEvent(&parser, interim + Array("HTTP/1.1 2".utf8))
        #expect(step.consumed == interim.count && step.event == nil)
    }

    @Test("101 Switching Protocols is returned, without a body and not kept alive")
    func switchingProtocols() throws {
        let parsed = try parseResponses(response("HTTP/1.1 101 Switching Protocols", "Upgrade: websocket"),
                                        feed: .whole)
        #expect(parsed.heads.map(\.status) == [101])
        #expect(parsed.heads.first?.framing == BodyFraming.none && parsed.heads.first?.keepAlive == false)
    }

    @Test("without framing headers the body runs until close", arguments: Feed.allCases)
    func untilClose(feed: Feed) throws {
        let bytes = response("HTTP/1.1 200 OK", "Content-Type: text/plain", body: "all of this\r\n\r\nis body")
        let parsed = try parseResponses(bytes, feed: feed, closed: true)
        #expect(parsed.heads.first?.framing == .untilClose && parsed.heads.first?.keepAlive == false)
        #expect(parsed.bodies == [Array("all of this\r\n\r\nis body".utf8)])
        let open = try parseResponses(bytes, feed: feed)
        #expect(open.bodies.isEmpty, "no end before the close")
    }

    @Test("closing mid-response throws; closing between responses does not")
    func closeMidResponse() throws {
        let complete = response("HTTP/1.1 200 OK", "Content-Length: 1", body: "x")
        #expect(try parseResponses(complete, feed: .whole, closed: true).bodies.count == 1)
        #expect(try parseResponses([], feed: .whole, closed: true).heads.isEmpty)
        for cut in [complete.count - 1, 5, complete.count - 3] {
            #expect(throws: HTTPParseError.self) {
                try parseResponses(Array(complete.prefix(cut)), feed: .whole, closed: true)
            }
        }
        let chunked = response("HTTP/1.1 200 OK", "Transfer-Encoding: chunked", body: "3\r\nabc\r\n")
        #expect(throws: HTTPParseError.self) { try parseResponses(chunked, feed: .whole, closed: true) }
    }

    @Test("keep-alive follows version, Connection and framing")
    func keepAlive() throws {
        func keepAlive(_ bytes: [UInt8]) throws -> Bool? {
            try parseResponses(bytes, feed: .whole).heads.first?.keepAlive
        }
        #expect(try keepAlive(response("HTTP/1.1 200 OK", "Content-Length: 0")) == true)
        #expect(try keepAlive(response("HTTP/1.1 200 OK", "Content-Length: 0", "Connection: close")) == false)
        #expect(try keepAlive(response("HTTP/1.0 200 OK", "Content-Length: 0")) == false)
        #expect(try keepAlive(response("HTTP/1.0 200 OK", "Content-Length: 0", "Connection: keep-alive")) == true)
    }

    @Test("bad responses get their status, however they are split", arguments: [
        BadInput("version only", raw: "HTTP/1.1\r\n\r\n", 400),
        BadInput("two-digit status", response("HTTP/1.1 20 OK"), 400),
        BadInput("four-digit status", response("HTTP/1.1 2000 OK"), 400),
        BadInput("status below 100", response("HTTP/1.1 099 Odd"), 400),
        BadInput("letters for a status", response("HTTP/1.1 abc OK"), 400),
        BadInput("two spaces before the status", response("HTTP/1.1  200 OK"), 400),
        BadInput("control character in the reason", response("HTTP/1.1 200 O\u{01}K"), 400),
        BadInput("HTTP/2.0", response("HTTP/2.0 200 OK"), 505),
        BadInput("lowercase http", response("http/1.1 200 OK"), 400),
        BadInput("bare LF", raw: "HTTP/1.1 200 OK\nContent-Length: 0\r\n\r\n", 400),
        BadInput("space before colon", response("HTTP/1.1 200 OK", "Content-Length : 0"), 400),
        BadInput("conflicting lengths", response("HTTP/1.1 200 OK", "Content-Length: 1", "Content-Length: 2"), 400),
        BadInput("TE and CL", response("HTTP/1.1 200 OK", "Transfer-Encoding: chunked", "Content-Length: 2"), 400),
        BadInput("gzip", response("HTTP/1.1 200 OK", "Transfer-Encoding: gzip"), 501),
        BadInput("over the body limit", response("HTTP/1.1 200 OK", "Content-Length: 99999999999"), 413),
        BadInput("bad chunk", response("HTTP/1.1 200 OK", "Transfer-Encoding: chunked", body: "q\r\n"), 400),
    ])
    func badResponses(_ input: BadInput) {
        for feed in Feed.allCases {
            var status: Int?
            do { _ = try parseResponses(input.bytes, feed: feed) } catch { status = error.status }
            #expect(status == input.status, "\(feed)")
        }
    }

    @Test("thousands of random and mutated responses never trap")
    func fuzzResponses() {
        var random = SeededGenerator(state: 9112)
        let seeds = [
            response("HTTP/1.1 200 OK", "Content-Length: 5", body: "hello"),
            response("HTTP/1.1 100 Continue") + response("HTTP/1.1 200 OK", "Transfer-Encoding: chunked",
                                                         body: "3\r\nabc\r\n0\r\n\r\n"),
            response("HTTP/1.0 404 Not Found", body: "until close"),
        ]
        var outcomes: [FuzzOutcome: Int] = [:]
        for round in 0..<3000 {
            var bytes = seeds[round % seeds.count]
            for _ in 0..<Int.random(in: 1...4, using: &random) {
                let at = Int.random(in: 0..<bytes.count, using: &random)
                if Bool.random(using: &random) {
                    bytes[at] = syntaxBytes.randomElement(using: &random)!
                } else {
                    bytes.insert(UInt8.random(in: 0...255, using: &random), at: at)
                }
            }
            var parser = ResponseParser(limits: HTTPLimits(maxHeaderBytes: 80, maxHeaderCount: 4, maxBodyBytes: 64))
            parser.expectResponse(toHEAD: round % 7 == 0)
            let outcome = fuzz(&parser, bytes, using: &random) { parser, raw throws(HTTPParseError) in
                let (consumed, event) = try parser.next(raw)
                if case .body(let range) = event { return (consumed, range) }
                return (consumed, event == nil ? nil : 0..<0)
            }
            #expect(outcome != .brokeContract, "round \(round)")
            if outcome != .brokeContract { _ = try? parser.finishAtClose() }
            outcomes[outcome, default: 0] += 1
        }
        #expect(outcomes[.accepted, default: 0] > 300 && outcomes[.rejected, default: 0] > 300, "\(outcomes)")
    }
}
