/// Events waiting for the control plane while it is unreachable, oldest first. A token replaces the
/// buffered token of its part (each carries the whole text). Past `maxEvents` or `maxBytes` the oldest
/// events that settle nothing go first; essential ones (`BridgeEvent.isEssential`) are kept.
///
/// Threading: a value owned by `ControlPlaneLink`.
struct Outbox {
    private struct Entry {
        var text: String
        var key: String?
        var essential: Bool
    }

    let maxEvents: Int
    let maxBytes: Int
    /// Nil entries were replaced by a later token or dropped; `drain` skips them.
    private var entries: [Entry?] = []
    private var indexByKey: [String: Int] = [:]
    private(set) var count = 0
    private(set) var bytes = 0
    /// Events dropped for space since the last `drain`.
    private(set) var dropped = 0

    init(maxEvents: Int = BridgeLimits.maxBufferedEvents, maxBytes: Int = BridgeLimits.maxBufferedBytes) {
        self.maxEvents = maxEvents
        self.maxBytes = maxBytes
    }

    /// Keeps `event`, whose frame is `text` (`event.encoded()`).
    mutating func append(_ event: BridgeEvent, text: String) {
        let key = event.coalescingKey
        if let key, let old = indexByKey[key] { remove(at: old) }
        let entry = Entry(text: text, key: key, essential: event.isEssential)
        if let key { indexByKey[key] = entries.count }
        entries.append(entry)
        count += 1
        bytes += entry.text.utf8.count
        makeRoom()
    }

    /// Every waiting frame in order; the outbox is empty afterwards.
    mutating func drain() -> [String] {
        let texts = entries.compactMap { $0?.text }
        entries = []
        indexByKey = [:]
        count = 0
        bytes = 0
        dropped = 0
        return texts
    }

    private mutating func remove(at index: Int) {
        guard let entry = entries[index] else { return }
        entries[index] = nil
        if let key = entry.key, indexByKey[key] == index { indexByKey[key] = nil }
        count -= 1
        bytes -= entry.text.utf8.count
    }

    private mutating func makeRoom() {
        var index = 0
        while count > maxEvents || bytes > maxBytes, index < entries.count {
            if let entry = entries[index], !entry.essential {
                remove(at: index)
                dropped += 1
            }
            index += 1
        }
        // Compact now and then, so replaced tokens do not pile up as holes.
        if entries.count > 2 * max(count, 64) {
            let live = entries.compactMap { $0 }
            entries = live
            indexByKey = [:]
            for (position, entry) in live.enumerated() {
                if let key = entry.key { indexByKey[key] = position }
            }
        }
    }
}
