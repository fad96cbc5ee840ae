import Foundation
import Testing
import RuntimeIO
@testable import RuntimeTLS
#if canImport(Glibc)
import Glibc
#endif

/// Our TLS client against our TLS server, in-process over loopback: both roles, big transfers, the
/// hand-over of a session to another loop, and what a peer that does not speak TLS gets.
@Suite("TLSStream")
struct TLSStreamTests {
    @Test("4 MiB echoed through our server and client; ALPN http/1.1 and TLS 1.3 on both sides")
    func echo() async throws {
        try await offPool {
            let certificates = try TestCertificates.make()
            defer { certificates.remove() }
            let group = try LoopGroup(count: 2)
            defer { group.stop(); group.join() }
            let keep = Shared<[AnyObject]>([])
            let server = EchoServer()
            let address = try startTLSListener(on: group.loops[0], context: try certificates.serverContext(),
                                               keep: keep) { server.start($0) }
            let payload = pattern(4 << 20)
            let client = RecordingClient(payload: payload)
            client.connect(on: group.loops[1], to: address, serverName: "localhost",
                           context: try certificates.clientContext())
            #expect(waitFor(20) { client.events.current.received.count >= payload.count })
            let events = client.events.current
            #expect(events.connected == .some(nil))
            #expect(events.received == payload)
            #expect(events.alpn == "http/1.1")
            #expect(events.version == "TLSv1.3")
            #expect(server.events.current.alpn == "http/1.1")
            // Our closeAfterFlush sends close_notify: the server reads a clean end, not a truncation.
            group.loops[1].execute { client.stream?.closeAfterFlush() }
            #expect(waitFor { server.events.current.readClosed })
            #expect(server.events.current.readError == nil, "\(server.events.current.readError ?? "")")
            #expect(waitFor { client.events.current.closed && server.events.current.closed })
        }
    }

    @Test("a peer that closes TCP without close_notify reads as truncated")
    func truncation() async throws {
        try await offPool {
            let certificates = try TestCertificates.make()
            defer { certificates.remove() }
            let group = try LoopGroup(count: 2)
            defer { group.stop(); group.join() }
            let keep = Shared<[AnyObject]>([])
            let server = EchoServer()
            let address = try startTLSListener(on: group.loops[0], context: try certificates.serverContext(),
                                               keep: keep) { server.start($0) }
            let client = RecordingClient(payload: Array("ping".utf8))
            client.connect(on: group.loops[1], to: address, serverName: "localhost",
                           context: try certificates.clientContext())
            #expect(waitFor { client.events.current.received.count == 4 })
            group.loops[1].execute { client.stream?.close() }
            #expect(waitFor { server.events.current.readClosed })
            guard case .truncated = server.events.current.readTLSError else {
                Issue.record("expected a truncation, got \(server.events.current.readError ?? "nil")")
                return
            }
        }
    }

