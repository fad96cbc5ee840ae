import Synchronization
import Testing
@testable import RuntimeIO
#if canImport(Glibc)
import Glibc
#endif

/// Echoes everything back; used to drive StreamSocket through real loopback TCP.
final class EchoHandler: StreamSocketDelegate {
    func socketReceived(_ socket: StreamSocket, _ bytes: UnsafeRawBufferPointer) { socket.write(bytes) }
    func socketReadClosed(_ socket: StreamSocket, error: IOError?) { socket.closeAfterFlush() }
    func socketClosed(_ socket: StreamSocket) {}
}

/// Sends a payload, collects the echo, reports when it has it all.
final class EchoClient: StreamSocketDelegate {
    let payload: [UInt8]
    var received: [UInt8] = []
    let done: Shared<[UInt8]?>
    init(payload: [UInt8], done: Shared<[UInt8]?>) {
        self.payload = payload
        self.done = done
    }
    func socketConnected(_ socket: StreamSocket, error: IOError?) {
        precondition(error == nil, "connect failed: \(String(describing: error))")
        socket.startReading()
        socket.write(payload)
    }
    func socketReceived(_ socket: StreamSocket, _ bytes: UnsafeRawBufferPointer) {
        received.append(contentsOf: bytes)
        if received.count == payload.count {
            done.withLock { $0 = received }
            socket.close()
        }
    }
    func socketReadClosed(_ socket: StreamSocket, error: IOError?) { socket.close() }
    func socketClosed(_ socket: StreamSocket) {}
}

@Suite("StreamSocket and Listener")
struct StreamSocketTests {
    @Test("4 MiB echoed through a listener and a connecting socket arrive intact (partial sends, many buffers)")
    func echo() throws {
        let group = try LoopGroup(count: 2)
        defer { group.stop(); group.join() }
        let (fd, address) = try Listener.bind(try SocketAddress("127.0.0.1:0"))
        let server = group.loops[0]
        let keep = Shared<[AnyObject]>([])
        server.execute {
            let listener = Listener(loop: server, fd: fd, address: address) { accepted in
                let socket = StreamSocket(loop: server, fd: accepted)
                socket.delegate = EchoHandler()
                socket.startReading()
            }
            keep.withLock { $0.append(listener) }
            listener.start()
        }
        let payload = (0..<(4 << 20)).map { UInt8(truncatingIfNeeded: $0 % 251) }
        let done = Shared<[UInt8]?>(nil)
        let client = group.loops[1]
        client.execute {
            _ = try? StreamSocket.connect(loop: client, to: address, delegate: EchoClient(payload: payload, done: done))
        }
        var waited = 0
        while done.withLock({ $0 == nil }), waited < 10_000 { usleep(1000); waited += 1 }
        #expect(done.withLock { $0 } == payload)
    }

    @Test("connecting to a closed port reports the error")
    func refused() throws {
        let group = try LoopGroup(count: 1)
        defer { group.stop(); group.join() }
        let (fd, address) = try Listener.bind(try SocketAddress("127.0.0.1:0"))
        close(fd)  // nothing listens there now
        let result = Shared<IOError??>(nil)
        final class Probe: StreamSocketDelegate {
            let result: Shared<IOError??>
            init(_ result: Shared<IOError??>) { self.result = result }
            func socketConnected(_ socket: StreamSocket, error: IOError?) {
                result.withLock { $0 = .some(error) }
                socket.close()
            }
            func socketReceived(_ socket: StreamSocket, _ bytes: UnsafeRawBufferPointer) {}
            func socketReadClosed(_ socket: StreamSocket, error: IOError?) {}
            func socketClosed(_ socket: StreamSocket) {}
        }
        let loop = group.loops[0]
        loop.execute { _ = try? StreamSocket.connect(loop: loop, to: address, delegate: Probe(result)) }
        var waited = 0
        while result.withLock({ $0 == nil }), waited < 5000 { usleep(1000); waited += 1 }
        #expect(result.withLock { $0??.errno } == ECONNREFUSED)
    }
}
