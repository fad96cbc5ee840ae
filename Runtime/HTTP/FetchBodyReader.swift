import RuntimeAPI
import Synchronization

/// What a fetched `Response`'s `.stream` closure holds: the body, read once. When the response is
/// dropped (and with it this reader) before the body ended, the connection reads the rest away or
/// closes (see `HTTPClientConnection.bodyAbandoned`).
///
/// Threading: any; the body hops to its loop.
final class FetchBodyReader: Sendable {
    private let body: FetchedBody
    private let claimed = Atomic<Bool>(false)

    init(body: FetchedBody) { self.body = body }

    deinit {
        let body = self.body
        body.loop.execute { body.readerGone() }
    }

    /// Writes every piece to `writer`, waiting for each write (that is the backpressure). Throws
    /// `bodyAlreadyRead` on a second call, a `FetchError` when the body is cut short, and what `writer`
    /// throws, after which the connection is given up.
    func pump(into writer: any BodyWriter) async throws {
        guard claimed.compareExchange(expected: false, desired: true, ordering: .relaxed).exchanged else {
            throw FetchError.bodyAlreadyRead
        }
        while let piece = try await body.next() {
            do {
                try await writer.write(piece)
            } catch {
                let body = self.body
                body.loop.execute { body.readerGone() }
                throw error
            }
        }
    }
}