    @Test("a server session handed to another loop carries on, bytes sent before the hand-over included")
    func handOver() async throws {
        try await offPool {
            let certificates = try TestCertificates.make()
            defer { certificates.remove() }
            let group = try LoopGroup(count: 3)
            defer { group.stop(); group.join() }
            let keep = Shared<[AnyObject]>([])
            let target = group.loops[2]
            let mover = HandingOverServer(target: target)
            let address = try startTLSListener(on: group.loops[0], context: try certificates.serverContext(),
                                               keep: keep) { mover.start($0) }
            let client = RecordingClient(payload: Array("move\n".utf8) + Array("right behind\n".utf8))
            client.connect(on: group.loops[1], to: address, serverName: "localhost",
                           context: try certificates.clientContext())
            // "move" goes to the first loop's owner; what came with it, and everything after, is
            // answered on the target loop.
            let expected = "first: move\nsecond: right behind\n"
            #expect(waitFor { String(decoding: client.events.current.received, as: UTF8.self) == expected },
                    "\(String(decoding: client.events.current.received, as: UTF8.self))")
            client.send(Array("later\n".utf8), on: group.loops[1])
            let later = expected + "second: later\n"
            #expect(waitFor { String(decoding: client.events.current.received, as: UTF8.self) == later },
                    "\(String(decoding: client.events.current.received, as: UTF8.self))")
            #expect(mover.movedLoop.current == target.name)
            // The moved session still ends properly: our close_notify reaches the new owner as EOF.
            group.loops[1].execute { client.stream?.closeAfterFlush() }
            #expect(waitFor { mover.secondEnded.current == .some(nil) }, "\(String(describing: mover.secondEnded.current))")
        }
    }

    @Test("a plain-HTTP client gets the configured refusal; the server stream reports plainHTTP")
    func plainClient() async throws {
        try await offPool {
            let certificates = try TestCertificates.make()
            defer { certificates.remove() }
            let group = try LoopGroup(count: 1)
            defer { group.stop(); group.join() }
            let keep = Shared<[AnyObject]>([])
            let server = EchoServer()
            let refusal = Array("HTTP/1.1 400 Bad Request\r\nContent-Length: 0\r\nConnection: close\r\n\r\n".utf8)
            let address = try startTLSListener(on: group.loops[0], context: try certificates.serverContext(refusal: refusal),
                                               keep: keep) { server.start($0) }
            let answer = try plainExchange(port: address.port, send: "GET / HTTP/1.1\r\nHost: x\r\n\r\n")
            #expect(answer == refusal)
            #expect(waitFor { server.events.current.closed })
            guard case .plainHTTP = server.events.current.readTLSError else {
                Issue.record("expected plainHTTP, got \(server.events.current.readError ?? "nil")")
                return
            }
        }
    }

    @Test("a client that never says hello is dropped after the handshake timeout")
    func silentClient() async throws {
        try await offPool {
            let certificates = try TestCertificates.make()
            defer { certificates.remove() }
            let group = try LoopGroup(count: 1)
            defer { group.stop(); group.join() }
            let keep = Shared<[AnyObject]>([])
            let server = EchoServer()
            let context = try certificates.serverContext(handshakeTimeout: .milliseconds(300))
            let address = try startTLSListener(on: group.loops[0], context: context, keep: keep) { server.start($0) }
            let started = Date()
            let answer = try plainExchange(port: address.port, send: nil)
            #expect(answer.isEmpty)
            #expect(Date().timeIntervalSince(started) < 5)
            #expect(waitFor { server.events.current.closed })
            guard case .handshakeTimedOut = server.events.current.readTLSError else {
                Issue.record("expected a handshake timeout, got \(server.events.current.readError ?? "nil")")
                return
            }
        }
    }

    @Test("our client to a plain server fails the handshake with the reason, promptly")
    func plainServer() async throws {
        try await offPool {
            let certificates = try TestCertificates.make()
            defer { certificates.remove() }
            let group = try LoopGroup(count: 1)
            defer { group.stop(); group.join() }
            let keep = Shared<[AnyObject]>([])
            let (fd, address) = try Listener.bind(try SocketAddress("127.0.0.1:0"))
            let loop = group.loops[0]
            loop.execute {
                let listener = Listener(loop: loop, fd: fd, address: address) { accepted in
                    let socket = StreamSocket(loop: loop, fd: accepted)
                    socket.delegate = PlainHTTPRefuser()
                    socket.startReading()
                }
                keep.withLock { $0.append(listener) }
                listener.start()
            }
            let client = RecordingClient()
            client.connect(on: loop, to: address, serverName: "localhost", context: try certificates.clientContext())
            #expect(waitFor(5) { client.events.current.connected != nil })
            guard case .handshakeFailed(_, let reason) = client.events.current.connectError else {
                Issue.record("expected a handshake failure, got \(String(describing: client.events.current.connected))")
                return
            }
            #expect(reason.contains("wrong version number") || reason.contains("record"), "\(reason)")
            #expect(waitFor { client.events.current.closed })
        }
    }

    @Test("our client to a port that accepts and never answers times out the handshake")
    func silentServer() async throws {
        try await offPool {
            let certificates = try TestCertificates.make()
            defer { certificates.remove() }
            let group = try LoopGroup(count: 1)
            defer { group.stop(); group.join() }
            // Bound and listening, never accepting: the kernel completes TCP, nobody answers the hello.
            let (fd, address) = try Listener.bind(try SocketAddress("127.0.0.1:0"))
            defer { close(fd) }
            let client = RecordingClient()
            client.connect(on: group.loops[0], to: address, serverName: "localhost",
                           context: try certificates.clientContext(handshakeTimeout: .milliseconds(300)))
            #expect(waitFor(5) { client.events.current.connected != nil })
            guard case .handshakeTimedOut = client.events.current.connectError else {
                Issue.record("expected a timeout, got \(String(describing: client.events.current.connected))")
                return
            }
        }
    }
}

