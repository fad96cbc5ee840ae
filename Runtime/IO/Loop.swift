import CURing
import Synchronization
#if canImport(Glibc)
import Glibc
#endif

/// One io_uring event loop, run by one thread. The only place in the runtime that talks to the kernel's
/// ring.
///
/// Each turn of the loop:
/// 1. run the timers that are due;
/// 2. run queued work: Swift jobs (the loop is a `SerialExecutor` and `TaskExecutor`) and closures
///    handed over from other threads;
/// 3. let handlers that asked for it act once per turn (sockets submit everything written during the
///    turn as one send, so a response's head and body leave in one segment);
/// 4. submit queued SQEs and wait for at least one completion, or until the next timer, or not at all
///    when work is still queued;
/// 5. copy a bounded batch of completions out of the ring, advance it, and only then call the handlers,
///    so a callback never runs inside the drain and may submit freely.
///
/// Threading: everything except `execute(_:)`, `enqueue(_:)` and `stop()` must be called on the loop's
/// thread (checked with `preconditionOnLoop()`).
public final class Loop: @unchecked Sendable {
    public let name: String
    public let limits: IOLimits
    let ring: UnsafeMutablePointer<io_uring>
    let receiveBuffers: BufferRing
    let sendBuffers = SendBufferPool()
    /// Run tasks on this loop with `Task(executorPreference: loop.taskExecutor)`.
    public private(set) var taskExecutor: LoopTaskExecutor!

    private var handlers: [HandlerSlot] = []
    private var freeSlots: [UInt32] = []
    private var timers = TimerHeap()
    private var localJobs: [QueuedJob] = []
    private var endOfTurn: [any EndOfTurnHandler] = []
    private var localWork: [() -> Void] = []
    private let remote = Mutex(RemoteQueue())
    private let sleeping = Atomic<Bool>(false)
    private let wakeupFD: Int32
    private let wakeupBuffer = UnsafeMutablePointer<UInt64>.allocate(capacity: 1)
    private var wakeupHandler: WakeupHandler?
    private var wakeupID: HandlerID?
    private var thread: pthread_t?
    private var running = false
    private let stopRequested = Atomic<Bool>(false)
    /// Monotonic time read at the start of the current turn; cheap "now" for deadlines.
    public private(set) var now: UInt64 = MonotonicClock.now()

    struct HandlerSlot {
        var handler: (any IOHandler)?
        var generation: UInt32
    }

    /// A Swift job and which of the loop's executors it was enqueued on.
    struct QueuedJob {
        let job: UnownedJob
        let serial: Bool
    }

    struct RemoteQueue {
        var jobs: [QueuedJob] = []
        var work: [@Sendable () -> Void] = []
    }

    /// Sets up the ring and its receive buffers. Fails with the likely cause when io_uring is refused.
    public init(name: String = "loop", limits: IOLimits = IOLimits()) throws(IOError) {
        limits.validate()
        self.name = name
        self.limits = limits
        ring = UnsafeMutablePointer<io_uring>.allocate(capacity: 1)
        do {
            try Self.setUpRing(ring, limits: limits)
        } catch {
            ring.deallocate()
            throw error
        }
        do {
            receiveBuffers = try BufferRing(ring: ring, group: 0, bufferBytes: limits.receiveBufferBytes,
                                            count: limits.receiveBufferCount)
        } catch {
            io_uring_queue_exit(ring)
            ring.deallocate()
            throw error
        }
        taskExecutor = nil
        wakeupFD = eventfd(0, Int32(EFD_CLOEXEC))  // blocking: io_uring waits on it by poll
        precondition(wakeupFD >= 0, "eventfd failed: errno \(errno)")
        taskExecutor = LoopTaskExecutor(loop: self)
    }

    deinit {
        close(wakeupFD)
        wakeupBuffer.deallocate()
        receiveBuffers.unregister()   // while the io_uring still exists
        io_uring_queue_exit(ring)
        ring.deallocate()
    }

