#if canImport(Glibc)
import Glibc
#endif

/// The bridge's log: one line per entry on standard error, which the provider keeps with the sandbox.
/// Never given a token: callers log redacted text.
enum BridgeLog {
    enum Level: String { case info, warn, error }

    static func info(_ message: String) { write(.info, message) }
    static func warn(_ message: String) { write(.warn, message) }
    static func error(_ message: String) { write(.error, message) }

    static func write(_ level: Level, _ message: String) {
        var line = "dispatch-bridge: \(level.rawValue): \(message)\n"
        // One write call per line, so lines from different threads do not interleave.
        line.withUTF8 { bytes in _ = Glibc.write(STDERR_FILENO, bytes.baseAddress, bytes.count) }
    }
}
