import RuntimeAPI
import Testing

@testable import RuntimeHTTP

/// A chunked body decoded: the data, the trailers once complete, and what was left unconsumed.
struct DecodedChunks: Equatable {
    var data: [UInt8] = []
    var trailers: Headers?
    var leftover: [UInt8] = []
}

/// Feeds `bytes` to a fresh decoder in pieces of the given sizes (the rest in one last piece), as a parser
/// would: call `next` until it returns no event, drop what it consumed. Checks that an event-less call
/// consumes nothing and that nothing comes after the end.
func decodeChunks(_ bytes: [UInt8], pieces: [Int] = [], limits: HTTPLimits = HTTPLimits(), headBytes: Int = 0,
                  headFields: Int = 0) throws(HTTPParseError) -> DecodedChunks {
    var decoder = ChunkedDecoder(limits: limits, headBytes: headBytes, headFields: headFields)
    var result = DecodedChunks()
    var buffer: [UInt8] = []
    var index = 0
    for size in pieces + [bytes.count] {
        let end = min(index + size, bytes.count)
        buffer += bytes[index..<end]
        index = end
        while result.trailers == nil {
            var outcome: Result<(Int, ChunkedDecoder.Event?), HTTPParseError> = .success((0, nil))
            buffer.withUnsafeBytes { raw in
                do throws(HTTPParseError) {
                    outcome = .success(try decoder.next(raw))
                } catch {
                    outcome = .failure(error)
                }
            }
            let (consumed, event) = try outcome.get()
            guard let event else {
                #expect(consumed == 0, "an event-less call must not consume")
                break
            }
            switch event {
            case .data(let range): result.data += buffer[range]
            case .end(let trailers): result.trailers = trailers
            }
            buffer.removeFirst(consumed)
        }
    }
    #expect(result.trailers == nil || decoder.isComplete)
    result.leftover = buffer
    return result
}

private func bytes(_ text: String) -> [UInt8] { Array(text.utf8) }

@Suite("Chunked decoder")
struct ChunkedDecoderTests {
    static let body = bytes("5\r\nhello\r\n1;ext=\"q\"\r\n \r\nB \t;a;b=c\r\n0123456789A\r\n0\r\nT: v\r\n\r\nNEXT")

    @Test("every split into two pieces decodes to the same data, trailers and leftover")
    func everyTwoWaySplit() throws {
        let expected = DecodedChunks(data: bytes("hello 0123456789A"), trailers: ["T": "v"], leftover: bytes("NEXT"))
        for split in 0...Self.body.count {
            #expect(try decodeChunks(Self.body, pieces: [split]) == expected, "split at \(split)")
        }
    }

    @Test("one byte at a time decodes the same")
    func byteByByte() throws {
        let decoded = try decodeChunks(Self.body, pieces: Array(repeating: 1, count: Self.body.count))
        #expect(decoded.data == bytes("hello 0123456789A"))
        #expect(decoded.trailers == ["T": "v"])
    }

    @Test("a lone last chunk ends the body with no data and no trailers")
    func emptyBody() throws {
        #expect(try decodeChunks(bytes("0\r\n\r\n")) == DecodedChunks(trailers: Headers()))
        #expect(try decodeChunks(bytes("000;x\r\n\r\n")) == DecodedChunks(trailers: Headers()))
    }

    @Test("an incomplete body returns no end and consumes only whole data")
    func incomplete() throws {
        let partial = try decodeChunks(bytes("5\r\nhel"))
        #expect(partial.data == bytes("hel") && partial.trailers == nil && partial.leftover.isEmpty)
        let sizeOnly = try decodeChunks(bytes("5\r\n"))
        #expect(sizeOnly.data.isEmpty && sizeOnly.leftover == bytes("5\r\n"))
        let trailersPending = try decodeChunks(bytes("2\r\nab\r\n0\r\nT: v\r\n"))
        #expect(trailersPending.data == bytes("ab") && trailersPending.trailers == nil)
        #expect(trailersPending.leftover == bytes("\r\n0\r\nT: v\r\n"))
    }