    /// Tries the fastest flags first (one submitting thread, completions run only when we wait), then
    /// falls back for older kernels, as liburing's examples do.
    private static func setUpRing(_ ring: UnsafeMutablePointer<io_uring>, limits: IOLimits) throws(IOError) {
        let base = curing_setup_submit_all | curing_setup_cqsize
        let attempts: [UInt32] = [
            base | curing_setup_single_issuer | curing_setup_defer_taskrun,
            base | curing_setup_coop_taskrun,
            base,
        ]
        var lastError: Int32 = 0
        for flags in attempts {
            var params = io_uring_params()
            params.flags = flags
            params.cq_entries = limits.completionQueueEntries
            let result = io_uring_queue_init_params(limits.submissionQueueEntries, ring, &params)
            if result == 0 { return }
            lastError = -result
            if lastError == EPERM || lastError == ENOSYS { break }
        }
        let hint = lastError == EPERM || lastError == ENOSYS
            ? "io_uring is disabled here: a container seccomp profile may block it, or sysctl kernel.io_uring_disabled is set"
            : "io_uring setup failed"
        throw IOError(errno: lastError, "io_uring_queue_init (\(hint))")
    }

    // MARK: Threading

    private static let currentKey: pthread_key_t = {
        var key = pthread_key_t()
        precondition(pthread_key_create(&key, nil) == 0, "pthread_key_create failed")
        return key
    }()

    /// The loop running on the calling thread, or nil off the loops.
    public static var current: Loop? {
        guard let pointer = pthread_getspecific(currentKey) else { return nil }
        return Unmanaged<Loop>.fromOpaque(pointer).takeUnretainedValue()
    }

    /// True on the thread running this loop.
    public var inLoop: Bool {
        guard let thread else { return false }
        return pthread_equal(thread, pthread_self()) != 0
    }

    public func preconditionOnLoop(_ file: StaticString = #fileID, _ line: UInt = #line) {
        precondition(inLoop || thread == nil, "called off loop \(name)", file: file, line: line)
    }

    /// Runs `work` on this loop: directly queued when called on the loop, otherwise handed over and the
    /// loop woken. Safe from any thread.
    public func execute(_ work: @escaping @Sendable () -> Void) {
        if inLoop {
            localWork.append(work)
            return
        }
        remote.withLock { $0.work.append(work) }
        wakeIfSleeping()
    }

    /// Asks the loop to leave `run()` after the current turn. Safe from any thread.
    public func stop() {
        stopRequested.store(true, ordering: .sequentiallyConsistent)
        execute {}
    }

    func enqueueJob(_ job: UnownedJob, serial: Bool) {
        let queued = QueuedJob(job: job, serial: serial)
        if inLoop {
            localJobs.append(queued)
            return
        }
        remote.withLock { $0.jobs.append(queued) }
        wakeIfSleeping()
    }

    private func wakeIfSleeping() {
        guard sleeping.exchange(false, ordering: .sequentiallyConsistent) else { return }
        var one: UInt64 = 1
        _ = write(wakeupFD, &one, 8)
    }

    // MARK: Handlers

    /// Enters `handler` in the table; its completions are routed by the returned id.
    public func register(_ handler: any IOHandler) -> HandlerID {
        preconditionOnLoop()
        if let slot = freeSlots.popLast() {
            handlers[Int(slot)].handler = handler
            return HandlerID(slot: slot, generation: handlers[Int(slot)].generation)
        }
        handlers.append(HandlerSlot(handler: handler, generation: 0))
        return HandlerID(slot: UInt32(handlers.count - 1), generation: 0)
    }

    /// Removes a handler. Completions still in flight for it are dropped (their buffers recycled), so
    /// call this only once the handler needs none of them.
    public func unregister(_ id: HandlerID) {
        preconditionOnLoop()
        let index = Int(id.slot)
        precondition(handlers[index].generation == id.generation, "handler unregistered twice")
        handlers[index].handler = nil
        handlers[index].generation = (id.generation + 1) & CompletionToken.generationMask
        freeSlots.append(id.slot)
    }

