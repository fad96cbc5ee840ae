import Synchronization

/// Live log lines per app for `runtime tail`: every request the app answers and every line it logs,
/// as JSON, to each open tail of that app. A tail that cannot keep up loses its oldest lines rather
/// than slowing the app.
public final class TailHub: Sendable {
    /// Lines buffered per tail before the oldest are dropped.
    public static let maxBufferedLines = 1000
    /// Tails open at once, per app.
    public static let maxTailsPerApp = 16

    private let subscribers = Mutex<[String: [UInt64: AsyncStream<String>.Continuation]]>([:])
    private let nextID = Atomic<UInt64>(0)

    public init() {}

    /// Lines for `app` from now on, until the stream is dropped. Nil when too many tails are open.
    public func subscribe(_ app: String) -> AsyncStream<String>? {
        let id = nextID.add(1, ordering: .relaxed).newValue
        let (stream, continuation) = AsyncStream<String>.makeStream(bufferingPolicy: .bufferingNewest(Self.maxBufferedLines))
        let added = subscribers.withLock { table -> Bool in
            guard table[app, default: [:]].count < Self.maxTailsPerApp else { return false }
            table[app, default: [:]][id] = continuation
            return true
        }
        guard added else { return nil }
        continuation.onTermination = { [weak self] _ in
            _ = self?.subscribers.withLock { $0[app]?.removeValue(forKey: id) }
        }
        return stream
    }

    /// True when someone tails `app` (callers skip formatting lines otherwise).
    public func isTailed(_ app: String) -> Bool { subscribers.withLock { !($0[app]?.isEmpty ?? true) } }

    public func publish(_ app: String, _ line: String) {
        let targets = subscribers.withLock { $0[app].map { Array($0.values) } ?? [] }
        for target in targets { target.yield(line) }
    }
}
