import Testing

@testable import RuntimeWebSocket

/// A byte stream and what a parser must make of it.
struct ParserVector: Sendable, CustomTestStringConvertible {
    var name: String
    var bytes: [UInt8]
    var role: WebSocketRole = .server
    var limits = WebSocketLimits()
    var deflate: PerMessageDeflateParameters?
    var events: [WebSocketEvent] = []
    var error: WebSocketProtocolError?

    var testDescription: String { name }
    var expected: Parsed { Parsed(events: events, error: error) }
}

let hello = bytes("Hello")
let binary256 = pseudoRandomBytes(256)
let binary64K = pseudoRandomBytes(65_536)

/// RFC 6455 §5.7, byte for byte.
let rfc6455Examples: [ParserVector] = [
    ParserVector(name: "single-frame unmasked text", bytes: [0x81, 0x05, 0x48, 0x65, 0x6C, 0x6C, 0x6F],
                 role: .client, events: [.text("Hello")]),
    ParserVector(name: "single-frame masked text",
                 bytes: [0x81, 0x85, 0x37, 0xFA, 0x21, 0x3D, 0x7F, 0x9F, 0x4D, 0x51, 0x58], events: [.text("Hello")]),
    ParserVector(name: "fragmented unmasked text",
                 bytes: [0x01, 0x03, 0x48, 0x65, 0x6C, 0x80, 0x02, 0x6C, 0x6F], role: .client, events: [.text("Hello")]),
    ParserVector(name: "unmasked ping", bytes: [0x89, 0x05, 0x48, 0x65, 0x6C, 0x6C, 0x6F], role: .client,
                 events: [.ping(hello)]),
    ParserVector(name: "masked pong",
                 bytes: [0x8A, 0x85, 0x37, 0xFA, 0x21, 0x3D, 0x7F, 0x9F, 0x4D, 0x51, 0x58], events: [.pong(hello)]),
    ParserVector(name: "256-byte binary, 16-bit length", bytes: [0x82, 0x7E, 0x01, 0x00] + binary256, role: .client,
                 events: [.binary(binary256)]),
    ParserVector(name: "64 KiB binary, 64-bit length",
                 bytes: [0x82, 0x7F, 0x00, 0x00, 0x00, 0x00, 0x00, 0x01, 0x00, 0x00] + binary64K, role: .client,
                 events: [.binary(binary64K)]),
]

