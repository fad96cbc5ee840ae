import RuntimeIO

/// What every `bench ws` member shares: one client connection at a time, the open and live counts, the
/// first-attempt pacing, and, when `reconnects` is set, a new connection
/// `WebSocketBenchLimits.reconnectDelay` after a failure. Subclasses override `opened()` and
/// `received(_:)`, and send through `client`.
///
/// Threading: loop-bound.
class WebSocketMember: LoadMember, WebSocketClientDelegate {
    let url: WebSocketURL
    /// Whether a failed or closed connection is replaced (echo, broadcast) or stays gone (idle).
    let reconnects: Bool
    unowned let members: LoopMembers
    var stats: WebSocketStats { members.stats }
    /// The connection, while there is one; `client?.isOpen` says whether it is past the upgrade.
    private(set) var client: WebSocketClientConnection?
    /// `begin()` was called: the load is on.
    private(set) var running = false
    private(set) var stopped = false
    private var countedOpen = false
    private var firstAttempt = true
    private var reconnectTimer: LoopTimer?

    init(url: WebSocketURL, reconnects: Bool, members: LoopMembers) {
        self.url = url
        self.reconnects = reconnects
        self.members = members
    }

    // MARK: Hooks

    /// The connection is open (the first time or after a reconnect).
    func opened() {}
    /// A text message arrived.
    func received(_ text: String) {}
    /// More header fields for the upgrade request, read at each connect.
    var extraHeaders: [(name: String, value: String)] { [] }
    /// The load starts; the connection may not be open yet (then `opened()` follows).
    func began() {}
    /// The connection failed; `firstAttempt` says whether it had ever been open before (counting reconnects).
    func failed(_ failure: WebSocketClientFailure, firstAttempt: Bool) {}
    /// The connection is gone (and, with `reconnects`, a new one is due); forget per-connection state.
    func lost() {}

    // MARK: LoadMember

    func start() {
        guard !stopped else { return }
        let client = WebSocketClientConnection(loop: members.loop, url: url, extraHeaders: extraHeaders, delegate: self)
        self.client = client
        stats.live.add(1, ordering: .relaxed)
        client.start()
    }

    func begin() {
        running = true
        began()
    }

    func stop() {
        stopped = true
        if let reconnectTimer { members.loop.cancel(reconnectTimer) }
        client?.close()
    }

    /// Whether the first attempt ends as soon as the connection is open. A subclass that answers false
    /// ends it itself, with `endFirstAttempt()` (or it ends when the connection closes).
    var settlesOnOpen: Bool { true }

    /// Tells the pacing that this member's first attempt is over, once; later calls do nothing.
    func endFirstAttempt() {
        guard firstAttempt else { return }
        firstAttempt = false
        members.firstAttemptEnded()
    }

    // MARK: WebSocketClientDelegate

    func clientOpened(_ client: WebSocketClientConnection) {
        countedOpen = true
        stats.open.add(1, ordering: .relaxed)
        if settlesOnOpen { endFirstAttempt() }
        opened()
    }

    func client(_ client: WebSocketClientConnection, receivedText text: String) {
        received(text)
    }

    func client(_ client: WebSocketClientConnection, failed failure: WebSocketClientFailure) {
        guard !stopped else { return }
        stats.recordError(failure)
        if firstAttempt, stats.firstOpenFailure == nil { stats.firstOpenFailure = failure }
        failed(failure, firstAttempt: firstAttempt)
    }

    func clientClosed(_ client: WebSocketClientConnection) {
        guard self.client === client else { return }
        self.client = nil
        if countedOpen {
            countedOpen = false
            stats.open.subtract(1, ordering: .relaxed)
        }
        stats.live.subtract(1, ordering: .relaxed)
        endFirstAttempt()
        lost()
        guard reconnects, !stopped else { return }
        let timer = reconnectTimer ?? LoopTimer { [weak self] in self?.start() }
        reconnectTimer = timer
        members.loop.arm(timer, after: WebSocketBenchLimits.reconnectDelay)
    }
}
