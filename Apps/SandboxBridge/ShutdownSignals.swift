import Dispatch
import Synchronization
#if canImport(Glibc)
import Glibc
#endif

/// SIGTERM and SIGINT (the provider ending the sandbox, a person at a terminal) shut the bridge down as the
/// `shutdown` command does; a second signal exits at once.
enum ShutdownSignals {
    private static let received = Mutex(false)

    /// Keep the returned sources alive for as long as the signals should be handled.
    static func install(_ bridge: Bridge) -> [any DispatchSourceSignal] {
        [SIGTERM, SIGINT].map { number in
            signal(number, SIG_IGN)
            let source = DispatchSource.makeSignalSource(signal: number, queue: .global())
            source.setEventHandler { @Sendable in
                let again = received.withLock { received in
                    defer { received = true }
                    return received
                }
                if again { exit(128 + number) }
                BridgeLog.info("signal \(number): shutting down")
                Task { await bridge.shutdown() }
            }
            source.resume()
            return source
        }
    }
}