/// Streams that are valid: fragmentation, control frames between fragments, close frames, odd lengths.
let validStreams: [ParserVector] = [
    ParserVector(name: "ping between fragments",
                 bytes: frame(Op.text, bytes("Hel"), fin: false) + frame(Op.ping, bytes("p"))
                     + frame(Op.continuation, bytes("lo")),
                 events: [.ping(bytes("p")), .text("Hello")]),
    ParserVector(name: "ping and pong between three fragments",
                 bytes: frame(Op.binary, [1], fin: false) + frame(Op.ping, []) + frame(Op.continuation, [2], fin: false)
                     + frame(Op.pong, [9]) + frame(Op.continuation, [3]),
                 events: [.ping([]), .pong([9]), .binary([1, 2, 3])]),
    ParserVector(name: "empty fragments", bytes: frame(Op.text, [], fin: false) + frame(Op.continuation, [], fin: false)
                     + frame(Op.continuation, bytes("x")) + frame(Op.binary, []),
                 events: [.text("x"), .binary([])]),
    ParserVector(name: "two messages back to back", bytes: frame(Op.text, bytes("a")) + frame(Op.binary, [0xFF]),
                 events: [.text("a"), .binary([0xFF])]),
    ParserVector(name: "non-minimal 16-bit length", bytes: frame(Op.text, hello, length: .sixteenBit),
                 events: [.text("Hello")]),
    ParserVector(name: "non-minimal 64-bit length", bytes: frame(Op.text, hello, length: .sixtyFourBit),
                 events: [.text("Hello")]),
    ParserVector(name: "control frame with a 16-bit length under 126", bytes: frame(Op.ping, hello, length: .sixteenBit),
                 events: [.ping(hello)]),
    ParserVector(name: "125-byte ping", bytes: frame(Op.ping, [UInt8](repeating: 7, count: 125)),
                 events: [.ping([UInt8](repeating: 7, count: 125))]),
    ParserVector(name: "empty close", bytes: frame(Op.close, []), events: [.close(code: nil, reason: "")]),
    ParserVector(name: "close with code and reason", bytes: frame(Op.close, closePayload(1000, bytes("bye ✓"))),
                 events: [.close(code: .normalClosure, reason: "bye ✓")]),
    ParserVector(name: "close with a 123-byte reason",
                 bytes: frame(Op.close, closePayload(4000, [UInt8](repeating: 0x61, count: 123))),
                 events: [.close(code: WebSocketCloseCode(4000), reason: String(repeating: "a", count: 123))]),
    ParserVector(name: "close between fragments, then nothing more",
                 bytes: frame(Op.text, bytes("Hel"), fin: false) + frame(Op.close, closePayload(1001))
                     + frame(Op.continuation, bytes("lo")),
                 events: [.close(code: .goingAway, reason: "")]),
    ParserVector(name: "bytes after a close are ignored, even garbage",
                 bytes: frame(Op.close, closePayload(1000)) + [0xFF, 0xFF, 0xFF], events: [.close(code: .normalClosure, reason: "")]),
    ParserVector(name: "text of every UTF-8 length", bytes: frame(Op.text, bytes("a é € 😀 \u{10FFFF}")),
                 events: [.text("a é € 😀 \u{10FFFF}")]),
    ParserVector(name: "message of exactly the limit", bytes: frame(Op.binary, [UInt8](repeating: 1, count: 10), fin: false)
                     + frame(Op.continuation, [UInt8](repeating: 2, count: 6)),
                 limits: WebSocketLimits(maxMessageBytes: 16),
                 events: [.binary([UInt8](repeating: 1, count: 10) + [UInt8](repeating: 2, count: 6))]),
]

