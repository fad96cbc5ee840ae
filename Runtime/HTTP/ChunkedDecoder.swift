import RuntimeAPI

/// Decodes a chunked body (RFC 9112 §7.1) for the request and response parsers.
///
/// Ownership and contract are those of `RequestParser.next`: `next` parses from the start of the bytes it is
/// given and returns how many it consumed with at most one event; unconsumed bytes must be presented again.
/// It never consumes without returning an event, so `event == nil` always comes with `consumed == 0`. The
/// CRLF after a chunk's data is checked together with the next size line, and the last chunk together with
/// its whole trailer section, which is why a partial trailer section stays unconsumed.
struct ChunkedDecoder: Sendable {
    /// What one call produced.
    enum Event: Equatable, Sendable {
        /// Chunk data: a slice of the bytes passed to `next`.
        case data(Range<Int>)
        /// The last chunk and trailer section have been read; the body is complete.
        case end(trailers: Headers)
    }

    private enum State: Sendable {
        /// A chunk-size line comes next, after the CRLF closing the previous chunk's data when `afterData`.
        /// `scanned` is how far the search for the size line's LF got.
        case chunkStart(afterData: Bool, scanned: Int)
        /// Inside a chunk's data.
        case data(remaining: Int)
        /// The last chunk has been seen; its trailer section is being read (nothing consumed yet).
        case trailers(HeaderBlockParser)
        /// The body is complete; `next` returns nothing.
        case done
    }

    private var state = State.chunkStart(afterData: false, scanned: 0)
    /// Data bytes announced so far, never more than `maxBodyBytes`.
    private var received = 0
    private let maxBodyBytes: Int
    private let trailerBytes: Int
    private let trailerFields: Int
    private let limits: HTTPLimits

    /// - Parameters:
    ///   - limits: `maxBodyBytes` bounds the sum of chunk sizes (413); errors quote these limits.
    ///   - headBytes: bytes the head took; the trailer section gets what is left of `maxHeaderBytes`, plus the
    ///     two bytes of its terminating CRLF so a head at the limit can still end its body.
    ///   - headFields: fields the head had; trailers get what is left of `maxHeaderCount`.
    init(limits: HTTPLimits, headBytes: Int, headFields: Int) {
        self.limits = limits
        maxBodyBytes = max(limits.maxBodyBytes, 0)
        let terminatorBytes = 2
        trailerBytes = max(limits.maxHeaderBytes - headBytes, 0) + terminatorBytes
        trailerFields = max(limits.maxHeaderCount - headFields, 0)
    }

    /// True once the last chunk and its trailers have been returned.
    var isComplete: Bool {
        if case .done = state { return true }
        return false
    }

    /// Parses from the start of `bytes`; see the type's contract. Throws 400 for malformed framing, 413 when
    /// the announced sizes pass `maxBodyBytes`, 431 when the trailers pass the header limits.
    mutating func next(_ bytes: UnsafeRawBufferPointer) throws(HTTPParseError) -> (consumed: Int, event: Event?) {
        switch state {
        case .data(let remaining):
            let length = min(remaining, bytes.count)
            guard length > 0 else { return (0, nil) }
            state = length == remaining ? .chunkStart(afterData: true, scanned: 0) : .data(remaining: remaining - length)
            return (length, .data(0..<length))
        case .chunkStart(let afterData, let scanned):
            return try startChunk(bytes, afterData: afterData, scanned: scanned)
        case .trailers(var block):
            // Drop the state's copy so the block's field array is uniquely owned and appends do not copy it.
            state = .done
            guard try block.parseFields(bytes) else {
                state = .trailers(block)
                return (0, nil)
            }
            return (block.lineStart, .end(trailers: block.headers))
        case .done:
            return (0, nil)
        }
    }

