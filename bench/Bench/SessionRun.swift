import Foundation
import RuntimeIO
import Synchronization
#if canImport(Glibc)
import Glibc
#endif

/// The phases of `bench session`, driven from the main thread while everything else runs on one bench
/// loop: the provider side listens; the sessions are created and their ws-tokens issued over REST; every
/// client subscribes; one prompt per session makes the control plane call the provider, and the bench
/// connects as each sandbox's bridge; then the bridges stream for the warm-up and the measured time; then
/// `execution_complete`, a drain, and everything closes.
///
/// Ownership: the loop's sockets point back (unowned) at the REST client, the provider side and the
/// fleet's lists, all held here; the caller keeps the run until the loop has stopped.
final class SessionRun {
    struct Options {
        let url: TargetURL
        let sessions: Int
        let clients: Int
        let warmup: Duration
        let duration: Duration
        let pacing: SessionPacing
        let providerListen: SocketAddress
        let internalSecret: String
        let sandboxSecret: String
    }

    /// What the measured time produced.
    struct Outcome {
        var result: TargetResult
        /// Events the bridges sent during the measured time.
        var eventsSent: Int
        /// Deliveries that never arrived, counted over the whole run once drained; nil when the drain timed out.
        var missing: Int?
        var outOfOrder: Int
        var skipped: Int
        var writtenOff: Int
    }

    let options: Options
    let label: String
    private let loop: Loop
    private let rest: SessionRESTClient
    private let provider: SessionProviderServer
    /// Kept until the run is released (after the loop stopped): members point back at its lists.
    private var fleet: SessionFleet?

    init(options: Options, loop: Loop) {
        self.options = options
        self.loop = loop
        label = "\(options.sessions) sessions x \(options.clients) clients"
        rest = SessionRESTClient(loop: loop, target: options.url, secret: options.internalSecret)
        provider = SessionProviderServer(loop: loop, secret: options.sandboxSecret)
    }

    func run() throws -> Outcome {
        try startProvider()
        defer {
            onLoop { [provider, rest] in
                provider.stop()
                rest.close()
            }
        }
        let sessions = try createSessions()
        try issueTokens(sessions)
        let fleet = SessionFleet(loop: loop, sessions: sessions, pacing: options.pacing)
        self.fleet = fleet
        onLoop { [provider] in
            provider.onSandbox = { fleet.sandboxRequested($0) }
            provider.onTerminate = { fleet.sandboxTerminated(handle: $0) }
        }
        defer { WebSocketLoadRun.close([fleet.clients, fleet.bridges]) }
        try subscribe(fleet)
        try startSandboxes(fleet)
        return measure(fleet)
    }

    // MARK: Setup

    private func startProvider() throws {
        let bound: (fd: Int32, bound: SocketAddress)
        do {
            bound = try Listener.bind(options.providerListen)
        } catch {
            throw SessionBenchFailure.providerListen(address: "\(options.providerListen)", reason: "\(error)")
        }
        onLoop { [provider] in provider.start(fd: bound.fd, address: bound.bound) }
        progress("  provider side listening on http://\(bound.bound)")
    }

    private func createSessions() throws -> [SessionEntry] {
        let call = { (index: Int) in
            SessionRESTCall(method: "POST", path: "/sessions", body: Self.json([
                "repoOwner": "bench", "repoName": "bench", "title": "bench session \(index)", "userId": "bench-owner",
                "githubLogin": "bench-owner", "githubName": "Bench Owner",
            ]))
        }
        // The first alone, so an unreachable or misconfigured control plane is reported once and clearly.
        let first = try checked(callAll([call(0)], label: "creating sessions")[0], call(0), expect: 201, probe: true)
        var ids = [try Self.string(first, "sessionId", call(0))]
        let others = (1..<options.sessions).map(call)
        for (index, outcome) in callAll(others, label: "creating sessions").enumerated() {
            ids.append(try Self.string(try checked(outcome, others[index], expect: 201), "sessionId", others[index]))
        }
        return ids.enumerated().map { SessionEntry(index: $0.offset, id: $0.element) }
    }

    private func issueTokens(_ sessions: [SessionEntry]) throws {
        var calls: [SessionRESTCall] = []
        for session in sessions {
            for client in 0..<options.clients {
                calls.append(SessionRESTCall(method: "POST", path: "/sessions/\(session.id)/ws-token", body: Self.json([
                    "userId": "bench-\(client)", "githubLogin": "bench-\(client)", "githubName": "Bench \(client)",
                ])))
            }
        }
        let outcomes = callAll(calls, label: "issuing ws-tokens")
        for (index, outcome) in outcomes.enumerated() {
            let token = try Self.string(try checked(outcome, calls[index], expect: 200), "token", calls[index])
            sessions[index / options.clients].tokens.append(token)
        }
    }

