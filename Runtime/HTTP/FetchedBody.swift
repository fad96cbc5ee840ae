import RuntimeAPI
import RuntimeIO

/// The body of one fetched response, between the connection that receives it and the app that reads
/// it. The connection appends what arrives; once `HTTPClientConfig.bodyHighWaterBytes` wait unread it
/// stops reading the socket, and starts again when the reader has taken them, so a body larger than
/// memory streams through. Pieces wait here after the response ended, so the connection can serve
/// the next request while the app still reads.
///
/// Threading: loop-bound, like its connection; `next()` and `readAway()` may be called from any thread
/// and hop to the loop. The cycle with the connection (each holds the other while the body streams) ends when the
/// body does.
final class FetchedBody: @unchecked Sendable {
    enum Outcome {
        case streaming
        case ended
        case failed(FetchError)
    }

    let loop: Loop
    /// Calls about this body are ignored by the connection once it serves another exchange.
    let connection: HTTPClientConnection
    private let maxPieceBytes: Int
    private var pieces: [[UInt8]] = []
    private var firstPiece = 0
    private(set) var queuedBytes = 0
    private(set) var outcome = Outcome.streaming
    private var waiter: CheckedContinuation<[UInt8]?, any Error>?
    /// `readAway` waits for the end (or the connection's failure).
    private var endWaiter: CheckedContinuation<Void, Never>?
    /// The reader is gone (or failed): what still arrives is counted and dropped.
    private(set) var discarding = false
    private(set) var discardedBytes = 0
    /// Every body byte that arrived, kept or discarded.
    private(set) var receivedBytes = 0

    init(connection: HTTPClientConnection, maxPieceBytes: Int) {
        loop = connection.loop
        self.connection = connection
        self.maxPieceBytes = maxPieceBytes
    }

    // MARK: The connection's side

    /// Keeps `bytes` for the reader (or drops them while discarding).
    func append(_ bytes: UnsafeRawBufferPointer) {
        guard case .streaming = outcome, bytes.count > 0 else { return }
        receivedBytes += bytes.count
        if discarding {
            discardedBytes += bytes.count
            return
        }
        if let waiter, pieces.count == firstPiece {
            self.waiter = nil
            waiter.resume(returning: Array(bytes))
            return
        }
        pieces.append(Array(bytes))
        queuedBytes += bytes.count
        connection.pool.bufferedBodyBytes += bytes.count
    }

    /// The body arrived whole.
    func finish() {
        guard case .streaming = outcome else { return }
        outcome = .ended
        if pieces.count == firstPiece, let waiter {
            self.waiter = nil
            waiter.resume(returning: nil)
        }
        resumeEndWaiter()
    }

    /// The body was cut short; the reader gets what arrived before, then `error`.
    func fail(_ error: FetchError) {
        guard case .streaming = outcome else { return }
        outcome = .failed(error)
        if pieces.count == firstPiece, let waiter {
            self.waiter = nil
            waiter.resume(throwing: error)
        }
        resumeEndWaiter()
    }

    private func resumeEndWaiter() {
        let waiting = endWaiter
        endWaiter = nil
        waiting?.resume()
    }

    /// Stops keeping bytes: the reader is gone. Drops what waits.
    func startDiscarding() {
        discarding = true
        dropQueued()
    }

    // MARK: The reader's side

    /// The next piece of at most `maxPieceBytes`, nil at the end; throws the `FetchError` that cut the
    /// body short.
    func next() async throws -> [UInt8]? {
        try await withCheckedThrowingContinuation { continuation in
            if loop.inLoop {
                take(continuation)
            } else {
                loop.execute { self.take(continuation) }
            }
        }
    }

    private func take(_ continuation: CheckedContinuation<[UInt8]?, any Error>) {
        precondition(waiter == nil, "a fetched body read by two readers at once")
        if firstPiece < pieces.count {
            continuation.resume(returning: takeQueued())
            connection.bodyWasRead(self)
            return
        }
        switch outcome {
        case .ended:
            continuation.resume(returning: nil)
        case .failed(let error):
            continuation.resume(throwing: error)
        case .streaming:
            waiter = continuation
            connection.bodyWasRead(self)
        }
    }

    /// Pieces from the front, joined up to `maxPieceBytes` (a piece larger than that goes alone).
    private func takeQueued() -> [UInt8] {
        var out = pieces[firstPiece]
        pieces[firstPiece] = []
        firstPiece += 1
        while firstPiece < pieces.count, out.count + pieces[firstPiece].count <= maxPieceBytes {
            out.append(contentsOf: pieces[firstPiece])
            pieces[firstPiece] = []
            firstPiece += 1
        }
        if firstPiece == pieces.count {
            pieces.removeAll(keepingCapacity: true)
            firstPiece = 0
        }
        queuedBytes -= out.count
        connection.pool.bufferedBodyBytes -= out.count
        return out
    }

    /// Drops the body (a redirect's) and returns once the connection has read it away, so the next hop
    /// can reuse the connection, or gave it up (a body too long to read away is not waited for).
    func readAway() async {
        await withCheckedContinuation { (continuation: CheckedContinuation<Void, Never>) in
            let start: @Sendable () -> Void = { [self] in
                endWaiter = continuation
                readerGone()
                if case .streaming = outcome {} else { resumeEndWaiter() }
            }
            if loop.inLoop { start() } else { loop.execute(start) }
        }
    }

    /// The reader let go of the body: nothing it did not take is needed any more.
    func readerGone() {
        dropQueued()
        connection.bodyAbandoned(self)
    }

    private func dropQueued() {
        connection.pool.bufferedBodyBytes -= queuedBytes
        queuedBytes = 0
        pieces = []
        firstPiece = 0
    }
}
