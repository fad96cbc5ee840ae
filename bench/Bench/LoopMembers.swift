import RuntimeIO
import Synchronization

/// One connection of a `bench ws` mode, as the run drives it. Loop-bound: every call is on its loop.
protocol LoadMember: AnyObject {
    /// Connect and upgrade. The member tells its `LoopMembers` once, through `firstAttemptEnded()`, when
    /// its first attempt opened or failed.
    func start()
    /// Every member is open (or the wait for them is over): start the load.
    func begin()
    /// The run is over: close cleanly and never reconnect.
    func stop()
}

/// The members of one loop, its stats, and the pacing of first connects: at most `window` first attempts in
/// flight, the next one starting as one ends, so the server's accept backlog never overflows.
///
/// Threading: loop-bound; `@unchecked Sendable` only so the run can hand it to its loop.
final class LoopMembers: @unchecked Sendable {
    let loop: Loop
    let stats = WebSocketStats()
    private(set) var members: [any LoadMember] = []
    private let window: Int
    private var nextToStart = 0
    private var attemptsInFlight = 0
    /// Set by `halt()`: no further first attempts start.
    private(set) var halted = false
    /// Members `halt()` kept from ever starting.
    private(set) var neverStarted = 0

    /// Shared by every loop of a run that stops opening at the first failure (`bench ws idle`).
    let haltSignal: HaltSignal?

    init(loop: Loop, window: Int, haltSignal: HaltSignal?) {
        precondition(window >= 1, "at least one connect in flight")
        self.loop = loop
        self.window = window
        self.haltSignal = haltSignal
    }

    /// Adds a member; the run counted it in `stats.unsettled` already, before handing the work to the loop,
    /// so a waiter never sees zero before the members exist.
    func add(_ member: any LoadMember) {
        members.append(member)
    }

    /// Starts first attempts up to the window.
    func startPaced() {
        if haltSignal?.isRaised == true { halt() }
        while !halted, attemptsInFlight < window, nextToStart < members.count {
            attemptsInFlight += 1
            nextToStart += 1
            members[nextToStart - 1].start()
        }
    }

    /// A member's first attempt opened or failed: start the next one.
    func firstAttemptEnded() {
        attemptsInFlight -= 1
        stats.unsettled.subtract(1, ordering: .relaxed)
        startPaced()
    }

    /// Starts no more first attempts; the members never started count as settled.
    func halt() {
        guard !halted else { return }
        halted = true
        neverStarted = members.count - nextToStart
        stats.unsettled.subtract(neverStarted, ordering: .relaxed)
        nextToStart = members.count
    }
}

/// Tells every loop of a run to stop opening connections. Any thread.
final class HaltSignal: Sendable {
    private let raised = Atomic<Bool>(false)

    var isRaised: Bool { raised.load(ordering: .relaxed) }
    func raise() { raised.store(true, ordering: .relaxed) }
}
