import RuntimeAPI
import RuntimeIO
import Synchronization

/// DNS for the client: `Resolver` (getaddrinfo on a thread of its own, never on a loop), raced against
/// a `LoopTimer` at the connect deadline, since getaddrinfo cannot be cancelled and may wait for
/// seconds. A lookup that loses the race finishes on its thread and is ignored.
enum HostLookup {
    /// The address of `origin`, or `dnsFailed`, or `connectTimeout` / `totalTimeout` once `deadline`
    /// (monotonic nanoseconds) passes. `loop` only hosts the timer.
    static func resolve(_ origin: FetchOrigin, on loop: Loop, deadline: UInt64, timeoutError: FetchError)
        async throws -> SocketAddress {
        if isAddressLiteral(origin.host) {
            // No lookup: Resolver parses it on the calling thread, at once.
            return try await resolveNow(origin)
        }
        return try await withCheckedThrowingContinuation { continuation in
            let race = Race(continuation)
            loop.execute {
                // The lookup may have won already (its cancel can even run before this, from another queue).
                guard !race.isFinished else { return }
                let timer = LoopTimer { race.finish(.failure(timeoutError)) }
                race.timer = timer
                loop.arm(timer, at: deadline)
            }
            Task.detached {
                let result: Result<SocketAddress, any Error>
                do {
                    result = .success(try await resolveNow(origin))
                } catch {
                    result = .failure(error)
                }
                race.finish(result)
                loop.execute { if let timer = race.timer { loop.cancel(timer) } }
            }
        }
    }

    private static func resolveNow(_ origin: FetchOrigin) async throws -> SocketAddress {
        do {
            return try await Resolver.resolve(host: origin.host, port: origin.port)
        } catch let error as SocketAddress.ParseError {
            if case .unresolvable(_, let why) = error { throw FetchError.dnsFailed(host: origin.host, reason: why) }
            throw FetchError.dnsFailed(host: origin.host, reason: "\(error)")
        } catch {
            throw FetchError.dnsFailed(host: origin.host, reason: "\(error)")
        }
    }

    /// An IPv4 dotted quad or an IPv6 address (FetchTarget has taken the brackets off).
    static func isAddressLiteral(_ host: String) -> Bool {
        host.contains(":") || host.utf8.allSatisfy { $0 == UInt8(ascii: ".") || ($0 >= 0x30 && $0 <= 0x39) }
    }

    /// Whichever of the lookup and the timer finishes first resumes the continuation.
    ///
    /// Threading: `finish` from any thread; `timer` is set and read on the loop only.
    private final class Race: @unchecked Sendable {
        private let continuation: Mutex<CheckedContinuation<SocketAddress, any Error>?>
        var timer: LoopTimer?

        init(_ continuation: CheckedContinuation<SocketAddress, any Error>) {
            self.continuation = Mutex(continuation)
        }

        var isFinished: Bool { continuation.withLock { $0 == nil } }

        func finish(_ result: Result<SocketAddress, any Error>) {
            let waiting = continuation.withLock { current in
                defer { current = nil }
                return current
            }
            waiting?.resume(with: result)
        }
    }
}
