import Synchronization
import CURing
#if canImport(Glibc)
import Glibc
#endif

/// N loops, one thread each. Every loop is created on its own thread, because an io_uring set up with
/// SINGLE_ISSUER belongs to the thread that created it.
public final class LoopGroup: Sendable {
    public let loops: [Loop]
    private let threads: Mutex<[pthread_t]>

    /// Starts `count` loop threads and returns once every loop is ready, or throws the first setup error.
    public init(count: Int, limits: IOLimits = IOLimits(), namePrefix: String = "loop") throws(IOError) {
        precondition(count > 0, "a loop group needs at least one loop")
        let results = Mutex<[Result<Loop, IOError>?]>(Array(repeating: nil, count: count))
        var started: [pthread_t] = []
        for index in 0..<count {
            let name = "\(namePrefix)-\(index)"
            let thread = Self.spawn(name: name) {
                let result: Result<Loop, IOError>
                do throws(IOError) {
                    result = .success(try Loop(name: name, limits: limits))
                } catch {
                    result = .failure(error)
                }
                results.withLock { $0[index] = result }
                if case .success(let loop) = result { loop.run() }
            }
            started.append(thread)
        }
        while results.withLock({ $0.contains { $0 == nil } }) {
            usleep(1000)
        }
        var loops: [Loop] = []
        var failure: IOError? = nil
        for result in results.withLock({ $0 }) {
            switch result! {
            case .success(let loop): loops.append(loop)
            case .failure(let error): failure = failure ?? error
            }
        }
        self.loops = loops
        self.threads = Mutex(started)
        if let failure {
            for loop in loops { loop.stop() }
            join()
            throw failure
        }
    }

    /// The number of online processors, the default loop count.
    public static var processorCount: Int { max(1, Int(sysconf(Int32(_SC_NPROCESSORS_ONLN)))) }

    /// Stops every loop after its current turn. Safe from any thread.
    public func stop() { for loop in loops { loop.stop() } }

    /// Waits for every loop thread to end. Call from a thread that is not a loop.
    public func join() {
        let threads = self.threads.withLock { threads in
            let all = threads
            threads.removeAll()
            return all
        }
        for thread in threads { pthread_join(thread, nil) }
    }

    private final class ThreadBody {
        let body: () -> Void
        init(_ body: @escaping () -> Void) { self.body = body }
    }

    private static func spawn(name: String, _ body: @escaping () -> Void) -> pthread_t {
        let box = Unmanaged.passRetained(ThreadBody(body)).toOpaque()
        var thread = pthread_t()
        let result = pthread_create(&thread, nil, { raw in
            let body = Unmanaged<ThreadBody>.fromOpaque(raw!).takeRetainedValue()
            body.body()
            return nil
        }, box)
        precondition(result == 0, "pthread_create failed: \(result)")
        return thread
    }
}
