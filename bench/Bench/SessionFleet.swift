import RuntimeIO

/// Everything of a `bench session` run that lives on its loop: the sessions, their clients and bridges (each
/// kind in its own `LoopMembers`, so each has its own pacing and stats), and what the provider side does
/// when the control plane asks for a sandbox: connect a bridge for that session.
///
/// Threading: loop-bound once handed to the loop; `@unchecked Sendable` only for that hand-over.
final class SessionFleet: @unchecked Sendable {
    let sessions: [SessionEntry]
    let clients: LoopMembers
    let bridges: LoopMembers
    let tally: SessionTally
    let pacing: SessionPacing
    private let byID: [String: SessionEntry]
    /// The load has begun: a bridge that connects later (a restore) starts streaming at once.
    private var loadBegun = false

    init(loop: Loop, sessions: [SessionEntry], pacing: SessionPacing) {
        self.sessions = sessions
        self.pacing = pacing
        tally = SessionTally(sessions: sessions.count)
        clients = LoopMembers(loop: loop, window: SessionBenchLimits.subscribesInFlight, haltSignal: nil)
        bridges = LoopMembers(loop: loop, window: SessionBenchLimits.bridgeConnectsInFlight, haltSignal: nil)
        byID = Dictionary(sessions.map { ($0.id, $0) }, uniquingKeysWith: { first, _ in first })
    }

    /// Makes every session's clients (session-major: client `k` of session `s` is member `s * count + k`)
    /// and starts their connects, paced. On the loop.
    func openClients(base: TargetURL, perSession count: Int) throws(WebSocketURL.ParseError) {
        let prefix = base.path == "/" ? "" : base.path
        for session in sessions {
            let url = try WebSocketURL("ws://\(base.hostHeader)\(prefix)/sessions/\(session.id)/ws")
            for client in 0..<count {
                clients.add(SessionClientMember(url: url, session: session, token: session.tokens[client],
                                                clientID: "bench-\(session.index)-\(client)", tally: tally,
                                                members: clients))
            }
        }
        clients.stats.unsettled.add(sessions.count * count, ordering: .relaxed)
        clients.startPaced()
    }

    /// The provider side's `/sandbox/create` or `/sandbox/restore`: connects a bridge for the session
    /// (replacing an earlier one) and returns the handle to answer with; nil for a session not of this run.
    func sandboxRequested(_ request: SandboxRequest) -> String? {
        guard let session = byID[request.sessionID] else { return nil }
        let handle = "bench-\(session.index)"
        let url: WebSocketURL
        do {
            url = try Self.bridgeURL(controlPlane: request.controlPlaneURL, session: session.id)
        } catch {
            bridges.stats.recordError("control_plane_url \"\(request.controlPlaneURL)\": the bench's bridges speak "
                + "ws:// to an http:// control plane only (\(error))")
            return handle
        }
        session.bridge?.stop()
        let bridge = SessionBridge(url: url, session: session, sandboxID: request.sandboxID,
                                   authToken: request.authToken, pacing: pacing,
                                   schedulePhase: Double(session.index) / Double(sessions.count), tally: tally,
                                   members: bridges)
        session.bridge = bridge
        bridges.stats.unsettled.add(1, ordering: .relaxed)
        bridges.add(bridge)
        bridges.startPaced()
        if loadBegun { bridge.begin() }
        return handle
    }

    /// The provider side's `/sandbox/terminate`: that session's bridge goes.
    func sandboxTerminated(handle: String) {
        guard handle.hasPrefix("bench-"), let index = Int(handle.dropFirst("bench-".count)),
              sessions.indices.contains(index) else { return }
        sessions[index].bridge?.stop()
    }

    /// `http://host:port/base` + `/sessions/<id>/ws?type=sandbox`, as ws://.
    static func bridgeURL(controlPlane: String, session: String) throws(WebSocketURL.ParseError) -> WebSocketURL {
        guard controlPlane.hasPrefix("http://") else { throw .unsupported(controlPlane) }
        var base = "ws://" + controlPlane.dropFirst("http://".count)
        while base.hasSuffix("/") { base.removeLast() }
        return try WebSocketURL(base + "/sessions/\(session)/ws?type=sandbox")
    }

    /// Every bridge starts streaming.
    func begin() {
        loadBegun = true
        for session in sessions { session.bridge?.begin() }
    }

    /// Every bridge stops streaming and ends its prompt.
    func finish() {
        loadBegun = false
        for session in sessions { session.bridge?.finish() }
    }

    /// Deliveries that never arrived: for every client, the events its session sent minus the events it
    /// received. Only complete once the load has drained.
    func missingDeliveries() -> Int {
        var missing = 0
        for case let client as SessionClientMember in clients.members {
            missing += max(0, tally.sentPerSession[client.session.index] - client.eventsReceived)
        }
        return missing
    }
}