    private func subscribe(_ fleet: SessionFleet) throws {
        let total = options.sessions * options.clients
        let base = options.url
        let perSession = options.clients
        let opened = Mutex<String?>(nil)
        onLoop {
            do {
                try fleet.openClients(base: base, perSession: perSession)
            } catch {
                opened.withLock { $0 = "\(error)" }
            }
        }
        if let failure = opened.withLock({ $0 }) {
            throw SessionBenchFailure.subscribeFailed(subscribed: 0, clients: total, lastError: failure)
        }
        let started = MonotonicClock.now()
        let subscribed = { fleet.tally.subscribed.load(ordering: .relaxed) }
        // Every first attempt ended and some did not subscribe: those failed, and waiting will not help.
        let settled = { fleet.clients.stats.unsettled.load(ordering: .relaxed) == 0 }
        var lastCount = 0
        var lastProgress = started
        let stalled = {
            let (count, now) = (subscribed(), MonotonicClock.now())
            if count != lastCount { (lastCount, lastProgress) = (count, now) }
            return now - lastProgress >= SessionBenchLimits.subscribeStallTimeout.nanoseconds
        }
        _ = WebSocketLoadRun.poll(for: nil, until: { subscribed() == total || settled() || stalled() }) { _ in
            progress("  subscribing: \(subscribed())/\(total) clients subscribed")
        }
        guard subscribed() == total else {
            throw SessionBenchFailure.subscribeFailed(subscribed: subscribed(), clients: total,
                                                      lastError: WebSocketLoadRun.lastError([fleet.clients]))
        }
        progress("  \(total) clients subscribed in \(String(format1: Double(MonotonicClock.now() - started) / 1e9))s")
    }

    /// One prompt per session; the control plane then calls the provider side for each, and every bridge
    /// connects and gets its `prompt` command.
    private func startSandboxes(_ fleet: SessionFleet) throws {
        let calls = fleet.sessions.map { session in
            SessionRESTCall(method: "POST", path: "/sessions/\(session.id)/prompt", body: Self.json([
                "content": "bench: stream tool_call events", "authorId": "bench-0", "source": "api",
            ]))
        }
        let started = MonotonicClock.now()
        for (index, outcome) in callAll(calls, label: "sending prompts").enumerated() {
            _ = try checked(outcome, calls[index], expect: 200)
        }
        let total = options.sessions
        let calledFor = { self.provider.sandboxCalls.load(ordering: .relaxed) }
        let prompted = { fleet.tally.prompted.load(ordering: .relaxed) }
        let refused = { self.provider.badBearers.load(ordering: .relaxed) > 0 }
        // The control plane tried a provider and told the clients it failed, without ever calling ours.
        let spawnFailed = { calledFor() == 0 && fleet.tally.sandboxErrors.load(ordering: .relaxed) > 0 }
        _ = WebSocketLoadRun.poll(for: SessionBenchLimits.sandboxStartTimeout,
                                  until: { prompted() == total || refused() || spawnFailed() }) { _ in
            progress("  starting sandboxes: \(calledFor())/\(total) provider calls, "
                + "\(fleet.bridges.stats.open.load(ordering: .relaxed)) bridges open, \(prompted()) prompted")
        }
        if prompted() == total {
            progress("  \(total) bridges prompted in \(String(format1: Double(MonotonicClock.now() - started) / 1e9))s")
            return
        }
        if refused(), calledFor() == 0 {
            throw SessionBenchFailure.providerBadBearer(reason: onLoop { [provider] in provider.lastBadBearer } ?? "?")
        }
        if calledFor() < total {
            throw SessionBenchFailure.providerNeverCalled(provider: "http://\(options.providerListen)",
                                                          created: calledFor(), sessions: total,
                                                          sandboxError: onLoop { fleet.tally.lastSandboxError })
        }
        throw SessionBenchFailure.bridgesNotReady(ready: prompted(), sessions: total,
                                                  lastError: WebSocketLoadRun.lastError([fleet.bridges]))
    }

    // MARK: Load