    private mutating func startChunk(_ bytes: UnsafeRawBufferPointer, afterData: Bool, scanned: Int)
        throws(HTTPParseError) -> (consumed: Int, event: Event?) {
        var lineStart = 0
        if afterData {
            let crlfBytes = 2
            guard bytes.count >= crlfBytes else {
                if bytes.count == 1, bytes[0] != HTTPSyntax.cr { throw Self.missingCRLF }
                return (0, nil)
            }
            guard bytes[0] == HTTPSyntax.cr, bytes[1] == HTTPSyntax.lf else { throw Self.missingCRLF }
            lineStart = crlfBytes
        }
        // The size line may take its limit plus CR and LF.
        let lineWindow = HTTPLimits.maxChunkLineBytes + 2
        let searchEnd = HTTPSyntax.windowEnd(start: lineStart, length: lineWindow, count: bytes.count)
        guard let lf = HTTPSyntax.firstLF(in: bytes, from: max(scanned, lineStart), to: searchEnd) else {
            if searchEnd - lineStart >= lineWindow {
                throw .badRequest("chunk size line is longer than \(HTTPLimits.maxChunkLineBytes) bytes")
            }
            state = .chunkStart(afterData: afterData, scanned: searchEnd)
            return (0, nil)
        }
        guard lf > lineStart, bytes[lf - 1] == HTTPSyntax.cr else {
            throw .badRequest("chunk size line ends in a bare LF (lines must end with CRLF)")
        }
        let size = try Self.parseChunkSize(bytes, lineStart..<(lf - 1))
        guard size <= maxBodyBytes - received else { throw .bodyTooLarge(limit: limits.maxBodyBytes) }
        let dataStart = lf + 1

        if size == 0 {
            state = .trailers(HeaderBlockParser(start: dataStart, maxBytes: trailerBytes, maxFields: trailerFields,
                                                reportedLimits: limits, collectsFraming: false))
            return try next(bytes)
        }
        let available = bytes.count - dataStart
        guard available > 0 else {
            // Remember the line end so the next call finds it at once; nothing is committed until data arrives.
            state = .chunkStart(afterData: afterData, scanned: lf)
            return (0, nil)
        }
        received += size
        let length = min(size, available)
        state = length == size ? .chunkStart(afterData: true, scanned: 0) : .data(remaining: size - length)
        return (dataStart + length, .data(dataStart..<(dataStart + length)))
    }

    private static let missingCRLF = HTTPParseError.badRequest("chunk data is not followed by CRLF")

    /// The size in a chunk-size line: 1 to `maxChunkSizeDigits` hex digits, then optional whitespace and a
    /// `;extension` (ignored; RFC 9112 §7.1.1 lets a recipient ignore extensions it does not understand), which
    /// may not hold control characters.
    static func parseChunkSize(_ bytes: UnsafeRawBufferPointer, _ line: Range<Int>) throws(HTTPParseError) -> Int {
        var index = line.lowerBound
        var size = 0
        while index < line.upperBound, let digit = hexValue(bytes[index]) {
            guard index - line.lowerBound < HTTPLimits.maxChunkSizeDigits else {
                throw .badRequest("chunk size has more than \(HTTPLimits.maxChunkSizeDigits) hex digits")
            }
            size = size << 4 | digit
            index += 1
        }
        guard index > line.lowerBound else {
            throw .badRequest("chunk size line does not start with a hex size: \(HTTPSyntax.quoted(bytes, line))")
        }
        while index < line.upperBound, HTTPSyntax.isWhitespace(bytes[index]) { index += 1 }
        guard index < line.upperBound else { return size }
        guard bytes[index] == HTTPSyntax.semicolon else {
            throw .badRequest("chunk size is followed by something other than an extension: \(HTTPSyntax.quoted(bytes, line))")
        }
        for offset in index..<line.upperBound where !HTTPSyntax.isFieldValueByte(bytes[offset]) {
            throw .badRequest("chunk extension contains a control character")
        }
        return size
    }

    @inline(__always)
    private static func hexValue(_ byte: UInt8) -> Int? {
        switch byte {
        case 0x30...0x39: Int(byte &- 0x30)
        case 0x41...0x46: Int(byte &- 0x37)
        case 0x61...0x66: Int(byte &- 0x57)
        default: nil
        }
    }
}