    /// Number of registered handlers (connections, listeners, ...).
    public var handlerCount: Int { handlers.count - freeSlots.count }

    // MARK: Timers

    public func arm(_ timer: LoopTimer, after delay: Duration) { arm(timer, at: now + delay.nanoseconds) }

    public func arm(_ timer: LoopTimer, at deadline: UInt64) {
        preconditionOnLoop()
        timers.arm(timer, at: deadline)
    }

    public func cancel(_ timer: LoopTimer) {
        preconditionOnLoop()
        timers.cancel(timer)
    }

    /// Calls `handler.endOfTurn()` once, after this turn's work and before the loop waits.
    public func atEndOfTurn(_ handler: any EndOfTurnHandler) {
        preconditionOnLoop()
        endOfTurn.append(handler)
    }

    private func runEndOfTurn() {
        while !endOfTurn.isEmpty {
            let handlers = endOfTurn
            endOfTurn.removeAll(keepingCapacity: true)
            for handler in handlers { handler.endOfTurn() }
        }
    }

    // MARK: Submission

    /// A free SQE, flushing the queue to the kernel when it is full.
    func nextSQE() -> UnsafeMutablePointer<io_uring_sqe> {
        if let sqe = io_uring_get_sqe(ring) { return sqe }
        _ = io_uring_submit(ring)
        guard let sqe = io_uring_get_sqe(ring) else {
            preconditionFailure("submission queue still full after submit; raise IOLimits.submissionQueueEntries")
        }
        return sqe
    }

    // MARK: Running

    /// Runs the loop on the calling thread until `stop()`.
    public func run() {
        thread = pthread_self()
        pthread_setspecific(Self.currentKey, Unmanaged.passUnretained(self).toOpaque())
        running = true
        armWakeup()
        var batch = [(UInt64, Int32, UInt32)](repeating: (0, 0, 0), count: IOLimits.completionBatch)
        var cqes = [UnsafeMutablePointer<io_uring_cqe>?](repeating: nil, count: IOLimits.completionBatch)
        while !stopRequested.load(ordering: .relaxed) {
            now = MonotonicClock.now()
            runDueTimers()
            runQueuedWork()
            runEndOfTurn()
            if stopRequested.load(ordering: .relaxed) { break }
            waitForCompletions()
            now = MonotonicClock.now()
            drainCompletions(&cqes, into: &batch)
        }
        running = false
        _ = io_uring_submit(ring)
    }

    private func runDueTimers() {
        while let timer = timers.popDue(now: now) {
            timer.callback()
        }
    }

    private func runQueuedWork() {
        // Bounded: work queued while running waits for the next turn, so I/O is never starved.
        let taken = remote.withLock { queue -> RemoteQueue in
            let result = queue
            queue.jobs.removeAll(keepingCapacity: true)
            queue.work.removeAll(keepingCapacity: true)
            return result
        }
        for work in taken.work { work() }
        for job in taken.jobs { runJob(job) }
        if !localWork.isEmpty {
            let work = localWork
            localWork.removeAll(keepingCapacity: true)
            for item in work { item() }
        }
        if !localJobs.isEmpty {
            let jobs = localJobs
            localJobs.removeAll(keepingCapacity: true)
            for job in jobs { runJob(job) }
        }
    }

    private func runJob(_ queued: QueuedJob) {
        if queued.serial {
            queued.job.runSynchronously(isolatedTo: asUnownedSerialExecutor(),
                                        taskExecutor: taskExecutor.asUnownedTaskExecutor())
        } else {
            queued.job.runSynchronously(on: taskExecutor.asUnownedTaskExecutor())
        }
    }

    private var hasQueuedWork: Bool { !localJobs.isEmpty || !localWork.isEmpty }

