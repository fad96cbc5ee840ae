import COpenSSL
import RuntimeIO
#if canImport(Glibc)
import Glibc
#endif

/// A TLS session on its way to another loop: the descriptor and the SSL object (with its BIOs, which
/// may hold the start of a record that arrived before the socket stopped reading). Attaching makes an
/// established `TLSStream` on the new loop that carries on the same session.
///
/// Ownership: the one holder may attach it once; dropped unattached, it frees the session and closes
/// the descriptor.
public final class DetachedTLSStream: DetachedStream, @unchecked Sendable {
    private var parts: (fd: Int32, ssl: OpaquePointer)?
    private let context: TLSContext
    private let serverName: String?
    private let closeNotifyReceived: Bool

    init(fd: Int32, ssl: OpaquePointer, context: TLSContext, serverName: String?, closeNotifyReceived: Bool) {
        parts = (fd, ssl)
        self.context = context
        self.serverName = serverName
        self.closeNotifyReceived = closeNotifyReceived
    }

    deinit {
        if let parts {
            SSL_free(parts.ssl)
            Glibc.close(parts.fd)
        }
    }

    public func attach(to loop: Loop) -> any ByteStream {
        loop.preconditionOnLoop()
        guard let parts else { preconditionFailure("detached TLS stream attached twice") }
        self.parts = nil
        let stream = TLSStream(socket: StreamSocket(loop: loop, fd: parts.fd), context: context, ssl: parts.ssl,
                               state: .established, serverName: serverName)
        stream.closeNotifyReceived = closeNotifyReceived
        return stream
    }
}