    private func measure(_ fleet: SessionFleet) -> Outcome {
        let lists = [fleet.clients, fleet.bridges]
        let deliveries = { fleet.clients.stats.messages.load(ordering: .relaxed) }
        let sent = { fleet.bridges.stats.sent.load(ordering: .relaxed) }
        onLoop { fleet.begin() }
        if options.warmup > .zero {
            let warmupStarted = MonotonicClock.now()
            _ = WebSocketLoadRun.poll(for: options.warmup, until: { false }) { now in
                progress("  \(self.label) warm-up: \(String(format1: Double(now - warmupStarted) / 1e9))s  "
                    + "(\(deliveries()) deliveries, \(sent()) events)")
            }
        }
        WebSocketLoadRun.onEachLoop(lists) { $0.stats.reset() }
        let started = MonotonicClock.now()
        var last = (deliveries: 0, sent: 0, at: started)
        _ = WebSocketLoadRun.poll(for: options.duration, until: { false }) { now in
            let seconds = Double(now - last.at) / 1e9
            let (count, events) = (deliveries(), sent())
            progress("  \(self.label): \(String(format1: Double(now - started) / 1e9))s  "
                + "\(Int(Double(count - last.deliveries) / seconds)) deliveries/s  "
                + "\(Int(Double(events - last.sent) / seconds)) events/s  (\(count) done, "
                + "\(WebSocketLoadRun.openCount([fleet.clients])) clients open)")
            last = (count, events, now)
        }
        let elapsed = MonotonicClock.now() - started
        let parts = WebSocketLoadRun.onEachLoop(lists) {
            ($0.stats.snapshot(nanoseconds: elapsed), $0.stats.sent.load(ordering: .relaxed))
        }
        let eventsSent = parts.reduce(0) { $0 + $1.1 }
        onLoop { fleet.finish() }

        // Drain: every subscribed client should see its session's execution_complete, after every event.
        let completed = { fleet.tally.completed.load(ordering: .relaxed) }
        let expected = fleet.tally.subscribed.load(ordering: .relaxed)
        let drained = WebSocketLoadRun.poll(for: SessionBenchLimits.drainWait, until: { completed() >= expected }) { _ in
            progress("  draining: \(completed())/\(expected) clients saw execution_complete")
        }
        if !drained {
            progress("  drain: only \(completed())/\(expected) clients saw execution_complete within "
                + "\(SessionBenchLimits.drainWait)")
        }
        var result = TargetResult(name: label)
        result.add(parts.reduce(SegmentResult.empty(nanoseconds: elapsed)) { $0.merged($1.0) })
        let checks = onLoop {
            (fleet.missingDeliveries(), fleet.tally.outOfOrder, fleet.tally.skipped, fleet.tally.writtenOff)
        }
        return Outcome(result: result, eventsSent: eventsSent, missing: drained ? checks.0 : nil, outOfOrder: checks.1,
                       skipped: checks.2, writtenOff: checks.3)
    }

    // MARK: Helpers

    /// Runs every call (at most `SessionBenchLimits.restConnections` at once) and returns the outcomes in
    /// order, printing progress each second.
    private func callAll(_ calls: [SessionRESTCall], label: String) -> [SessionRESTOutcome] {
        guard !calls.isEmpty else { return [] }
        let outcomes = Mutex<[SessionRESTOutcome?]>(Array(repeating: nil, count: calls.count))
        let finished = Mutex(0)
        onLoop { [rest] in
            for (index, call) in calls.enumerated() {
                rest.send(call) { outcome in
                    outcomes.withLock { $0[index] = outcome }
                    finished.withLock { $0 += 1 }
                }
            }
        }
        _ = WebSocketLoadRun.poll(for: nil, until: { finished.withLock { $0 } == calls.count }) { _ in
            progress("  \(label): \(finished.withLock { $0 })/\(calls.count)")
        }
        return outcomes.withLock { $0.map { $0! } }
    }

    /// The answer's JSON object when its status is `expect`; otherwise the failure that explains it. The
    /// `probe` is the run's first call: no answer to it means nothing serves `--url`.
    private func checked(_ outcome: SessionRESTOutcome, _ call: SessionRESTCall, expect: Int,
                         probe: Bool = false) throws -> [String: Any] {
        let url = options.url.text
        switch outcome {
        case .failed(let reason):
            if probe { throw SessionBenchFailure.controlPlaneUnreachable(url: url, reason: reason) }
            throw SessionBenchFailure.restBroken(call: call.label, reason: reason)
        case .answered(let status, let body):
            let text = outcome.bodyText
            if status == 401 { throw SessionBenchFailure.unauthorized(url: url, body: text) }
            if status == 404, call.path == "/sessions" {
                throw SessionBenchFailure.notDeployed(url: url, status: status, body: text)
            }
            guard status == expect else { throw SessionBenchFailure.restFailed(call: call.label, status: status, body: text) }
            guard let object = (try? JSONSerialization.jsonObject(with: Data(body))) as? [String: Any] else {
                throw SessionBenchFailure.restFailed(call: call.label, status: status, body: "not a JSON object: \(text)")
            }
            return object
        }
    }

    private static func string(_ object: [String: Any], _ key: String, _ call: SessionRESTCall) throws -> String {
        guard let value = object[key] as? String, !value.isEmpty else {
            throw SessionBenchFailure.restFailed(call: call.label, status: 200, body: "no \"\(key)\" in the answer")
        }
        return value
    }

    private static func json(_ object: [String: Any]) -> [UInt8] {
        Array((try? JSONSerialization.data(withJSONObject: object)) ?? Data())
    }

    /// Runs `work` on the loop and returns its result once it has run.
    @discardableResult
    private func onLoop<Value: Sendable>(_ work: @escaping @Sendable () -> Value) -> Value {
        let result = Mutex<Value?>(nil)
        loop.execute {
            let value = work()
            result.withLock { $0 = value }
        }
        while true {
            if let value = result.withLock({ $0 }) { return value }
            usleep(1000)
        }
    }
}
