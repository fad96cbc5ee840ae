import Synchronization

/// Finds `localhost:PORT`, `127.0.0.1:PORT` and `0.0.0.0:PORT` in command output (ports 1024-65535) and
/// reports each port once for the bridge's lifetime, as the original did for its bash tool.
///
/// Threading: any thread.
final class PortDetector: Sendable {
    static let hosts = ["localhost:", "127.0.0.1:", "0.0.0.0:"]
    private let reported = Mutex<Set<Int>>([])

    /// Ports in `text` not reported before, in order of appearance; they count as reported now.
    func newPorts(in text: String) -> [Int] {
        let found = Self.ports(in: Array(text.utf8))
        guard !found.isEmpty else { return [] }
        return reported.withLock { reported in
            found.filter { reported.insert($0).inserted }
        }
    }

    static func ports(in bytes: [UInt8]) -> [Int] {
        var ports: [Int] = []
        let patterns = hosts.map { Array($0.utf8) }
        var index = 0
        while index < bytes.count {
            guard let pattern = patterns.first(where: { matches($0, in: bytes, at: index) }) else {
                index += 1
                continue
            }
            // The host must not be the tail of a longer name or number ("x127.0.0.1", "10.0.0.0").
            let boundary = index == 0 || !isNameByte(bytes[index - 1])
            var end = index + pattern.count
            var value = 0
            var digits = 0
            while end < bytes.count, bytes[end] >= 48, bytes[end] <= 57, digits <= 5 {
                value = value * 10 + Int(bytes[end] - 48)
                digits += 1
                end += 1
            }
            if boundary, (1...5).contains(digits), BridgeLimits.detectablePorts.contains(value),
               !ports.contains(value) {
                ports.append(value)
            }
            index = max(end, index + 1)
        }
        return ports
    }

    private static func matches(_ pattern: [UInt8], in bytes: [UInt8], at index: Int) -> Bool {
        guard index + pattern.count <= bytes.count else { return false }
        for offset in 0..<pattern.count where bytes[index + offset] != pattern[offset] { return false }
        return true
    }

    private static func isNameByte(_ byte: UInt8) -> Bool {
        (byte >= 48 && byte <= 57) || (byte >= 65 && byte <= 90) || (byte >= 97 && byte <= 122)
            || byte == UInt8(ascii: ".") || byte == UInt8(ascii: "-") || byte == UInt8(ascii: "_")
    }
}
