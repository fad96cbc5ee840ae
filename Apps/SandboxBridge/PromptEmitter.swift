/// One prompt's events on their way to the control plane, all tagged with the prompt's message id.
///
/// Tokens are throttled per part: at most one per `BridgeLimits.tokenInterval`; a text that arrives
/// sooner waits and is replaced by any newer one, and goes out when its time comes. Before any other
/// event, waiting tokens go out first, so the control plane sees text and tool calls in the order they
/// happened; `flush()` sends them all (the final text always goes).
///
/// Threading: an actor. The agent calls it from one task at a time; the delayed sends re-enter it.
actor PromptEmitter {
    let messageID: String
    private let link: ControlPlaneLink
    private let ports: PortDetector
    private let interval: Duration
    private let clock = ContinuousClock()

    private struct Part {
        var sent = ""
        var lastSentAt: ContinuousClock.Instant?
        var pending: String?
        var flushScheduled = false
    }

    private var parts: [String: Part] = [:]
    /// Parts in the order their first text arrived, so a flush keeps that order.
    private var partOrder: [String] = []

    init(messageID: String, link: ControlPlaneLink, ports: PortDetector,
         interval: Duration = BridgeLimits.tokenInterval) {
        self.messageID = messageID
        self.link = link
        self.ports = ports
        self.interval = interval
    }

    /// The part's whole text so far.
    func token(partID: String, content: String) {
        if parts[partID] == nil { partOrder.append(partID) }
        var part = parts[partID] ?? Part()
        defer { parts[partID] = part }
        guard content != part.sent, !content.isEmpty else {
            part.pending = nil
            return
        }
        let now = clock.now
        if let last = part.lastSentAt, now - last < interval {
            part.pending = content
            if !part.flushScheduled {
                part.flushScheduled = true
                let due = last + interval
                Task { [weak self] in
                    try? await Task.sleep(until: due, clock: .continuous)
                    await self?.sendPending(partID)
                }
            }
            return
        }
        part.pending = nil
        part.sent = content
        part.lastSentAt = now
        link.send(.token(messageID: messageID, partID: partID, content: content))
    }

    /// The text last sent for a part ("" if none).
    func sentText(partID: String) -> String { parts[partID]?.sent ?? "" }

    /// Sends `event` after any waiting tokens.
    func send(_ event: BridgeEvent) {
        flush()
        link.send(event)
    }

    /// Reports ports in `text` not reported before (by any prompt).
    func scanForPorts(_ text: String) {
        for port in ports.newPorts(in: text) {
            send(.portDetected(port: port, messageID: messageID))
        }
    }

    /// Sends every waiting token now.
    func flush() {
        for partID in partOrder where parts[partID]?.pending != nil {
            sendPending(partID)
        }
    }

    private func sendPending(_ partID: String) {
        guard var part = parts[partID] else { return }
        part.flushScheduled = false
        if let pending = part.pending, pending != part.sent {
            part.sent = pending
            part.lastSentAt = clock.now
            link.send(.token(messageID: messageID, partID: partID, content: pending))
        }
        part.pending = nil
        parts[partID] = part
    }
}