    private func waitForCompletions() {
        if hasQueuedWork {
            _ = io_uring_submit_and_get_events(ring)
            return
        }
        sleeping.store(true, ordering: .sequentiallyConsistent)
        let remoteHasWork = remote.withLock { !$0.jobs.isEmpty || !$0.work.isEmpty }
        if remoteHasWork || stopRequested.load(ordering: .sequentiallyConsistent) {
            sleeping.store(false, ordering: .sequentiallyConsistent)
            _ = io_uring_submit_and_get_events(ring)
            return
        }
        var cqe: UnsafeMutablePointer<io_uring_cqe>? = nil
        if let next = timers.earliest {
            let wait = next.deadline > now ? next.deadline - now : 0
            var timeout = __kernel_timespec(tv_sec: Int64(wait / 1_000_000_000),
                                            tv_nsec: Int64(wait % 1_000_000_000))
            _ = io_uring_submit_and_wait_timeout(ring, &cqe, 1, &timeout, nil)
        } else {
            _ = io_uring_submit_and_wait_timeout(ring, &cqe, 1, nil, nil)
        }
        sleeping.store(false, ordering: .sequentiallyConsistent)
    }

    private func drainCompletions(_ cqes: inout [UnsafeMutablePointer<io_uring_cqe>?],
                                  into batch: inout [(UInt64, Int32, UInt32)]) {
        while true {
            let count = Int(cqes.withUnsafeMutableBufferPointer {
                io_uring_peek_batch_cqe(ring, $0.baseAddress, UInt32(IOLimits.completionBatch))
            })
            if count == 0 { return }
            for index in 0..<count {
                let cqe = cqes[index]!.pointee
                batch[index] = (cqe.user_data, cqe.res, cqe.flags)
            }
            io_uring_cq_advance(ring, UInt32(count))
            for index in 0..<count {
                let (userData, result, flags) = batch[index]
                dispatch(userData: userData, result: result, flags: flags)
            }
            if count < IOLimits.completionBatch { return }
        }
    }

    private func dispatch(userData: UInt64, result: Int32, flags: UInt32) {
        guard let token = CompletionToken(userData: userData) else { return }
        var bufferID: Int? = nil
        if flags & curing_cqe_f_buffer != 0 {
            let id = Int(flags >> curing_cqe_buffer_shift)
            receiveBuffers.taken(id: id)
            bufferID = id
        }
        defer { if let bufferID { receiveBuffers.recycle(id: bufferID) } }
        let slot = Int(token.slot)
        guard slot < handlers.count, handlers[slot].generation == token.generation,
              let handler = handlers[slot].handler else { return }
        if let bufferID, result > 0 {
            handler.ioCompleted(token.operation, result: result, flags: flags,
                                buffer: receiveBuffers.bytes(id: bufferID, length: Int(result)))
        } else {
            handler.ioCompleted(token.operation, result: result, flags: flags, buffer: nil)
        }
    }

    // MARK: Wakeups

    private func armWakeup() {
        let handler = WakeupHandler(loop: self)
        wakeupHandler = handler
        let id = register(handler)
        wakeupID = id
        submitWakeupRead(id)
    }

    fileprivate func submitWakeupRead(_ id: HandlerID) {
        let sqe = nextSQE()
        io_uring_prep_read(sqe, wakeupFD, wakeupBuffer, 8, 0)
        io_uring_sqe_set_data64(sqe, id.token(.wakeup).userData)
    }

    /// Re-arms the eventfd read after each wakeup.
    private final class WakeupHandler: IOHandler {
        unowned let loop: Loop
        init(loop: Loop) { self.loop = loop }
        func ioCompleted(_ operation: IOOperation, result: Int32, flags: UInt32, buffer: UnsafeRawBufferPointer?) {
            if let id = loop.wakeupID { loop.submitWakeupRead(id) }
        }
    }
}
