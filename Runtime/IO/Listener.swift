import CURing
#if canImport(Glibc)
import Glibc
#endif

/// A listening TCP socket on one loop, accepting with one multishot accept. Each loop of a server has
/// its own listener on the same port (SO_REUSEPORT), so the kernel spreads connections and no accepted
/// socket ever crosses threads.
///
/// Threading: loop-bound.
public final class Listener: IOHandler {
    public let loop: Loop
    public let fd: Int32
    public let address: SocketAddress
    private var id: HandlerID!
    private var accepting = false
    private var closed = false
    private let accepted: (Int32) -> Void

    /// Default accept backlog; the kernel caps it at net.core.somaxconn.
    public static let backlog: Int32 = 4096
    /// Pause before accepting again after the process ran out of descriptors.
    public static let descriptorExhaustionBackoff: Duration = .milliseconds(100)

    /// Binds and listens on `address` (port 0 picks a free port: read `address` back).
    /// Runs on any thread; hand the listener to its loop before `start()`.
    public static func bind(_ address: SocketAddress) throws(IOError) -> (fd: Int32, bound: SocketAddress) {
        let fd = try syscallRetrying("socket") {
            socket(address.family, Int32(SOCK_STREAM.rawValue) | Int32(SOCK_CLOEXEC.rawValue), 0)
        }
        var one: Int32 = 1
        setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, socklen_t(MemoryLayout<Int32>.size))
        setsockopt(fd, SOL_SOCKET, SO_REUSEPORT, &one, socklen_t(MemoryLayout<Int32>.size))
        let bound = address.withSockaddr { pointer, length in Glibc.bind(fd, pointer, length) }
        if bound < 0 {
            let code = errno
            Glibc.close(fd)
            throw IOError(errno: code, "bind \(address)")
        }
        if Glibc.listen(fd, backlog) < 0 {
            let code = errno
            Glibc.close(fd)
            throw IOError(errno: code, "listen \(address)")
        }
        var storage = sockaddr_storage()
        var length = socklen_t(MemoryLayout<sockaddr_storage>.size)
        withUnsafeMutablePointer(to: &storage) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { _ = getsockname(fd, $0, &length) }
        }
        return (fd, SocketAddress(storage: storage, length: length))
    }

    /// Takes ownership of a bound, listening `fd`. `accepted` gets each new connection's descriptor
    /// (non-blocking, close-on-exec, TCP_NODELAY set).
    public init(loop: Loop, fd: Int32, address: SocketAddress, accepted: @escaping (Int32) -> Void) {
        self.loop = loop
        self.fd = fd
        self.address = address
        self.accepted = accepted
    }

    public func start() {
        loop.preconditionOnLoop()
        if id == nil { id = loop.register(self) }
        armAccept()
    }

    private func armAccept() {
        guard !accepting, !closed else { return }
        let sqe = loop.nextSQE()
        io_uring_prep_multishot_accept(sqe, fd, nil, nil, Int32(SOCK_CLOEXEC.rawValue))
        io_uring_sqe_set_data64(sqe, id.token(.accept).userData)
        accepting = true
    }

    /// Stops accepting and closes the listening socket; connections already accepted are unaffected.
    public func close() {
        guard !closed else { return }
        closed = true
        if accepting {
            let sqe = loop.nextSQE()
            io_uring_prep_cancel64(sqe, id.token(.accept).userData, 0)
            io_uring_sqe_set_data64(sqe, id.token(.cancel).userData)
        } else {
            finish()
        }
    }

    private func finish() {
        Glibc.close(fd)
        if id != nil { loop.unregister(id) }
    }

    public func ioCompleted(_ operation: IOOperation, result: Int32, flags: UInt32,
                            buffer: UnsafeRawBufferPointer?) {
        guard operation == .accept else { return }
        if flags & curing_cqe_f_more == 0 {
            accepting = false
        }
        if result >= 0 {
            if closed {
                Glibc.close(result)
            } else {
                var one: Int32 = 1
                setsockopt(result, Int32(IPPROTO_TCP), TCP_NODELAY, &one, socklen_t(MemoryLayout<Int32>.size))
                accepted(result)
            }
        }
        // Errors such as ECONNABORTED end only this accept and the multishot is re-armed at once. Out of
        // descriptors (EMFILE, ENFILE) would fail again immediately, so wait a little first.
        guard !accepting else { return }
        if closed {
            finish()
        } else if result == -EMFILE || result == -ENFILE {
            let timer = LoopTimer { [weak self] in self?.armAccept() }
            loop.arm(timer, after: Self.descriptorExhaustionBackoff)
        } else {
            armAccept()
        }
    }
}
