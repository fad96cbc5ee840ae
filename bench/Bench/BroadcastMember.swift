import RuntimeIO

/// One member of `bench ws broadcast`'s room. Every member records the delivery latency of every message it
/// receives; a sender also sends the next message as soon as its own previous one came back (closed loop:
/// the room broadcasts to every member, the sender included). Failures count as errors; it reconnects.
///
/// Threading: loop-bound.
final class BroadcastMember: WebSocketMember {
    /// The index stamped into this member's messages, or nil for a member that only listens.
    let senderIndex: Int?
    let size: Int
    private var awaitingOwn = false
    private var outgoing: [UInt8] = []

    init(url: WebSocketURL, senderIndex: Int?, size: Int, members: LoopMembers) {
        self.senderIndex = senderIndex
        self.size = size
        super.init(url: url, reconnects: true, members: members)
    }

    override func began() { sendNext() }
    override func opened() { sendNext() }
    override func lost() { awaitingOwn = false }

    override func received(_ text: String) {
        guard let stamp = BroadcastStamp.parse(text) else {
            stats.recordError("a message without the bench's stamp (\(text.utf8.count) bytes)")
            return
        }
        let now = MonotonicClock.now()
        stats.record(latencyNanoseconds: now > stamp.sentAt ? now - stamp.sentAt : 0)
        if stamp.sender == senderIndex, awaitingOwn {
            awaitingOwn = false
            stats.sent.add(1, ordering: .relaxed)
            sendNext()
        }
    }

    private func sendNext() {
        guard let senderIndex, running, !stopped, !awaitingOwn, let client, client.isOpen else { return }
        awaitingOwn = true
        BroadcastStamp.write(sentAt: MonotonicClock.now(), sender: senderIndex, size: size, into: &outgoing)
        outgoing.withUnsafeBytes { client.send(textBytes: $0) }
    }
}
