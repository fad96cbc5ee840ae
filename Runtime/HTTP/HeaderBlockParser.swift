import RuntimeAPI

/// Reads the CRLF-terminated lines of a message head or a chunked trailer section, and turns header lines into
/// fields (RFC 9112 §5, RFC 9110 §5.5).
///
/// Ownership: nothing is consumed until the whole block is there, so the caller presents the same unconsumed
/// bytes again, with more appended, on every call; all offsets here are from the start of those bytes. The
/// parser remembers how far the search for the next line end got and parses each line once, when it is
/// complete, so however the block arrives split, each byte is looked at a bounded number of times.
struct HeaderBlockParser: Sendable {
    /// Offset of the first byte after the last complete line: where the next line starts, and, once
    /// `parseFields` returned true, the length of the block including its terminating empty line.
    private(set) var lineStart: Int
    /// Where the search for the next LF resumes.
    private var scanned: Int
    private let blockStart: Int
    private let maxBytes: Int
    private let maxFields: Int
    /// Errors name the configured limits, not what was left of them after the head (for trailers).
    private let reportedMaxBytes: Int
    private let reportedMaxFields: Int
    /// Whether header fields feed `framing`; trailer fields must never change how a message is framed.
    private let collectsFraming: Bool
    /// Room for a typical request's fields, so the array rarely regrows.
    private(set) var headers = Headers(reservingCapacity: 16)
    private(set) var fieldCount = 0
    private(set) var framing = FramingFields()

    /// - Parameters:
    ///   - start: offset of the block's first line in the bytes the caller will present.
    ///   - maxBytes: how many bytes the block may take, line ends included; past it, 431.
    ///   - maxFields: how many field lines it may hold; past it, 431.
    ///   - reportedLimits: the limits a 431 names (`maxHeaderBytes`, `maxHeaderCount`).
    init(start: Int, maxBytes: Int, maxFields: Int, reportedLimits: HTTPLimits, collectsFraming: Bool) {
        lineStart = start
        scanned = start
        blockStart = start
        self.maxBytes = max(maxBytes, 0)
        self.maxFields = max(maxFields, 0)
        reportedMaxBytes = reportedLimits.maxHeaderBytes
        reportedMaxFields = reportedLimits.maxHeaderCount
        self.collectsFraming = collectsFraming
    }

    /// True until a call has looked at any byte: nothing of the block has arrived.
    var isUntouched: Bool { scanned == blockStart }

    /// The next complete line, without its CRLF, or nil when more bytes are needed.
    ///
    /// Throws 400 for a bare LF, `lineLimit.error` once the current line is certain to be longer than
    /// `lineLimit.bytes` (even before its CRLF arrives), and 431 once the block is certain to be too long.
    mutating func nextLine(_ bytes: UnsafeRawBufferPointer,
                           lineLimit: (bytes: Int, error: HTTPParseError)? = nil) throws(HTTPParseError)
        -> Range<Int>? {
        precondition(scanned <= bytes.count, "the unconsumed bytes must be presented again on every call")
        let blockEnd = HTTPSyntax.windowEnd(start: blockStart, length: maxBytes, count: bytes.count)
        var searchEnd = blockEnd
        // The line may take its limit plus CR and LF.
        let lineWindow = lineLimit.map { $0.bytes < Int.max - 2 ? max($0.bytes, 0) + 2 : Int.max } ?? Int.max
        let lineEnd = HTTPSyntax.windowEnd(start: lineStart, length: lineWindow, count: bytes.count)
        if lineEnd < searchEnd { searchEnd = lineEnd }

        guard let lf = HTTPSyntax.firstLF(in: bytes, from: scanned, to: searchEnd) else {
            if let lineLimit, searchEnd == lineEnd, lineEnd - lineStart >= lineWindow { throw lineLimit.error }
            if blockEnd - blockStart >= maxBytes { throw .headersTooLarge(limit: reportedMaxBytes) }
            scanned = searchEnd
            return nil
        }
        guard lf > lineStart, bytes[lf - 1] == HTTPSyntax.cr else {
            throw .badRequest("line ends in a bare LF (lines must end with CRLF)")
        }
        let line = lineStart..<(lf - 1)
        lineStart = lf + 1
        scanned = lf + 1
        return line
    }

    /// Parses field lines up to and including the empty line that ends the block. Returns true when that line
    /// has been read (`lineStart` is then the block's end), false when more bytes are needed.
    mutating func parseFields(_ bytes: UnsafeRawBufferPointer) throws(HTTPParseError) -> Bool {
        while let line = try nextLine(bytes) {
            if line.isEmpty { return true }
            try addField(bytes, line)
        }
        return false
    }

    private mutating func addField(_ bytes: UnsafeRawBufferPointer, _ line: Range<Int>) throws(HTTPParseError) {
        fieldCount += 1
        guard fieldCount <= maxFields else { throw .tooManyHeaders(limit: reportedMaxFields) }
        guard !HTTPSyntax.isWhitespace(bytes[line.lowerBound]) else {
            throw .badRequest("header line starts with a space or tab (obsolete line folding is not allowed)")
        }
        var colon = line.lowerBound
        while colon < line.upperBound, HTTPSyntax.isToken(bytes[colon]) { colon += 1 }
        guard colon < line.upperBound else {
            throw .badRequest("header line has no colon: \(HTTPSyntax.quoted(bytes, line))")
        }
        let stop = bytes[colon]
        guard stop == HTTPSyntax.colon else {
            if HTTPSyntax.isWhitespace(stop) {
                throw .badRequest("header name has a space before the colon: \(HTTPSyntax.quoted(bytes, line))")
            }
            if stop == HTTPSyntax.cr { throw .badRequest("bare CR in a header name (lines must end with CRLF)") }
            throw .badRequest("header name contains an invalid character: \(HTTPSyntax.quoted(bytes, line))")
        }
        guard colon > line.lowerBound else { throw .badRequest("header line has an empty name") }
        let name = line.lowerBound..<colon
        let value = HTTPSyntax.trimmingWhitespace(bytes, (colon + 1)..<line.upperBound)
        if let index = HTTPSyntax.firstInvalidFieldValueByte(bytes, value) {
            if bytes[index] == HTTPSyntax.cr {
                throw .badRequest("bare CR in the value of \(HTTPSyntax.quoted(bytes, name)) (lines must end with CRLF)")
            }
            throw .badRequest("value of \(HTTPSyntax.quoted(bytes, name)) contains a control character")
        }
        if collectsFraming { try framing.record(bytes, name: name, value: value) }
        headers.add(HTTPSyntax.string(bytes, name), HTTPSyntax.string(bytes, value))
    }
}
