import RuntimeAPI
import RuntimeWebSocket
import Synchronization

/// The bridge's one connection to the session's control plane: connects with the sandbox's credentials,
/// says `ready` first on every connection, sends a heartbeat every interval, hands each command to the
/// bridge in arrival order, and reconnects with exponential backoff until told to finish or refused for
/// good (401, 403, 404, 410).
///
/// Events sent while no connection is open wait in an `Outbox` and go out, after `ready`, on the next
/// one.
///
/// Threading: `send` and `finish` may be called from any thread and return at once; events leave in
/// the order `send` was called. `run` is called once.
final class ControlPlaneLink: Sendable {
    enum Outcome: Sendable, Equatable {
        /// `finish()` was called (after `shutdown`, or a signal).
        case finished
        /// The control plane refused the upgrade with a status reconnecting cannot fix.
        case refused(status: Int)
    }

    private struct State {
        var socket: WebSocket?
        var outbox = Outbox()
        var finishing = false
        /// The backoff wait in progress, cancelled by `finish()`.
        var pause: Task<Void, Never>?
    }

    private let config: BridgeConfig
    private let client: WebSocketClient
    /// The OpenCode session to announce in `ready`, read when each connection opens.
    private let readySessionID: @Sendable () -> String?
    private let state = Mutex(State())

    init(config: BridgeConfig, client: WebSocketClient, readySessionID: @escaping @Sendable () -> String?) {
        self.config = config
        self.client = client
        self.readySessionID = readySessionID
    }

    /// Sends `event` now, or keeps it for the next connection.
    func send(_ event: BridgeEvent) {
        let text = event.encoded()
        state.withLock { state in
            // Sent under the lock, so frames leave in the order the lock was taken.
            if let socket = state.socket, socket.readyState == .open {
                socket.send(text)
            } else {
                state.outbox.append(event, text: text)
            }
        }
    }

    /// Ends `run`: no more reconnecting, and an open connection is closed (1000) after what was sent.
    func finish() {
        let (socket, pause) = state.withLock { state in
            state.finishing = true
            return (state.socket, state.pause)
        }
        pause?.cancel()
        try? socket?.close(code: 1000, reason: "shutdown")
    }

    private var isFinishing: Bool { state.withLock { $0.finishing } }

    /// Connects and serves until `finish()` or a refusal. `onCommand` runs once per command, in order; the
    /// next command waits for it, so it should hand long work to a task of its own.
    func run(onCommand: @escaping @Sendable (JSONValue) async -> Void) async -> Outcome {
        var delay = BridgeLimits.reconnectInitialDelay
        let headers: Headers = ["Authorization": "Bearer \(config.authToken)", "X-Sandbox-ID": config.sandboxID]
        while !isFinishing {
            let connected: WebSocket
            do {
                connected = try await client.connectReportingStatus(url: config.webSocketURL, headers: headers,
                                                                    protocols: [])
            } catch WebSocketClientError.upgradeRefused(_, let status) {
                if BridgeLimits.fatalUpgradeStatuses.contains(status) { return .refused(status: status) }
                BridgeLog.warn("the control plane answered the upgrade with \(status); retrying in \(delay.readable)")
                await pause(delay)
                delay = Self.next(delay)
                continue
            } catch {
                BridgeLog.warn("cannot reach the control plane (\(error)); retrying in \(delay.readable)")
                await pause(delay)
                delay = Self.next(delay)
                continue
            }
            guard attach(connected) else {
                try? connected.close(code: 1000, reason: "shutdown")
                break
            }
            delay = BridgeLimits.reconnectInitialDelay
            BridgeLog.info("connected to \(config.webSocketURL)")
            let interval = config.heartbeatInterval
            let heartbeat = Task { [weak self] in
                while !Task.isCancelled {
                    try? await Task.sleep(for: interval)
                    guard !Task.isCancelled, let self else { return }
                    self.send(.heartbeat)
                }
            }
            for await incoming in connected.events {
                switch incoming {
                case .message(.text(let text)):
                    do {
                        await onCommand(try JSONValue.parse(text))
                    } catch {
                        BridgeLog.warn("ignored a command that is not JSON: \(error)")
                    }
                case .message(.binary(let bytes)):
                    BridgeLog.warn("ignored a binary message of \(bytes.count) bytes")
                case .close(let code, let reason, _):
                    BridgeLog.info("connection closed (\(code)\(reason.isEmpty ? "" : " \(reason)"))")
                }
            }
            heartbeat.cancel()
            state.withLock { $0.socket = nil }
            if isFinishing { break }
            BridgeLog.warn("lost the control plane; reconnecting in \(delay.readable)")
            await pause(delay)
            delay = Self.next(delay)
        }
        return .finished
    }

    /// Makes `connected` the socket: `ready` first, then whatever waited for a connection, in order. False
    /// when `finish()` came first.
    private func attach(_ connected: WebSocket) -> Bool {
        let ready = BridgeEvent.ready(openCodeSessionID: readySessionID()).encoded()
        return state.withLock { state in
            guard !state.finishing else { return false }
            state.socket = connected
            connected.send(ready)
            let dropped = state.outbox.dropped
            let waiting = state.outbox.drain()
            if !waiting.isEmpty {
                BridgeLog.info("sending \(waiting.count) events kept while disconnected"
                    + (dropped > 0 ? " (\(dropped) older ones were dropped for space)" : ""))
            }
            for text in waiting { connected.send(text) }
            return true
        }
    }

    private func pause(_ delay: Duration) async {
        let task: Task<Void, Never>? = state.withLock { state in
            guard !state.finishing else { return nil }
            let task = Task { _ = try? await Task.sleep(for: delay) }
            state.pause = task
            return task
        }
        await task?.value
        state.withLock { $0.pause = nil }
    }

    private static func next(_ delay: Duration) -> Duration { min(delay * 2, BridgeLimits.reconnectMaxDelay) }
}
