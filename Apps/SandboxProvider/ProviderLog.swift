import RuntimeAPI

/// `Log` from any thread. The runtime names the app of a log line from the task it is written in, and
/// the supervisor's own threads are no task: their lines go through a stream drained by a task started
/// inside a request, so they carry the app's name too.
final class ProviderLog: Sendable {
    private let lines: AsyncStream<(Log.Level, String)>.Continuation

    /// Call from inside a request (the draining task inherits its context).
    init() {
        let (stream, continuation) = AsyncStream<(Log.Level, String)>.makeStream(bufferingPolicy: .bufferingNewest(1024))
        lines = continuation
        Task {
            for await (level, text) in stream {
                switch level {
                case .debug: Log.debug(text)
                case .info: Log.info(text)
                case .warn: Log.warn(text)
                case .error: Log.error(text)
                }
            }
        }
    }

    func info(_ text: String) { lines.yield((.info, text)) }
    func warn(_ text: String) { lines.yield((.warn, text)) }
    func error(_ text: String) { lines.yield((.error, text)) }
}
