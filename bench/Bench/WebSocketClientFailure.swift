import RuntimeHTTP
import RuntimeIO
import RuntimeWebSocket
#if canImport(Glibc)
import Glibc
#endif

/// Why a bench WebSocket connection ended before the bench closed it, with what a person needs to tell a
/// limit of ours from one of the server's.
enum WebSocketClientFailure: Error, CustomStringConvertible {
    /// socket() failed: our own descriptor limit (EMFILE, ENFILE) or memory.
    case socket(IOError)
    /// The TCP connect failed: refused (nothing listens, or the backlog is full and the server resets),
    /// no ephemeral port left (EADDRNOTAVAIL), ...
    case connect(IOError)
    /// The server closed or reset the connection before its 101.
    case closedBeforeUpgrade(IOError?)
    /// No 101 within `WebSocketBenchLimits.handshakeTimeout`.
    case handshakeTimeout(Duration)
    /// The answer to the upgrade request is not HTTP.
    case badResponse(HTTPParseError)
    /// The server answered, but not with an upgrade we can accept (a 404, a wrong Sec-WebSocket-Accept).
    case upgradeRefused(WebSocketClientHandshakeError)
    /// The server broke RFC 6455.
    case protocolViolation(WebSocketProtocolError)
    /// The server sent a close frame while the bench was still using the connection.
    case closedByServer(code: WebSocketCloseCode?, reason: String)
    /// The connection ended after the upgrade without a close frame (EOF, reset, failed send).
    case connectionLost(IOError?)

    /// Which limit this failure points at, for `bench ws idle`'s report.
    enum Limit: String {
        case ourDescriptors = "our descriptor limit (socket() failed with EMFILE/ENFILE)"
        case ephemeralPorts = "no ephemeral port left for another connection to this address (EADDRNOTAVAIL)"
        case refused = "the server refused the connection (ECONNREFUSED: its backlog is full or it stopped listening)"
        case serverClosed = "the server closed or reset connections before the upgrade (it may be out of descriptors)"
        case serverSilent = "the server accepted no more upgrades in time (its backlog is full; it may be out of descriptors)"
        case serverRefusedUpgrade = "the server answered the upgrade with an error"
        case other = "another failure"
    }

    var limit: Limit {
        switch self {
        case .socket(let error) where error.errno == EMFILE || error.errno == ENFILE: .ourDescriptors
        case .connect(let error) where error.errno == EADDRNOTAVAIL: .ephemeralPorts
        case .connect(let error) where error.errno == ECONNREFUSED: .refused
        case .connect(let error) where error.errno == ETIMEDOUT: .serverSilent
        case .closedBeforeUpgrade: .serverClosed
        case .handshakeTimeout: .serverSilent
        case .upgradeRefused, .badResponse: .serverRefusedUpgrade
        default: .other
        }
    }

    var description: String {
        switch self {
        case .socket(let error): "\(error)"
        case .connect(let error): "\(error)"
        case .closedBeforeUpgrade(let error):
            "server closed the connection before the 101" + (error.map { " (\($0))" } ?? "")
        case .handshakeTimeout(let limit): "no 101 within \(limit)"
        case .badResponse(let error): "bad answer to the upgrade: \(error)"
        case .upgradeRefused(let error): "upgrade refused: \(error)"
        case .protocolViolation(let error): "server broke RFC 6455: \(error)"
        case .closedByServer(let code, let reason):
            "server closed the WebSocket (code \(code.map { "\($0)" } ?? "none")"
                + (reason.isEmpty ? ")" : ", \"\(reason)\")")
        case .connectionLost(let error): "connection lost after the upgrade" + (error.map { " (\($0))" } ?? "")
        }
    }
}
