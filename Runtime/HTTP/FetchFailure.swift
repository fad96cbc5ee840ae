import RuntimeAPI
import RuntimeIO
import RuntimeTLS
#if canImport(Glibc)
import Glibc
#endif

/// Turns what the layers below report (an `IOError` from the socket, a `TLSError` from the TLS
/// stream, an `HTTPParseError` from the response parser) into the `FetchError` an app sees.
enum FetchFailure {
    /// A connect (TCP, then TLS for https) that did not succeed.
    static func connect(_ error: any Error, origin: FetchOrigin, timeout: Duration) -> FetchError {
        let (host, port) = (origin.host, Int(origin.port))
        switch error {
        case let error as IOError where error.errno == ECONNREFUSED:
            return .connectionRefused(host: host, port: port)
        case let error as IOError:
            return .connectFailed(host: host, port: port, reason: String(cString: strerror(error.errno)))
        case let error as TLSError:
            return tls(error, origin: origin, timeout: timeout)
        case let error as FetchError:
            return error
        default:
            return .connectFailed(host: host, port: port, reason: "\(error)")
        }
    }

    /// OpenSSL's verify results for a certificate that is not for the name asked
    /// (`X509_verify_cert_error_string` of X509_V_ERR_HOSTNAME_MISMATCH and X509_V_ERR_IP_ADDRESS_MISMATCH).
    private static let nameMismatchReasons: Set<String> = ["hostname mismatch", "IP address mismatch"]

    static func tls(_ error: TLSError, origin: FetchOrigin, timeout: Duration) -> FetchError {
        switch error {
        case .certificateRejected(_, let reason, let hint):
            if nameMismatchReasons.contains(reason) { return .hostnameMismatch(host: origin.host) }
            return .certificateVerifyFailed(host: origin.host, reason: hint.isEmpty ? reason : "\(reason) (\(hint))")
        case .handshakeTimedOut:
            return .connectTimeout(host: origin.host, port: Int(origin.port), after: timeout)
        case .handshakeFailed(_, let reason), .connectionFailed(_, let reason):
            return .tlsFailed(host: origin.host, reason: reason)
        default:
            return .tlsFailed(host: origin.host, reason: "\(error)")
        }
    }

    /// The connection failed or ended while a response was being read.
    static func read(_ error: (any Error)?, url: String, during phase: String) -> FetchError {
        switch error {
        case nil:
            return .connectionClosed(url: url, reason: "the server closed the connection \(phase)")
        case let error as IOError:
            return .connectionClosed(url: url, reason: "\(String(cString: strerror(error.errno))) \(phase)")
        case let error as TLSError:
            if case .truncated = error {
                return .connectionClosed(url: url, reason: "the server closed the connection \(phase) (without TLS close_notify)")
            }
            return .connectionClosed(url: url, reason: "\(error) \(phase)")
        case let error as FetchError:
            return error
        case let error?:
            return .connectionClosed(url: url, reason: "\(error) \(phase)")
        }
    }

    /// The parser refused the server's bytes; said for a response, not as the status a server would answer.
    static func parse(_ error: HTTPParseError, url: String) -> FetchError {
        let reason = switch error {
        case .badRequest(let rule): rule
        case .uriTooLong(let limit): "a line is longer than \(limit) bytes"
        case .headersTooLarge(let limit): "the response head is longer than \(limit) bytes"
        case .tooManyHeaders(let limit): "the response head has more than \(limit) fields"
        case .bodyTooLarge(let limit): "the body announces more than \(limit) bytes"
        case .unsupportedTransferCoding(let coding): "transfer coding \"\(coding)\" is not supported (only chunked is)"
        case .versionNotSupported(let version): "\(version) is not supported (only HTTP/1.0 and HTTP/1.1 are)"
        }
        return .malformedResponse(url: url, reason: reason)
    }
}
