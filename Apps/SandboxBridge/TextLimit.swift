/// Cutting text to a byte budget without splitting a character's UTF-8 sequence.
enum TextLimit {
    /// `text` if it fits in `maxBytes` UTF-8 bytes, else its longest prefix that does, then a note saying
    /// how much was left out.
    static func truncate(_ text: String, maxBytes: Int) -> String {
        let count = text.utf8.count
        guard count > maxBytes else { return text }
        let kept = prefix(Array(text.utf8), maxBytes: maxBytes)
        return String(decoding: kept, as: UTF8.self) + note(omitted: count - kept.count)
    }

    /// The longest prefix of `bytes` within `maxBytes` that ends on a character boundary.
    static func prefix(_ bytes: [UInt8], maxBytes: Int) -> ArraySlice<UInt8> {
        guard bytes.count > maxBytes else { return bytes[...] }
        var end = max(0, maxBytes)
        // Back off continuation bytes (10xxxxxx) so the cut falls before a sequence's lead byte.
        while end > 0, bytes[end] & 0xC0 == 0x80 { end -= 1 }
        return bytes[..<end]
    }

    static func note(omitted bytes: Int) -> String { "\n[output truncated: \(bytes) more bytes not shown]" }

    /// What marks text cut only so its event fits the outgoing limit (escaping made it larger than its bytes).
    static let fitNote = "\n[cut to fit the event size limit]"

    /// `text` cut to `maxBytes` with `fitNote`, for an event that would not fit otherwise.
    static func fit(_ text: String, maxBytes: Int) -> String {
        guard text.utf8.count > maxBytes else { return text }
        return String(decoding: prefix(Array(text.utf8), maxBytes: maxBytes), as: UTF8.self) + fitNote
    }
}

/// A part's text as it grows (the shell agent's output): at most `limit` bytes are kept; later bytes are
/// counted, and the text then ends with a note saying how many were left out.
struct CappedText {
    let limit: Int
    private var kept: [UInt8] = []
    private(set) var omitted = 0

    init(limit: Int) { self.limit = limit }

    var isEmpty: Bool { kept.isEmpty && omitted == 0 }

    mutating func append(_ bytes: some Collection<UInt8>) {
        let room = limit - kept.count
        // Once a cut was made nothing more is kept, so the text stays a prefix of the output.
        guard omitted == 0, room > 0 else {
            omitted += bytes.count
            return
        }
        if bytes.count <= room {
            kept.append(contentsOf: bytes)
        } else {
            let all = Array(bytes)
            let fitting = TextLimit.prefix(all, maxBytes: room)
            kept.append(contentsOf: fitting)
            omitted += all.count - fitting.count
        }
    }

    /// The kept bytes as text (an incomplete trailing sequence shows as U+FFFD until it completes), plus
    /// the note when something was left out.
    var text: String {
        let body = String(decoding: kept, as: UTF8.self)
        return omitted > 0 ? body + TextLimit.note(omitted: omitted) : body
    }
}
