/// The text of a `bench ws broadcast` message: "<monotonic nanos> <sender index> " padded with "x" to the
/// message size (longer when the size is too small for the stamp). Every member that receives it records
/// now minus the nanos as delivery latency; the sender knows its own message by the index.
enum BroadcastStamp {
    private static let space = UInt8(ascii: " ")
    private static let padding = UInt8(ascii: "x")
    private static let zero = UInt8(ascii: "0")

    /// Replaces `bytes` with the message stamped `sentAt` by `sender`, `size` bytes long.
    static func write(sentAt: UInt64, sender: Int, size: Int, into bytes: inout [UInt8]) {
        bytes.removeAll(keepingCapacity: true)
        appendDecimal(sentAt, to: &bytes)
        bytes.append(space)
        appendDecimal(UInt64(sender), to: &bytes)
        bytes.append(space)
        if bytes.count < size { bytes.append(contentsOf: repeatElement(padding, count: size - bytes.count)) }
    }

    /// The stamp of a received message, or nil when it is not one of ours.
    static func parse(_ text: String) -> (sentAt: UInt64, sender: Int)? {
        var sentAt: UInt64?
        var value: UInt64 = 0
        var digits = 0
        for byte in text.utf8 {
            if byte == space {
                guard digits > 0 else { return nil }
                guard let sentAt else {
                    sentAt = value
                    value = 0
                    digits = 0
                    continue
                }
                return value <= UInt64(Int.max) ? (sentAt, Int(value)) : nil
            }
            // 19 digits always fit in a UInt64.
            guard byte >= zero, byte <= zero + 9, digits < 19 else { return nil }
            value = value * 10 + UInt64(byte - zero)
            digits += 1
        }
        return nil
    }

    private static func appendDecimal(_ value: UInt64, to bytes: inout [UInt8]) {
        var digits: [UInt8] = []
        var rest = value
        repeat {
            digits.append(zero + UInt8(rest % 10))
            rest /= 10
        } while rest > 0
        bytes.append(contentsOf: digits.reversed())
    }
}
