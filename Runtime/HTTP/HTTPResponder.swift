import RuntimeAPI

/// What the server calls for each complete request. Implemented by the runtime's server module
/// (which calls the deployed worker and turns its errors into responses).
public protocol HTTPResponder: Sendable {
    /// Runs on the loop that owns the connection. Never throws: errors are responses too.
    /// `nonisolated(nonsending)`: it runs on its caller's executor (the connection's loop) without the
    /// executor switch a plain nonisolated async call makes on entry and return.
    nonisolated(nonsending) func respond(to request: Request) async -> Response
    /// Called on the loop once the response was fully queued for sending (or the connection died).
    func requestFinished(_ record: AccessRecord)
    /// Runs `body`, the task that answers one connection's requests one after another (every
    /// `respond` for that connection happens inside it): per-connection context is set up here once
    /// rather than per request.
    nonisolated(nonsending) func serveConnection(_ body: () async -> Void) async
}

extension HTTPResponder {
    public nonisolated(nonsending) func serveConnection(_ body: () async -> Void) async { await body() }
}

/// One line of the access log.
public struct AccessRecord: Sendable {
    public var method: String
    public var target: String
    public var status: Int
    /// Body bytes sent (not counting the head).
    public var bytesSent: Int
    public var durationNanoseconds: UInt64
    public var remoteAddress: String
    /// Why the connection ended early, if it did ("client closed", "request timeout").
    public var error: String?
    /// The app that answered, when known.
    public var app: String? = nil
}
