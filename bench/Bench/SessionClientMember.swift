import Foundation
import RuntimeIO

/// One client of `bench session`, like a browser tab on the session: it subscribes with its ws-token as
/// soon as its connection opens, and its first attempt ends at `history_complete`, so the opening goes at
/// the pace of the session object's replay. From then on it records the delivery latency of every bench
/// event it receives (now minus the stamp the bridge put in) and acknowledges the event for its session.
/// After a failure it reconnects and subscribes again; events replayed before `history_complete` are not
/// counted (they are old), so what it missed meanwhile shows as missing deliveries.
///
/// Threading: loop-bound.
final class SessionClientMember: WebSocketMember {
    let session: SessionEntry
    let token: String
    let clientID: String
    let tally: SessionTally
    private var historyDone = false
    private var lastSeq = 0
    /// Bench events received after a `history_complete`, over the whole run.
    private(set) var eventsReceived = 0
    private var sawCompletion = false

    init(url: WebSocketURL, session: SessionEntry, token: String, clientID: String, tally: SessionTally,
         members: LoopMembers) {
        self.session = session
        self.token = token
        self.clientID = clientID
        self.tally = tally
        super.init(url: url, reconnects: true, members: members)
    }

    override var settlesOnOpen: Bool { false }

    override func opened() {
        historyDone = false
        client?.send(text: #"{"type":"subscribe","token":"\#(token)","clientId":"\#(clientID)"}"#)
    }

    override func lost() {
        if historyDone { tally.subscribed.subtract(1, ordering: .relaxed) }
        historyDone = false
    }

    override func received(_ text: String) {
        guard let stamp = SessionEventStamp.parse(text) else { return control(text) }
        guard historyDone else { return }
        let now = MonotonicClock.now()
        stats.record(latencyNanoseconds: now > stamp.sentAt ? now - stamp.sentAt : 0)
        eventsReceived += 1
        if stamp.seq <= lastSeq {
            tally.outOfOrder += 1
        } else {
            lastSeq = stamp.seq
        }
        session.received(seq: stamp.seq)
    }

    /// Everything but the bench's events. Most of it (presence, sandbox status) is ignored unread: a
    /// presence list grows with the session and every subscription sends one to every client. The few
    /// messages acted on are found by their type's bytes, then decoded.
    private func control(_ text: String) {
        if SessionEventStamp.contains(text, Self.historyComplete) {
            guard !historyDone else { return }
            historyDone = true
            tally.subscribed.add(1, ordering: .relaxed)
            endFirstAttempt()
        } else if SessionEventStamp.contains(text, Self.executionComplete) {
            guard historyDone, !sawCompletion else { return }
            sawCompletion = true
            tally.completed.add(1, ordering: .relaxed)
        } else if SessionEventStamp.contains(text, Self.sandboxError) {
            tally.sandboxErrors.add(1, ordering: .relaxed)
            tally.lastSandboxError = Self.decoded(text)?["error"] as? String ?? text
        } else if SessionEventStamp.contains(text, Self.error) {
            let message = Self.decoded(text)
            stats.recordError("the control plane sent error \(message?["code"] ?? "?"): \(message?["message"] ?? text)")
        }
    }

    private static let historyComplete = Array(#""type":"history_complete""#.utf8)
    private static let executionComplete = Array(#""type":"execution_complete""#.utf8)
    private static let sandboxError = Array(#""type":"sandbox_error""#.utf8)
    private static let error = Array(#""type":"error""#.utf8)

    private static func decoded(_ text: String) -> [String: Any]? {
        (try? JSONSerialization.jsonObject(with: Data(text.utf8))) as? [String: Any]
    }
}