/// Streams that break the protocol, each with the error (and so the close code) it must produce.
let protocolViolations: [ParserVector] = [
    ParserVector(name: "RSV2 set", bytes: frame(Op.text, hello, rsv: 0b010), error: .reservedBitsSet(bits: 0b010)),
    ParserVector(name: "RSV3 set", bytes: frame(Op.text, hello, rsv: 0b001), error: .reservedBitsSet(bits: 0b001)),
    ParserVector(name: "RSV1 without permessage-deflate", bytes: frame(Op.text, hello, rsv: 0b100),
                 error: .reservedBitsSet(bits: 0b100)),
    ParserVector(name: "RSV1 on a ping under permessage-deflate", bytes: frame(Op.ping, [], rsv: 0b100),
                 deflate: PerMessageDeflateParameters(), error: .compressedBitMisplaced(.ping)),
    ParserVector(name: "RSV1 on a continuation under permessage-deflate",
                 bytes: frame(Op.text, [0xF2], fin: false, rsv: 0b100) + frame(Op.continuation, [0x48], rsv: 0b100),
                 deflate: PerMessageDeflateParameters(), error: .compressedBitMisplaced(.continuation)),
    ParserVector(name: "reserved data opcode 3", bytes: frame(3, []), error: .reservedOpcode(3)),
    ParserVector(name: "reserved data opcode 7", bytes: frame(7, []), error: .reservedOpcode(7)),
    ParserVector(name: "reserved control opcode 0xB", bytes: frame(0xB, []), error: .reservedOpcode(0xB)),
    ParserVector(name: "reserved control opcode 0xF", bytes: frame(0xF, []), error: .reservedOpcode(0xF)),
    ParserVector(name: "unmasked frame to a server", bytes: frame(Op.text, hello, mask: nil), error: .unmaskedClientFrame),
    ParserVector(name: "masked frame to a client", bytes: frame(Op.text, hello), role: .client, error: .maskedServerFrame),
    ParserVector(name: "fragmented ping", bytes: frame(Op.ping, hello, fin: false), error: .fragmentedControlFrame(.ping)),
    ParserVector(name: "fragmented close", bytes: frame(Op.close, [], fin: false), error: .fragmentedControlFrame(.close)),
    ParserVector(name: "126-byte ping", bytes: frame(Op.ping, [UInt8](repeating: 0, count: 126)),
                 error: .controlPayloadTooLong(.ping, length: 126)),
    ParserVector(name: "pong announcing 64 KiB in the 64-bit form", bytes: frame(Op.pong, [], length: .raw64(65_536)),
                 error: .controlPayloadTooLong(.pong, length: 65_536)),
    ParserVector(name: "continuation with no message", bytes: frame(Op.continuation, hello),
                 error: .continuationWithoutMessage),
    ParserVector(name: "continuation after a finished message",
                 bytes: frame(Op.text, hello) + frame(Op.continuation, hello),
                 events: [.text("Hello")], error: .continuationWithoutMessage),
    ParserVector(name: "text frame inside a fragmented message",
                 bytes: frame(Op.text, bytes("a"), fin: false) + frame(Op.text, bytes("b")),
                 error: .dataFrameInsideMessage(.text)),
    ParserVector(name: "binary frame inside a fragmented message",
                 bytes: frame(Op.binary, [1], fin: false) + frame(Op.ping, []) + frame(Op.binary, [2]),
                 events: [.ping([])], error: .dataFrameInsideMessage(.binary)),
    ParserVector(name: "64-bit length with the top bit set", bytes: frame(Op.binary, [], length: .raw64(1 << 63)),
                 error: .lengthHighBitSet),
    ParserVector(name: "64-bit length of all ones", bytes: frame(Op.binary, [], length: .raw64(.max)),
                 error: .lengthHighBitSet),
    ParserVector(name: "close with a 1-byte payload", bytes: frame(Op.close, [0x03]), error: .closePayloadTooShort),
    ParserVector(name: "close reason not UTF-8", bytes: frame(Op.close, closePayload(1000, [0x61, 0xFF])),
                 error: .invalidUTF8CloseReason),
    ParserVector(name: "close reason ending inside a character", bytes: frame(Op.close, closePayload(1000, [0xE2, 0x82])),
                 error: .invalidUTF8CloseReason),
    ParserVector(name: "text not UTF-8", bytes: frame(Op.text, [0x61, 0xC0, 0x80]), error: .invalidUTF8),
    ParserVector(name: "text ending inside a character", bytes: frame(Op.text, [0x61, 0xE2, 0x82]), error: .invalidUTF8),
    ParserVector(name: "fragmented text ending inside a character",
                 bytes: frame(Op.text, [0xF0, 0x9F], fin: false) + frame(Op.continuation, [0x98]), error: .invalidUTF8),
    ParserVector(name: "invalid UTF-8 fails before the message is finished",
                 bytes: frame(Op.text, bytes("ok"), fin: false) + frame(Op.continuation, [0xED, 0xA0, 0x80], fin: false),
                 error: .invalidUTF8),
    ParserVector(name: "invalid UTF-8 fails at the bad byte, before the rest of the frame",
                 bytes: Array(frame(Op.text, [0x61, 0xF5] + [UInt8](repeating: 0x61, count: 100)).prefix(9)),
                 error: .invalidUTF8),
    ParserVector(name: "binary is not checked as UTF-8", bytes: frame(Op.binary, [0xFF, 0xC0]), events: [.binary([0xFF, 0xC0])]),
    ParserVector(name: "frame over the limit, refused from its header alone",
                 bytes: Array(frame(Op.binary, [UInt8](repeating: 0, count: 17)).prefix(6)),
                 limits: WebSocketLimits(maxMessageBytes: 16), error: .messageTooBig(limit: 16)),
    ParserVector(name: "huge announced length, refused from its header alone",
                 bytes: frame(Op.binary, [], length: .raw64(1 << 40)), error: .messageTooBig(limit: 1 << 20)),
    ParserVector(name: "fragments adding up past the limit",
                 bytes: frame(Op.binary, [UInt8](repeating: 0, count: 10), fin: false)
                     + Array(frame(Op.continuation, [UInt8](repeating: 0, count: 7)).prefix(6)),
                 limits: WebSocketLimits(maxMessageBytes: 16), error: .messageTooBig(limit: 16)),
]

