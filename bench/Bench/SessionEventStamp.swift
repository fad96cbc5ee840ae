/// The bench's sandbox events and how a client finds their stamp again. A bridge sends
/// `{"type":"tool_call","messageId":M,"tool":"bench","callId":"<seq>","status":"running",
/// "args":{"sentAt":<monotonic nanos>,"seq":<seq>}}`; the control plane stores it, adds `sandboxId` and
/// `timestamp`, and relays it to every client as `{"type":"sandbox_event","event":{...}}` (its JSON has
/// sorted keys, so `args` reads `{"sentAt":N,"seq":N}`). A client scans the frame's bytes for those two
/// fields instead of decoding the whole JSON: it reads every delivery of the run.
enum SessionEventStamp {
    private static let sentAtKey = Array(#""sentAt":"#.utf8)
    private static let seqKey = Array(#""seq":"#.utf8)
    private static let zero = UInt8(ascii: "0")

    /// The text of event `seq` of prompt `messageID`, stamped `sentAt`.
    static func toolCall(messageID: String, seq: Int, sentAt: UInt64) -> String {
        #"{"type":"tool_call","messageId":"\#(messageID)","tool":"bench","callId":"\#(seq)","status":"running","#
            + #""args":{"sentAt":\#(sentAt),"seq":\#(seq)}}"#
    }

    /// The stamp of a relayed bench event, or nil for any other message.
    static func parse(_ text: String) -> (sentAt: UInt64, seq: Int)? {
        var text = text
        return text.withUTF8 { bytes in
            guard let sentAt = number(after: sentAtKey, in: bytes),
                  let seq = number(after: seqKey, in: bytes), seq <= UInt64(Int.max) else { return nil }
            return (sentAt, Int(seq))
        }
    }

    /// Whether `text` has `needle` in it (bytes, no decoding): how a client tells the few control messages
    /// it acts on from the many it ignores (presence lists grow with the session) without decoding them.
    static func contains(_ text: String, _ needle: [UInt8]) -> Bool {
        var text = text
        return text.withUTF8 { find(needle, in: $0) != nil }
    }

    /// The decimal number right after the first `key` in `bytes`.
    private static func number(after key: [UInt8], in bytes: UnsafeBufferPointer<UInt8>) -> UInt64? {
        guard var position = find(key, in: bytes).map({ $0 + key.count }) else { return nil }
        var value: UInt64 = 0
        var digits = 0
        // 19 digits always fit in a UInt64.
        while position < bytes.count, bytes[position] >= zero, bytes[position] <= zero + 9, digits < 19 {
            value = value * 10 + UInt64(bytes[position] - zero)
            digits += 1
            position += 1
        }
        return digits > 0 ? value : nil
    }

    /// Where `needle` first starts in `bytes`.
    private static func find(_ needle: [UInt8], in bytes: UnsafeBufferPointer<UInt8>) -> Int? {
        guard let first = needle.first, bytes.count >= needle.count else { return nil }
        var index = 0
        let last = bytes.count - needle.count
        search: while index <= last {
            if bytes[index] != first {
                index += 1
                continue
            }
            for offset in 1..<needle.count where bytes[index + offset] != needle[offset] {
                index += 1
                continue search
            }
            return index
        }
        return nil
    }
}
