#if canImport(Glibc)
import Glibc
#endif

/// Buffered lines for one loop, written to a descriptor with one `write` per flush instead of one per
/// line. The owner flushes at the end of busy periods (a short loop timer) and when the buffer is full.
///
/// Threading: loop-bound.
final class LogWriter {
    /// Flush once this many bytes are buffered.
    static let flushBytes = 32 * 1024
    private let fd: Int32
    private var buffer: [UInt8] = []

    init(fd: Int32) {
        self.fd = fd
        buffer.reserveCapacity(Self.flushBytes * 2)
    }

    var isEmpty: Bool { buffer.isEmpty }

    func append(_ line: String) {
        var line = line
        line.withUTF8 { buffer.append(contentsOf: $0) }
        buffer.append(0x0A)
        if buffer.count >= Self.flushBytes { flush() }
    }

    func flush() {
        var offset = 0
        while offset < buffer.count {
            let written = buffer.withUnsafeBytes { Glibc.write(fd, $0.baseAddress! + offset, $0.count - offset) }
            if written < 0 {
                if errno == EINTR || errno == EAGAIN { continue }
                break  // a closed stdout must not take the server down; the lines are dropped
            }
            offset += written
        }
        buffer.removeAll(keepingCapacity: true)
    }
}

/// Quotes a string for JSON (log lines are built by hand to keep Foundation off the request path).
func jsonQuoted(_ text: String) -> String {
    var out = "\""
    for scalar in text.unicodeScalars {
        switch scalar {
        case "\"": out += "\\\""
        case "\\": out += "\\\\"
        case "\n": out += "\\n"
        case "\r": out += "\\r"
        case "\t": out += "\\t"
        case _ where scalar.value < 0x20:
            let hex = String(scalar.value, radix: 16)
            out += "\\u" + String(repeating: "0", count: 4 - hex.count) + hex
        default: out.unicodeScalars.append(scalar)
        }
    }
    return out + "\""
}

/// "2026-11-25T17:53:17Z" for the current second.
public func isoTimestamp() -> String {
    var seconds = time(nil)
    var parts = tm()
    gmtime_r(&seconds, &parts)
    func two(_ value: Int32) -> String { value < 10 ? "0\(value)" : "\(value)" }
    return "\(1900 + parts.tm_year)-\(two(parts.tm_mon + 1))-\(two(parts.tm_mday))T"
        + "\(two(parts.tm_hour)):\(two(parts.tm_min)):\(two(parts.tm_sec))Z"
}
