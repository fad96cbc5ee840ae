import Synchronization

/// Reading a response's body in the app: a fetched response's, or any other.
extension Response {
    /// The most `bodyBytes()` collects unless told otherwise.
    public static let defaultBodyBytesLimit = 16 * 1024 * 1024

    /// The whole body in memory: `.bytes` as they are, a `.stream` run into a buffer. Throws
    /// `FetchError.bodyTooLarge` as soon as more than `limit` bytes arrive (a fetched body's connection is
    /// closed then), and whatever the producer throws (a fetched body: the `FetchError` that cut it).
    /// A fetched body can be read once.
    public func bodyBytes(limit: Int = Response.defaultBodyBytesLimit) async throws -> [UInt8] {
        switch body {
        case .empty:
            return []
        case .bytes(let bytes):
            guard bytes.count <= limit else { throw FetchError.bodyTooLarge(limit: limit) }
            return bytes
        case .stream(let produce):
            let collector = CollectingBodyWriter(limit: limit)
            try await produce(collector)
            return collector.take()
        }
    }

    /// The body decoded as UTF-8 (invalid sequences are replaced); see `bodyBytes(limit:)`.
    public func text(limit: Int = Response.defaultBodyBytesLimit) async throws -> String {
        String(decoding: try await bodyBytes(limit: limit), as: UTF8.self)
    }
}

/// Gathers a streamed body, refusing past a limit. Writes do not overlap (the `BodyWriter` contract);
/// the lock only makes the buffer safe to hand between the threads the producer may run on.
final class CollectingBodyWriter: BodyWriter {
    private let limit: Int
    private let buffer = Mutex<[UInt8]>([])

    init(limit: Int) { self.limit = limit }

    func write(_ bytes: [UInt8]) async throws {
        try buffer.withLock { buffer in
            guard buffer.count + bytes.count <= limit else { throw FetchError.bodyTooLarge(limit: limit) }
            buffer.append(contentsOf: bytes)
        }
    }

    func take() -> [UInt8] { buffer.withLock { $0 } }
}
