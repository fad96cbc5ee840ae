import Foundation
import RuntimeIO

/// How a run's bridges send their events.
struct SessionPacing: Sendable {
    /// Events per second per session, or nil for closed loop: the next event as soon as the window allows.
    let rate: Double?
    /// Most unacknowledged events per session, in either mode.
    let inFlight: Int
}

/// The bench playing one sandbox's bridge (Apps/DISPATCH.md, reference §1.8): it connects to
/// `/sessions/<id>/ws?type=sandbox` with the spawn's `Authorization: Bearer <sandbox_auth_token>` and
/// `X-Sandbox-ID`, sends `ready` (and `heartbeat` every `SessionBenchLimits.heartbeatInterval`), waits for
/// the `prompt` command, and once the load begins streams stamped `tool_call` events for that prompt
/// (`SessionEventStamp`): closed loop, keeping `inFlight` unacknowledged, or at `rate` with at most
/// `inFlight` unacknowledged (a due event past that is skipped and counted). `finish()` ends the prompt
/// with `execution_complete`. Never reconnects: a refused or lost bridge is an error of the run.
///
/// Threading: loop-bound.
final class SessionBridge: WebSocketMember {
    let session: SessionEntry
    let sandboxID: String
    let authToken: String
    let pacing: SessionPacing
    /// Where in one rate interval this session's schedule starts (0 ..< 1), so the sessions' events are
    /// spread over the interval instead of all leaving at once.
    let schedulePhase: Double
    let tally: SessionTally
    /// The prompt's message id, once the `prompt` command came.
    private(set) var messageID: String?
    private var nextSeq = 1
    private var streaming = false
    private var finished = false
    /// When the acknowledgements last moved, or the window was last empty.
    private var lastProgress: UInt64 = 0
    private var scheduleStart: UInt64 = 0
    /// Events the rate schedule has made due so far (sent or skipped).
    private var scheduled = 0
    private lazy var heartbeatTimer = LoopTimer { [weak self] in self?.heartbeat() }
    private lazy var rateTimer = LoopTimer { [weak self] in self?.sendDue() }
    private lazy var ackTimer = LoopTimer { [weak self] in self?.checkAcknowledgements() }

    init(url: WebSocketURL, session: SessionEntry, sandboxID: String, authToken: String, pacing: SessionPacing,
         schedulePhase: Double, tally: SessionTally, members: LoopMembers) {
        self.session = session
        self.sandboxID = sandboxID
        self.authToken = authToken
        self.pacing = pacing
        self.schedulePhase = schedulePhase
        self.tally = tally
        super.init(url: url, reconnects: false, members: members)
    }

    override var extraHeaders: [(name: String, value: String)] {
        [("Authorization", "Bearer \(authToken)"), ("X-Sandbox-ID", sandboxID)]
    }

    /// Sent and not yet received by any client of the session.
    var unacknowledged: Int { nextSeq - 1 - session.acknowledged }

    override func opened() {
        client?.send(text: #"{"type":"ready"}"#)
        members.loop.arm(heartbeatTimer, after: SessionBenchLimits.heartbeatInterval)
    }

    override func received(_ text: String) {
        guard let message = (try? JSONSerialization.jsonObject(with: Data(text.utf8))) as? [String: Any],
              let type = message["type"] as? String else {
            stats.recordError("the control plane sent the bridge a message that is not a JSON object with a type")
            return
        }
        switch type {
        case "prompt":
            guard messageID == nil, let id = message["messageId"] as? String else { return }
            messageID = id
            tally.prompted.add(1, ordering: .relaxed)
            if running { startStreaming() }
        case "stop":
            stats.recordError("session \(session.index): the control plane sent stop")
            finish(error: "stopped")
        case "shutdown":
            stopStreaming()
        case "error":
            stats.recordError("the control plane refused a bridge message: \(message["code"] ?? "?"): "
                + "\(message["message"] ?? "")")
        default:
            break
        }
    }

    override func began() { startStreaming() }

    /// The session's clients received more of its events.
    func acknowledgedMore() {
        lastProgress = members.loop.now
        if streaming, pacing.rate == nil { fill() }
    }

    /// The load is over: no more events, and `execution_complete` ends the prompt.
    func finish(error: String? = nil) {
        guard !finished else { return }
        stopStreaming()
        finished = true
        guard let messageID, let client, client.isOpen else { return }
        let outcome = error.map { #""success":false,"error":"\#($0)""# } ?? #""success":true"#
        client.send(text: #"{"type":"execution_complete","messageId":"\#(messageID)",\#(outcome)}"#)
    }

    override func stop() {
        stopStreaming()
        members.loop.cancel(heartbeatTimer)
        super.stop()
    }

    override func lost() {
        stopStreaming()
        members.loop.cancel(heartbeatTimer)
    }

    // MARK: Sending

    private func startStreaming() {
        guard !streaming, !finished, messageID != nil, client?.isOpen == true else { return }
        streaming = true
        let now = members.loop.now
        lastProgress = now
        members.loop.arm(ackTimer, after: SessionBenchLimits.ackCheckInterval)
        if let rate = pacing.rate {
            scheduleStart = now + UInt64(schedulePhase * 1e9 / rate)
            scheduled = 0
            members.loop.arm(rateTimer, at: scheduleStart)
        } else {
            fill()
        }
    }

    private func stopStreaming() {
        streaming = false
        members.loop.cancel(rateTimer)
        members.loop.cancel(ackTimer)
    }

    private func fill() {
        while streaming, unacknowledged < pacing.inFlight { send() }
    }

    private func send() {
        guard let messageID, let client, client.isOpen else {
            stopStreaming()
            return
        }
        if unacknowledged == 0 { lastProgress = members.loop.now }
        let seq = nextSeq
        nextSeq += 1
        client.send(text: SessionEventStamp.toolCall(messageID: messageID, seq: seq, sentAt: MonotonicClock.now()))
        stats.sent.add(1, ordering: .relaxed)
        tally.sentPerSession[session.index] += 1
    }

    /// Sends every event the rate schedule has made due by now (catching up after a late timer), then
    /// arms the timer for the next.
    private func sendDue() {
        guard streaming, let rate = pacing.rate else { return }
        let interval = 1e9 / rate
        let now = MonotonicClock.now()
        let due = now < scheduleStart ? 0 : Int(Double(now - scheduleStart) / interval) + 1
        while streaming, scheduled < due {
            scheduled += 1
            if unacknowledged < pacing.inFlight { send() } else { tally.skipped += 1 }
        }
        guard streaming else { return }
        members.loop.arm(rateTimer, at: scheduleStart + UInt64(Double(scheduled) * interval))
    }

    /// Writes off the window when no client received anything of it for `SessionBenchLimits.ackTimeout`.
    private func checkAcknowledgements() {
        guard streaming else { return }
        let now = members.loop.now
        if unacknowledged > 0, now - lastProgress >= SessionBenchLimits.ackTimeout.nanoseconds {
            stats.recordError("session \(session.index): no client received event \(session.acknowledged + 1) "
                + "within \(SessionBenchLimits.ackTimeout)")
            tally.writtenOff += unacknowledged
            session.writeOff(through: nextSeq - 1)
            lastProgress = now
            if pacing.rate == nil { fill() }
        }
        members.loop.arm(ackTimer, after: SessionBenchLimits.ackCheckInterval)
    }

    private func heartbeat() {
        guard let client, client.isOpen else { return }
        client.send(text: #"{"type":"heartbeat","status":"ready"}"#)
        members.loop.arm(heartbeatTimer, after: SessionBenchLimits.heartbeatInterval)
    }
}
