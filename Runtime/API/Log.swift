import Synchronization

/// Log lines from app code: written to the runtime's log with the app's name, and streamed live to
/// `runtime tail <app>`.
///
/// ```swift
/// Log.info("session \(id) created")
/// ```
public enum Log {
    public enum Level: String, Sendable { case debug, info, warn, error }

    /// Longest message kept; longer ones are cut (and say so).
    public static let maxMessageBytes = 16 * 1024

    public static func debug(_ message: @autoclosure () -> String) { write(.debug, message()) }
    public static func info(_ message: @autoclosure () -> String) { write(.info, message()) }
    public static func warn(_ message: @autoclosure () -> String) { write(.warn, message()) }
    public static func error(_ message: @autoclosure () -> String) { write(.error, message()) }

    static func write(_ level: Level, _ message: String) {
        var text = message
        if text.utf8.count > maxMessageBytes {
            text = String(decoding: text.utf8.prefix(maxMessageBytes), as: UTF8.self) + "… (cut)"
        }
        LogSink.current?(LogContext.app ?? "-", level, text)
    }
}

/// Which app's code is running (set by the runtime around each request and object event).
@_spi(Runtime) public enum LogContext {
    @TaskLocal public static var app: String?
}

/// Where `Log` lines go; installed by the runtime.
@_spi(Runtime) public enum LogSink {
    /// The closure lives in a box: a closure stored directly in the generic Mutex is re-abstracted (and
    /// wrapped in one more thunk) at every read, so calls would get slower with every line logged.
    private final class Box: Sendable {
        let write: @Sendable (String, Log.Level, String) -> Void
        init(_ write: @escaping @Sendable (String, Log.Level, String) -> Void) { self.write = write }
    }

    private static let sink = Mutex<Box?>(nil)
    public static var current: (@Sendable (String, Log.Level, String) -> Void)? { sink.withLock { $0?.write } }
    public static func install(_ write: (@Sendable (String, Log.Level, String) -> Void)?) {
        sink.withLock { $0 = write.map(Box.init) }
    }
}
