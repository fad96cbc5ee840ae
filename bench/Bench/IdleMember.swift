import RuntimeIO

/// One connection of `bench ws idle`: opens, sends one small text message (so its room wakes and can then
/// go idle), and stays open, counting what the room delivers to it. Its first attempt ends only when its
/// own message has come back (the room sends it to every member, the sender included): that paces the
/// opening to the server's fan-out, so a server busy delivering greetings is not mistaken for one that
/// stopped accepting. Never reconnects; a first attempt that fails raises the run's halt signal, since
/// it marks the limit the run is looking for.
///
/// Threading: loop-bound.
final class IdleMember: WebSocketMember {
    let greeting: String
    let haltSignal: HaltSignal
    private var greetingTimer: LoopTimer?
    private var greetingBack = false

    init(url: WebSocketURL, greeting: String, haltSignal: HaltSignal, members: LoopMembers) {
        self.greeting = greeting
        self.haltSignal = haltSignal
        super.init(url: url, reconnects: false, members: members)
    }

    override var settlesOnOpen: Bool { false }

    override func opened() {
        client?.send(text: greeting)
        let timer = LoopTimer { [weak self] in self?.greetingLate() }
        greetingTimer = timer
        members.loop.arm(timer, after: WebSocketBenchLimits.greetingTimeout)
    }

    override func received(_ text: String) {
        stats.messages.add(1, ordering: .relaxed)
        guard !greetingBack, text == greeting else { return }
        greetingBack = true
        if let greetingTimer { members.loop.cancel(greetingTimer) }
        endFirstAttempt()
    }

    /// The room did not send our message back in time: an error, but the connection is open and counts.
    private func greetingLate() {
        guard !greetingBack else { return }
        greetingBack = true
        stats.recordError("the room did not send a greeting back to its sender within "
            + "\(WebSocketBenchLimits.greetingTimeout)")
        endFirstAttempt()
    }

    override func lost() {
        if let greetingTimer { members.loop.cancel(greetingTimer) }
    }

    override func failed(_ failure: WebSocketClientFailure, firstAttempt: Bool) {
        guard firstAttempt else { return }
        haltSignal.raise()
        members.halt()
    }
}
