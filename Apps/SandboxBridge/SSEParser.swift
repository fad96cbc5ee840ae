/// Server-sent events from bytes, incrementally: what `GET /event` streams. Lines end with LF, CRLF or
/// CR; `data:` lines (with or without one space after the colon) of one event are joined with LF; a
/// blank line ends the event. Comments (`:` lines) and the other fields (`event`, `id`, `retry`) are
/// skipped: OpenCode puts the type inside the JSON.
///
/// An event whose data passes `maxEventBytes` is skipped whole, without being buffered.
///
/// Threading: a value, owned by one reader.
struct SSEParser {
    let maxEventBytes: Int
    private var line: [UInt8] = []
    private var data: [UInt8] = []
    private var hasData = false
    /// The current event is over the limit: its lines are dropped until the blank line.
    private var skipping = false
    /// The last byte was a CR, so an LF right after it ends nothing more.
    private var afterCR = false
    /// The current line has bytes (kept or, while skipping, dropped): it is not the blank line.
    private var lineStarted = false
    /// Events skipped for size so far.
    private(set) var skipped = 0

    init(maxEventBytes: Int = BridgeLimits.maxSSEEventBytes) { self.maxEventBytes = maxEventBytes }

    /// The data of each event the bytes complete.
    mutating func feed(_ bytes: some Sequence<UInt8>) -> [[UInt8]] {
        var events: [[UInt8]] = []
        for byte in bytes {
            if afterCR {
                afterCR = false
                if byte == 10 { continue }
            }
            if byte == 10 || byte == 13 {
                afterCR = byte == 13
                if let event = endLine() { events.append(event) }
                lineStarted = false
                continue
            }
            lineStarted = true
            guard !skipping else { continue }
            line.append(byte)
            if line.count + data.count > maxEventBytes {
                skipping = true
                skipped += 1
                line = []
                data = []
                hasData = false
            }
        }
        return events
    }

    private mutating func endLine() -> [UInt8]? {
        defer { line = [] }
        if !lineStarted {
            // Blank line: the event ends.
            let wasSkipping = skipping
            skipping = false
            guard hasData, !wasSkipping else {
                data = []
                hasData = false
                return nil
            }
            let event = data
            data = []
            hasData = false
            return event
        }
        guard !skipping else { return nil }
        let colon = line.firstIndex(of: UInt8(ascii: ":")) ?? line.endIndex
        guard colon != line.startIndex else { return nil }
        guard line[..<colon].elementsEqual("data".utf8) else { return nil }
        var value = colon < line.endIndex ? line[(colon + 1)...] : []
        if value.first == UInt8(ascii: " ") { value = value.dropFirst() }
        if hasData { data.append(10) }
        data.append(contentsOf: value)
        hasData = true
        return nil
    }
}
