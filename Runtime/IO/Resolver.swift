#if canImport(Glibc)
import Glibc
#endif

/// Host name resolution off the loop threads: getaddrinfo blocks (it may wait on DNS for seconds), so
/// each lookup runs on a short-lived thread of its own and the answer comes back to the caller.
public enum Resolver {
    /// The first address of `host` (a name or an IP literal) at `port`.
    public static func resolve(host: String, port: UInt16) async throws -> SocketAddress {
        if let literal = try? SocketAddress.literal(host: host, port: port) { return literal }
        return try await withCheckedThrowingContinuation { continuation in
            let box = ResolveJob(host: host, port: port, continuation: continuation)
            var thread = pthread_t()
            let started = pthread_create(&thread, nil, { context in
                let job = Unmanaged<ResolveJob>.fromOpaque(context!).takeRetainedValue()
                do {
                    job.continuation.resume(returning: try SocketAddress(host: job.host, port: job.port))
                } catch {
                    job.continuation.resume(throwing: error)
                }
                return nil
            }, Unmanaged.passRetained(box).toOpaque())
            if started == 0 {
                pthread_detach(thread)
            } else {
                Unmanaged.passUnretained(box).release()
                continuation.resume(throwing: IOError(errno: started, "pthread_create (resolver)"))
            }
        }
    }

    private final class ResolveJob: @unchecked Sendable {
        let host: String
        let port: UInt16
        let continuation: CheckedContinuation<SocketAddress, any Error>
        init(host: String, port: UInt16, continuation: CheckedContinuation<SocketAddress, any Error>) {
            self.host = host
            self.port = port
            self.continuation = continuation
        }
    }
}

extension SocketAddress {
    /// An IPv4 or IPv6 literal, parsed without any lookup; throws for anything else.
    static func literal(host: String, port: UInt16) throws -> SocketAddress {
        var storage = sockaddr_storage()
        let bare = host.hasPrefix("[") && host.hasSuffix("]") ? String(host.dropFirst().dropLast()) : host
        var v4 = sockaddr_in()
        if inet_pton(AF_INET, bare, &v4.sin_addr) == 1 {
            v4.sin_family = sa_family_t(AF_INET)
            v4.sin_port = port.bigEndian
            withUnsafeMutableBytes(of: &storage) { target in
                withUnsafeBytes(of: v4) { target.copyMemory(from: $0) }
            }
            return SocketAddress(storage: storage, length: socklen_t(MemoryLayout<sockaddr_in>.size))
        }
        var v6 = sockaddr_in6()
        if inet_pton(AF_INET6, bare, &v6.sin6_addr) == 1 {
            v6.sin6_family = sa_family_t(AF_INET6)
            v6.sin6_port = port.bigEndian
            withUnsafeMutableBytes(of: &storage) { target in
                withUnsafeBytes(of: v6) { target.copyMemory(from: $0) }
            }
            return SocketAddress(storage: storage, length: socklen_t(MemoryLayout<sockaddr_in6>.size))
        }
        throw SocketAddress.ParseError.unresolvable(host, "not an IP literal")
    }
}
