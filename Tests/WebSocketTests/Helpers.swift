import Testing

@testable import RuntimeWebSocket

/// How a test hands bytes to a parser: all at once, one byte per call as the slowest peer would, or in
/// pieces of three, which split headers and masking keys at every offset.
enum Feed: String, CaseIterable, Sendable, CustomTestStringConvertible {
    case whole, byteByByte, threes
    var testDescription: String { rawValue }

    func pieces(_ bytes: [UInt8]) -> [[UInt8]] {
        switch self {
        case .whole: [bytes]
        case .byteByByte: bytes.map { [$0] }
        case .threes: stride(from: 0, to: bytes.count, by: 3).map { Array(bytes[$0..<min($0 + 3, bytes.count)]) }
        }
    }
}

/// Everything a parser made of a byte stream: the events in order, then the error that stopped it, if any.
struct Parsed: Equatable, Sendable, CustomStringConvertible {
    var events: [WebSocketEvent] = []
    var error: WebSocketProtocolError?

    var description: String { "events \(events), error \(error.map(String.init(describing:)) ?? "none")" }
}

/// Feeds `bytes` to a fresh parser the way a connection would (call `next` until it returns no event, then
/// wait for more bytes), checking the contract on the way: an event-less call consumed everything.
func parse(_ bytes: [UInt8], role: WebSocketRole = .server, feed: Feed = .whole,
           limits: WebSocketLimits = WebSocketLimits(), deflate: PerMessageDeflateParameters? = nil) -> Parsed {
    let parser = WebSocketFrameParser(role: role, limits: limits, deflate: deflate)
    return parse(bytes, with: parser, feed: feed)
}

/// As `parse(_:role:feed:limits:deflate:)`, with a parser that may have seen earlier messages.
func parse(_ bytes: [UInt8], with parser: WebSocketFrameParser, feed: Feed = .whole) -> Parsed {
    var result = Parsed()
    for piece in feed.pieces(bytes) {
        var offset = 0
        var more = true
        while more {
            switch next(parser, Array(piece[offset...])) {
            case .failure(let error):
                result.error = error
                return result
            case .success(let (consumed, event)):
                #expect(consumed >= 0 && consumed <= piece.count - offset)
                offset += consumed
                if let event {
                    result.events.append(event)
                } else {
                    #expect(offset == piece.count, "an event-less call must consume every byte")
                    more = false
                }
            }
        }
    }
    return result
}

/// One call to `parser.next`. (A closure that throws typed errors straight through `withUnsafeBytes`
/// crashes the 6.3 compiler, hence the Result.)
func next(_ parser: WebSocketFrameParser, _ bytes: [UInt8])
    -> Result<(consumed: Int, event: WebSocketEvent?), WebSocketProtocolError> {
    bytes.withUnsafeBytes { raw in
        do throws(WebSocketProtocolError) {
            return .success(try parser.next(raw))
        } catch {
            return .failure(error)
        }
    }
}

/// The masking key of RFC 6455 §5.7's examples.
let rfcMask: [UInt8] = [0x37, 0xFA, 0x21, 0x3D]

/// How `frame` writes the payload length: the shortest form, or a longer one on purpose.
enum LengthForm {
    case minimal, sixteenBit, sixtyFourBit
    /// The 64-bit form with exactly this value, whatever the payload (for lengths no test can send).
    case raw64(UInt64)
}

/// Builds a frame by hand, apart from the encoder, so tests can state frames the encoder would never make.
/// `mask` nil sends it unmasked.
func frame(_ opcode: UInt8, _ payload: [UInt8], fin: Bool = true, rsv: UInt8 = 0, mask: [UInt8]? = rfcMask,
           length: LengthForm = .minimal) -> [UInt8] {
    var out: [UInt8] = [(fin ? 0x80 : 0) | rsv << 4 | opcode]
    let maskBit: UInt8 = mask == nil ? 0 : 0x80
    var form = length
    if case .minimal = form {
        form = payload.count <= 125 ? .minimal : payload.count <= 0xFFFF ? .sixteenBit : .sixtyFourBit
    }
    switch form {
    case .minimal:
        out.append(maskBit | UInt8(payload.count))
    case .sixteenBit:
        out += [maskBit | 126, UInt8(payload.count >> 8), UInt8(payload.count & 0xFF)]
    case .sixtyFourBit:
        out.append(maskBit | 127)
        out += (0..<8).reversed().map { UInt8(truncatingIfNeeded: UInt64(payload.count) >> (UInt64($0) * 8)) }
    case .raw64(let value):
        out.append(maskBit | 127)
        out += (0..<8).reversed().map { UInt8(truncatingIfNeeded: value >> (UInt64($0) * 8)) }
    }
    if let mask {
        out += mask
        out += payload.enumerated().map { $0.element ^ mask[$0.offset % 4] }
    } else {
        out += payload
    }
    return out
}

/// Opcodes as `frame` takes them.
enum Op {
    static let continuation: UInt8 = 0x0, text: UInt8 = 0x1, binary: UInt8 = 0x2
    static let close: UInt8 = 0x8, ping: UInt8 = 0x9, pong: UInt8 = 0xA
}

func bytes(_ text: String) -> [UInt8] { Array(text.utf8) }

/// A close frame payload: the code big-endian, then the reason's bytes.
func closePayload(_ code: UInt16, _ reason: [UInt8] = []) -> [UInt8] { [UInt8(code >> 8), UInt8(code & 0xFF)] + reason }

/// Bytes that look random but are the same on every run.
func pseudoRandomBytes(_ count: Int, seed: UInt64 = 0x9E37_79B9_7F4A_7C15) -> [UInt8] {
    var state = seed
    return (0..<count).map { _ in
        state = state &* 6_364_136_223_846_793_005 &+ 1_442_695_040_888_963_407
        return UInt8(truncatingIfNeeded: state >> 56)
    }
}