    @Test("15 hex digits are accepted as a size; the body limit then refuses it")
    func largestSize() {
        #expect(throws: HTTPParseError.bodyTooLarge(limit: HTTPLimits.defaultMaxBodyBytes)) {
            try decodeChunks(bytes("FFFFFFFFFFFFFFF\r\n"))
        }
    }

    @Test("sizes add up against the body limit", arguments: [
        ("4\r\nabcd\r\n0\r\n\r\n", nil),
        ("2\r\nab\r\n2\r\ncd\r\n0\r\n\r\n", nil),
        ("5\r\n", 413),
        ("2\r\nab\r\n3\r\n", 413),
    ] as [(String, Int?)])
    func bodyLimit(body: String, status: Int?) {
        let limits = HTTPLimits(maxBodyBytes: 4)
        var got: Int?
        do { _ = try decodeChunks(bytes(body), limits: limits) } catch { got = error.status }
        #expect(got == status)
    }

    @Test("trailers get what the head left of the header limits")
    func trailerBudget() {
        let limits = HTTPLimits(maxHeaderBytes: 100, maxHeaderCount: 2)
        let oneTrailer = bytes("0\r\nA: 1\r\n\r\n")
        #expect(throws: Never.self) { try decodeChunks(oneTrailer, limits: limits, headFields: 1) }
        #expect(throws: HTTPParseError.tooManyHeaders(limit: 2)) {
            try decodeChunks(oneTrailer, limits: limits, headFields: 2)
        }
        #expect(throws: HTTPParseError.headersTooLarge(limit: 100)) {
            try decodeChunks(oneTrailer, limits: limits, headBytes: 95)
        }
        // A head at the byte limit can still end its body with an empty trailer section.
        #expect(throws: Never.self) { try decodeChunks(bytes("0\r\n\r\n"), limits: limits, headBytes: 100) }
    }

    @Test("malformed chunk framing gets 400", arguments: [
        "zz\r\n", "0x5\r\nhello\r\n", "-5\r\n", "+5\r\n", " 5\r\n", ";ext\r\n", "\r\n",
        "10000000000000000\r\n", "0000000000000000\r\n",
        "5 x\r\n", "5;e\u{01}\r\n", "5\r\r\n", "5\n", "5\r\nhelloXY", "5\r\nhello\n", "5\r\nhello\r\r",
        "0\r\nT : v\r\n\r\n", "0\r\nT: v\r\n cont\r\n\r\n", "0\r\nT: v\n\r\n", "0\r\n\n",
    ])
    func malformed(body: String) {
        for pieces in [[], Array(repeating: 1, count: body.utf8.count)] {
            var status: Int?
            do { _ = try decodeChunks(bytes(body), pieces: pieces) } catch { status = error.status }
            #expect(status == 400, "pieces \(pieces.count)")
        }
    }

    @Test("a chunk-size line past its limit gets 400 before its CRLF arrives")
    func chunkLineLimit() throws {
        let atLimit = "1;" + String(repeating: "x", count: HTTPLimits.maxChunkLineBytes - 2)
        #expect(try decodeChunks(bytes(atLimit + "\r\nz\r\n0\r\n\r\n")).data == bytes("z"))
        // One byte over could still be its CR; two over cannot.
        #expect(try decodeChunks(bytes(atLimit + "x")).leftover.count == HTTPLimits.maxChunkLineBytes + 1)
        #expect(throws: HTTPParseError.self) { try decodeChunks(bytes(atLimit + "xx")) }
        #expect(throws: HTTPParseError.self) { try decodeChunks(bytes(atLimit + "x\r\n")) }
    }

    @Test("random bytes after valid prefixes never trap")
    func fuzzChunks() {
        var random = SeededGenerator(state: 77)
        let prefixes = [bytes(""), bytes("3\r\nabc"), bytes("3\r\nabc\r\n0\r\n")]
        var rejected = 0
        for round in 0..<3000 {
            let tail = (0..<Int.random(in: 0...40, using: &random)).map { _ in syntaxBytes.randomElement(using: &random)! }
            var decoder = ChunkedDecoder(limits: HTTPLimits(maxHeaderBytes: 64, maxHeaderCount: 3, maxBodyBytes: 300),
                                         headBytes: 0, headFields: 0)
            let outcome = fuzz(&decoder, prefixes[round % prefixes.count] + tail, using: &random) {
                decoder, raw throws(HTTPParseError) in
                let (consumed, event) = try decoder.next(raw)
                if case .data(let range) = event { return (consumed, range) }
                return (consumed, event == nil ? nil : 0..<0)
            }
            #expect(outcome != .brokeContract, "round \(round)")
            if outcome == .rejected { rejected += 1 }
        }
        #expect(rejected > 300)
    }
}