/// Answers the first bytes with "first: <line>", hands its stream to `target`, where a second owner
/// answers every later line with "second: <line>" (starting with what arrived before the move).
final class HandingOverServer: ByteStreamDelegate, @unchecked Sendable {
    let target: Loop
    let movedLoop = Shared<String?>(nil)
    /// nil: not yet; .some(nil): clean EOF; .some(text): error.
    let secondEnded = Shared<String??>(nil)
    private var buffered: [UInt8] = []
    private var answeredFirst = false

    init(target: Loop) { self.target = target }

    func start(_ stream: any ByteStream) {
        stream.delegate = self
        stream.startReading()
    }

    func streamReceived(_ stream: any ByteStream, _ bytes: UnsafeRawBufferPointer) {
        buffered.append(contentsOf: bytes)
        guard !answeredFirst, let newline = buffered.firstIndex(of: 10) else { return }
        answeredFirst = true
        stream.write(Array("first: ".utf8) + buffered[...newline])
        buffered.removeFirst(newline + 1)
        stream.handOver { [self] detached in
            let leftover = buffered
            let target = self.target
            let movedLoop = self.movedLoop
            let secondEnded = self.secondEnded
            target.execute {
                let moved = detached.attach(to: target)
                let second = LineAnswerer(prefix: "second: ", ended: secondEnded)
                movedLoop.withLock { $0 = Loop.current?.name }
                moved.delegate = second
                second.take(leftover, on: moved)
                moved.startReading()
            }
        }
    }

    func streamReadClosed(_ stream: any ByteStream, error: (any Error)?) {}
    func streamClosed(_ stream: any ByteStream) {}
}

/// Answers each line with `prefix` + the line.
final class LineAnswerer: ByteStreamDelegate, @unchecked Sendable {
    let prefix: [UInt8]
    let ended: Shared<String??>
    private var buffered: [UInt8] = []

    init(prefix: String, ended: Shared<String??>) {
        self.prefix = Array(prefix.utf8)
        self.ended = ended
    }

    func take(_ bytes: [UInt8], on stream: any ByteStream) {
        buffered += bytes
        while let newline = buffered.firstIndex(of: 10) {
            stream.write(prefix + buffered[...newline])
            buffered.removeFirst(newline + 1)
        }
    }

    func streamReceived(_ stream: any ByteStream, _ bytes: UnsafeRawBufferPointer) { take(Array(bytes), on: stream) }

    func streamReadClosed(_ stream: any ByteStream, error: (any Error)?) {
        ended.withLock { $0 = .some(error.map { "\($0)" }) }
        stream.closeAfterFlush()
    }

    func streamClosed(_ stream: any ByteStream) {}
}

/// A plain HTTP server's answer to anything: 400, then close.
final class PlainHTTPRefuser: StreamSocketDelegate {
    func socketReceived(_ socket: StreamSocket, _ bytes: UnsafeRawBufferPointer) {
        socket.write(Array("HTTP/1.1 400 Bad Request\r\nContent-Length: 0\r\nConnection: close\r\n\r\n".utf8))
        socket.closeAfterFlush()
    }
    func socketReadClosed(_ socket: StreamSocket, error: IOError?) { socket.close() }
    func socketClosed(_ socket: StreamSocket) {}
}

/// A blocking plain TCP client: sends `send` (if any), reads until EOF (10 s at most), returns the bytes.
func plainExchange(port: UInt16, send text: String?) throws -> [UInt8] {
    let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
    defer { close(fd) }
    var timeout = timeval(tv_sec: 10, tv_usec: 0)
    setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &timeout, socklen_t(MemoryLayout<timeval>.size))
    var address = sockaddr_in()
    address.sin_family = sa_family_t(AF_INET)
    address.sin_port = port.bigEndian
    address.sin_addr.s_addr = inet_addr("127.0.0.1")
    let connected = withUnsafePointer(to: &address) {
        $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { connect(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) }
    }
    guard connected == 0 else { throw FixtureError(description: "connect: errno \(errno)") }
    if let text {
        let bytes = Array(text.utf8)
        _ = bytes.withUnsafeBytes { Glibc.send(fd, $0.baseAddress, $0.count, Int32(MSG_NOSIGNAL)) }
    }
    var received: [UInt8] = []
    var chunk = [UInt8](repeating: 0, count: 65536)
    while true {
        let count = chunk.withUnsafeMutableBytes { recv(fd, $0.baseAddress, $0.count, 0) }
        if count < 0 && errno == EINTR { continue }
        if count < 0 && (errno == EAGAIN || errno == EWOULDBLOCK) { throw FixtureError(description: "no EOF in 10 s") }
        if count <= 0 { break }
        received += chunk[0..<count]
    }
    return received
}
