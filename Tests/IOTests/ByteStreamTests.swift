import Synchronization
import Testing
@testable import RuntimeIO
#if canImport(Glibc)
import Glibc
#endif

/// The `ByteStream` side of `StreamSocket`: owners that see only the protocol.
@Suite("StreamSocket as a ByteStream")
struct ByteStreamTests {
    /// Echoes through the protocol only; on the first bytes it stops and at once restarts reading, the
    /// way a TLS stream does when its owner toggles reading within one turn.
    final class TogglingEcho: ByteStreamDelegate {
        var toggled = false
        func streamReceived(_ stream: any ByteStream, _ bytes: UnsafeRawBufferPointer) {
            stream.write(bytes)
            if !toggled {
                toggled = true
                stream.stopReading()
                stream.startReading()
            }
        }
        func streamReadClosed(_ stream: any ByteStream, error: (any Error)?) { stream.closeAfterFlush() }
        func streamClosed(_ stream: any ByteStream) {}
    }

    /// Sends one chunk per `send` call and collects what comes back.
    final class Client: ByteStreamDelegate {
        let received: Shared<[UInt8]>
        let connected: Shared<Bool>
        init(received: Shared<[UInt8]>, connected: Shared<Bool>) {
            self.received = received
            self.connected = connected
        }
        func streamConnected(_ stream: any ByteStream, error: (any Error)?) {
            stream.startReading()
            connected.withLock { $0 = error == nil }
        }
        func streamReceived(_ stream: any ByteStream, _ bytes: UnsafeRawBufferPointer) {
            received.withLock { $0.append(contentsOf: bytes) }
        }
        func streamReadClosed(_ stream: any ByteStream, error: (any Error)?) { stream.close() }
        func streamClosed(_ stream: any ByteStream) {}
    }

    static func waitFor(_ condition: () -> Bool) -> Bool {
        for _ in 0..<5000 where !condition() { usleep(1000) }
        return condition()
    }

    @Test("stopReading then startReading in one turn keeps delivering (the receive is re-armed after its cancel)")
    func toggleReading() throws {
        let group = try LoopGroup(count: 2)
        defer { group.stop(); group.join() }
        let (fd, address) = try Listener.bind(try SocketAddress("127.0.0.1:0"))
        let server = group.loops[0]
        let keep = Shared<[AnyObject]>([])
        server.execute {
            let listener = Listener(loop: server, fd: fd, address: address) { accepted in
                let socket: any ByteStream = StreamSocket(loop: server, fd: accepted)
                let echo = TogglingEcho()
                socket.delegate = echo
                socket.startReading()
            }
            keep.withLock { $0.append(listener) }
            listener.start()
        }
        let received = Shared<[UInt8]>([])
        let connected = Shared(false)
        let loop = group.loops[1]
        let stream = Shared<StreamSocket?>(nil)
        loop.execute {
            let socket = try? StreamSocket.connect(loop: loop, to: address, delegate: Client(received: received, connected: connected))
            stream.withLock { $0 = socket }
        }
        #expect(Self.waitFor { connected.withLock { $0 } })
        loop.execute { stream.withLock { $0 }?.write(Array("one".utf8)) }
        #expect(Self.waitFor { received.withLock { $0.count } == 3 })
        usleep(50_000)
        loop.execute { stream.withLock { $0 }?.write(Array("two".utf8)) }
        #expect(Self.waitFor { received.withLock { $0.count } == 6 })
        #expect(received.withLock { $0 } == Array("onetwo".utf8))
    }

    @Test("handOver gives a DetachedSocket that carries the connection to another loop")
    func handOver() throws {
        let group = try LoopGroup(count: 3)
        defer { group.stop(); group.join() }
        let (fd, address) = try Listener.bind(try SocketAddress("127.0.0.1:0"))
        let first = group.loops[0]
        let second = group.loops[2]
        let keep = Shared<[AnyObject]>([])
        let movedTo = Shared<String?>(nil)
        final class MoveOnFirstBytes: ByteStreamDelegate, @unchecked Sendable {
            let target: Loop
            let movedTo: Shared<String?>
            init(target: Loop, movedTo: Shared<String?>) {
                self.target = target
                self.movedTo = movedTo
            }
            func streamReceived(_ stream: any ByteStream, _ bytes: UnsafeRawBufferPointer) {
                stream.write(Array("first:".utf8) + Array(bytes))
                stream.handOver { [target, movedTo] detached in
                    target.execute {
                        let moved = detached.attach(to: target)
                        movedTo.withLock { $0 = Loop.current?.name }
                        moved.delegate = EchoHandler()
                        moved.startReading()
                    }
                }
            }
            func streamReadClosed(_ stream: any ByteStream, error: (any Error)?) {}
            func streamClosed(_ stream: any ByteStream) {}
        }
        first.execute {
            let listener = Listener(loop: first, fd: fd, address: address) { accepted in
                let socket = StreamSocket(loop: first, fd: accepted)
                socket.delegate = MoveOnFirstBytes(target: second, movedTo: movedTo)
                socket.startReading()
            }
            keep.withLock { $0.append(listener) }
            listener.start()
        }
        let received = Shared<[UInt8]>([])
        let connected = Shared(false)
        let loop = group.loops[1]
        let stream = Shared<StreamSocket?>(nil)
        loop.execute {
            let socket = try? StreamSocket.connect(loop: loop, to: address, delegate: Client(received: received, connected: connected))
            stream.withLock { $0 = socket }
        }
        #expect(Self.waitFor { connected.withLock { $0 } })
        loop.execute { stream.withLock { $0 }?.write(Array("a".utf8)) }
        #expect(Self.waitFor { received.withLock { $0.count } == 7 })
        #expect(Self.waitFor { movedTo.withLock { $0 } != nil })
        loop.execute { stream.withLock { $0 }?.write(Array("b".utf8)) }
        #expect(Self.waitFor { received.withLock { $0.count } == 8 })
        #expect(received.withLock { $0 } == Array("first:ab".utf8))
        #expect(movedTo.withLock { $0 } == second.name)
    }

    @Test("a DetachedSocket nobody attaches closes its descriptor")
    func droppedDetachedSocket() throws {
        var fds: [Int32] = [0, 0]
        #expect(socketpair(AF_UNIX, Int32(SOCK_STREAM.rawValue), 0, &fds) == 0)
        defer { close(fds[1]) }
        do { _ = DetachedSocket(fd: fds[0]) }
        #expect(fcntl(fds[0], F_GETFD) == -1 && errno == EBADF)
    }
}