/// Every close code a close frame may not carry.
let invalidCloseCodes: [UInt16] = [0, 1, 999, 1004, 1005, 1006, 1015, 1016, 1100, 2000, 2999, 5000, 9999, 65_535]
/// A sample of the ones it may.
let validCloseCodes: [UInt16] = [1000, 1001, 1002, 1003, 1007, 1008, 1009, 1010, 1011, 1012, 1013, 1014, 3000, 3999,
                                 4000, 4999]

@Suite("Frame parser")
struct FrameParserTests {
    @Test("RFC 6455 §5.7 examples", arguments: rfc6455Examples, Feed.allCases)
    func rfcExamples(vector: ParserVector, feed: Feed) {
        #expect(parse(vector.bytes, role: vector.role, feed: feed, limits: vector.limits, deflate: vector.deflate)
            == vector.expected)
    }

    @Test("valid streams", arguments: validStreams, Feed.allCases)
    func valid(vector: ParserVector, feed: Feed) {
        #expect(parse(vector.bytes, role: vector.role, feed: feed, limits: vector.limits, deflate: vector.deflate)
            == vector.expected)
    }

    @Test("protocol violations give their error and close code", arguments: protocolViolations, Feed.allCases)
    func violations(vector: ParserVector, feed: Feed) {
        #expect(parse(vector.bytes, role: vector.role, feed: feed, limits: vector.limits, deflate: vector.deflate)
            == vector.expected)
    }

    @Test("close codes that may not be sent are refused with 1002", arguments: invalidCloseCodes, Feed.allCases)
    func invalidCloseCode(code: UInt16, feed: Feed) {
        let result = parse(frame(Op.close, closePayload(code, bytes("x"))), feed: feed)
        #expect(result == Parsed(events: [], error: .invalidCloseCode(code)))
        #expect(result.error?.closeCode == .protocolError)
    }

    @Test("close codes that may be sent are reported", arguments: validCloseCodes)
    func validCloseCode(code: UInt16) {
        #expect(parse(frame(Op.close, closePayload(code))).events == [.close(code: WebSocketCloseCode(code), reason: "")])
    }

    @Test("each error carries the close code RFC 6455 §7.4.1 calls for")
    func closeCodes() {
        for vector in protocolViolations {
            guard let error = vector.error else { continue }
            let expected: WebSocketCloseCode = switch error {
            case .invalidUTF8, .invalidUTF8CloseReason: .invalidPayloadData
            case .messageTooBig: .messageTooBig
            default: .protocolError
            }
            #expect(error.closeCode == expected, "\(vector.name)")
            #expect(error.reason.utf8.count <= WebSocketLimits.maxCloseReasonBytes)
            #expect(!error.description.isEmpty)
        }
        #expect(WebSocketProtocolError.badCompressedData("x").closeCode == .invalidPayloadData)
        #expect(WebSocketProtocolError.compressionFailed("x").closeCode == .internalError)
    }

    @Test("UTF-8 split across fragments at every byte of every character",
          arguments: ["é", "€", "😀", "\u{10FFFF}", "a€b😀c"])
    func utf8AcrossFragments(text: String) {
        let payload = bytes("<" + text + ">")
        for split in 0...payload.count {
            let stream = frame(Op.text, Array(payload[..<split]), fin: false)
                + frame(Op.continuation, Array(payload[split...]))
            for feed in Feed.allCases {
                #expect(parse(stream, feed: feed) == Parsed(events: [.text("<" + text + ">")]), "split at \(split)")
            }
        }
        // One byte per fragment, with pings between them.
        var stream = frame(Op.text, [payload[0]], fin: false)
        for byte in payload.dropFirst().dropLast() { stream += frame(Op.ping, []) + frame(Op.continuation, [byte], fin: false) }
        stream += frame(Op.continuation, [payload.last!])
        let pings = [WebSocketEvent](repeating: .ping([]), count: payload.count - 2)
        #expect(parse(stream, feed: .byteByByte) == Parsed(events: pings + [.text("<" + text + ">")]))
    }

    @Test("a dead parser keeps throwing the same error")
    func deadParser() {
        let parser = WebSocketFrameParser(role: .server)
        #expect(parse(frame(Op.text, hello, mask: nil), with: parser).error == .unmaskedClientFrame)
        guard case .failure(let error) = next(parser, frame(Op.text, hello)) else {
            Issue.record("a dead parser parsed")
            return
        }
        #expect(error == .unmaskedClientFrame)
    }

    @Test("feed keeps the events that came before an error")
    func feedKeepsEvents() {
        let parser = WebSocketFrameParser(role: .server)
        var events: [WebSocketEvent] = []
        #expect(throws: WebSocketProtocolError.reservedOpcode(3)) {
            try parser.feed(frame(Op.text, hello) + frame(Op.ping, []) + frame(3, []), into: &events)
        }
        #expect(events == [.text("Hello"), .ping([])])
    }

    @Test("an event ends the call early; the rest is parsed by the next call")
    func eventStopsEarly() throws {
        let parser = WebSocketFrameParser(role: .client)
        let stream = frame(Op.text, bytes("one"), mask: nil) + frame(Op.text, bytes("two"), mask: nil)
        let first = try next(parser, stream).get()
        #expect(first.consumed == 5 && first.event == .text("one"))
        let second = try next(parser, Array(stream[5...])).get()
        #expect(second.consumed == 5 && second.event == .text("two"))
        let third = try next(parser, []).get()
        #expect(third.consumed == 0 && third.event == nil)
    }

    @Test("boundary and close state are reported")
    func state() {
        let parser = WebSocketFrameParser(role: .server)
        #expect(parser.isAtMessageBoundary && !parser.isClosed)
        _ = parse(Array(frame(Op.text, hello).prefix(3)), with: parser)
        #expect(!parser.isAtMessageBoundary)
        _ = parse(Array(frame(Op.text, hello).dropFirst(3)) + frame(Op.text, [0x61], fin: false), with: parser)
        #expect(!parser.isAtMessageBoundary, "a fragmented message is open")
        _ = parse(frame(Op.continuation, [0x62]), with: parser)
        #expect(parser.isAtMessageBoundary)
        _ = parse(frame(Op.close, []), with: parser)
        #expect(parser.isClosed)
    }

    @Test("limits at the extremes")
    func extremeLimits() {
        let unlimited = WebSocketLimits(maxMessageBytes: .max)
        #expect(unlimited.maxCompressedMessageBytes == .max)
        #expect(parse(frame(Op.text, hello), limits: unlimited) == Parsed(events: [.text("Hello")]))
        let nothing = WebSocketLimits(maxMessageBytes: 0)
        #expect(parse(frame(Op.text, []) + frame(Op.ping, hello), limits: nothing)
            == Parsed(events: [.text(""), .ping(hello)]), "control frames do not count against the message limit")
        #expect(parse(frame(Op.text, [0x61]), limits: nothing) == Parsed(events: [], error: .messageTooBig(limit: 0)))
    }

    @Test("a large message arrives intact in uneven pieces")
    func largeMessage() {
        let payload = pseudoRandomBytes(300_000)
        let stream = frame(Op.binary, Array(payload[..<100_000]), fin: false)
            + frame(Op.continuation, Array(payload[100_000...]))
        let parser = WebSocketFrameParser(role: .server)
        var result = Parsed()
        var offset = 0
        var size = 1
        while offset < stream.count {
            let end = min(offset + size, stream.count)
            result.events += parse(Array(stream[offset..<end]), with: parser).events
            offset = end
            size = size * 3 + 1
        }
        #expect(result.events == [.binary(payload)])
    }
}
