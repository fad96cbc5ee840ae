import RuntimeIO

/// One connection of `bench ws echo`: sends a text message, waits for the same text to come back, records
/// the round trip, sends the next (closed loop). Failures count as errors; it reconnects.
///
/// Threading: loop-bound.
final class EchoMember: WebSocketMember {
    let message: String
    private var awaitingEcho = false
    private var sentAt: UInt64 = 0

    init(url: WebSocketURL, message: String, members: LoopMembers) {
        self.message = message
        super.init(url: url, reconnects: true, members: members)
    }

    override func began() { sendNext() }
    override func opened() { sendNext() }
    override func lost() { awaitingEcho = false }

    override func received(_ text: String) {
        guard awaitingEcho else { return }
        awaitingEcho = false
        if text == message {
            stats.record(latencyNanoseconds: MonotonicClock.now() - sentAt)
        } else {
            stats.recordError("echo of \(text.utf8.count) bytes is not the \(message.utf8.count) sent")
        }
        sendNext()
    }

    private func sendNext() {
        guard running, !stopped, !awaitingEcho, let client, client.isOpen else { return }
        awaitingEcho = true
        sentAt = MonotonicClock.now()
        client.send(text: message)
    }
}
