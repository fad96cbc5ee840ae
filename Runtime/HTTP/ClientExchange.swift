import RuntimeAPI
import RuntimeIO

/// One request on its way: what to send, its deadlines, and who waits for the response head. Made by
/// `HTTPClient` for each hop of a fetch (a redirect makes the next one); a retry on a fresh connection
/// after a stale pooled one reuses it.
///
/// Threading: built off the loop, then handed to the loop, where only the connection that carries it
/// touches it (`waiter` is set and resumed there).
final class ClientExchange: @unchecked Sendable {
    let target: FetchTarget
    /// Head and body, ready to write.
    let requestBytes: [UInt8]
    let isHEAD: Bool
    /// Safe to send twice (RFC 9110 §9.2.2): may be retried on a fresh connection when a pooled one
    /// turns out to have been closed by the server.
    let isIdempotent: Bool
    let timeouts: FetchTimeouts
    /// Monotonic nanoseconds (the loops' clock): the whole fetch, body included, must be done by then.
    let totalDeadline: UInt64
    /// Resumed once with the head, or with why there is none.
    var waiter: CheckedContinuation<FetchedHead, any Error>?

    private static let idempotentMethods: Set<String> = ["GET", "HEAD", "OPTIONS", "TRACE", "PUT", "DELETE"]

    init(target: FetchTarget, method: String, headers: Headers, body: [UInt8], timeouts: FetchTimeouts,
         totalDeadline: UInt64) throws(FetchError) {
        self.target = target
        var bytes = try ClientRequestHead.encode(method: method, target: target, headers: headers, bodyCount: body.count)
        bytes.append(contentsOf: body)
        requestBytes = bytes
        isHEAD = method == "HEAD"
        isIdempotent = Self.idempotentMethods.contains(method)
        self.timeouts = timeouts
        self.totalDeadline = totalDeadline
    }

    var url: String { target.url }

    /// Hands the head over; later calls do nothing.
    func deliver(_ head: FetchedHead) {
        let waiting = waiter
        waiter = nil
        waiting?.resume(returning: head)
    }

    /// Reports why there is no head; later calls do nothing.
    func reject(_ error: any Error) {
        let waiting = waiter
        waiter = nil
        waiting?.resume(throwing: error)
    }
}

/// A response head and the body that streams after it.
struct FetchedHead: @unchecked Sendable {
    let head: ResponseHead
    let body: FetchedBody
}

/// A pooled connection failed before any byte of the response came: the server had closed it while it
/// was idle (a race no client can avoid). The request may be sent again on a fresh connection if it is
/// idempotent; otherwise `error` is what the app sees.
struct StaleConnection: Error {
    let error: FetchError
}
