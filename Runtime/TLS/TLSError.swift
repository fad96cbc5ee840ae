/// Everything TLS can refuse, each saying which file or which peer, OpenSSL's reason, and what to do.
/// Setup errors (the files) come from `TLSContext`; connection errors reach a stream's delegate
/// (`streamReadClosed` or, for a client still connecting, `streamConnected`).
public enum TLSError: Error, CustomStringConvertible, Sendable, Equatable {
    /// A certificate, key or CA file could not be opened. `what` names its role ("certificate chain").
    case unreadableFile(path: String, what: String, reason: String)
    /// The file opened but holds nothing usable of its kind.
    case invalidFile(path: String, what: String, reason: String)
    /// The private key does not belong to the first certificate of the chain.
    case keyMismatch(keyPath: String, certificatePath: String)
    /// A context setting OpenSSL refused (an empty or over-long ALPN name, ...).
    case configuration(String)
    /// We are the client and the server's certificate failed verification: untrusted issuer, expired,
    /// or not for the name we connected to. `reason` is OpenSSL's verify result.
    case certificateRejected(peer: String, reason: String, hint: String)
    /// The handshake failed for another reason: the peer's alert, no common version or cipher, or a
    /// peer that does not speak TLS.
    case handshakeFailed(peer: String, reason: String)
    /// A client sent plain HTTP to this TLS port.
    case plainHTTP(peer: String)
    /// The handshake did not finish in time.
    case handshakeTimedOut(peer: String, after: Duration)
    /// After the handshake: a record that failed to decrypt, a fatal alert, a refused renegotiation.
    case connectionFailed(peer: String, reason: String)
    /// The peer's TCP stream ended without a TLS close_notify, so what came last may be cut short.
    case truncated(peer: String)

    public var description: String {
        switch self {
        case .unreadableFile(let path, let what, let reason):
            return "TLS \(what) \"\(path)\": cannot read it: \(reason)"
        case .invalidFile(let path, let what, let reason):
            return "TLS \(what) \"\(path)\": \(reason)"
        case .keyMismatch(let keyPath, let certificatePath):
            return "TLS private key \"\(keyPath)\" does not belong to the certificate in \"\(certificatePath)\" "
                + "(the first certificate of the chain file must be the one the key was made for)"
        case .configuration(let reason):
            return "TLS configuration: \(reason)"
        case .certificateRejected(let peer, let reason, let hint):
            return "TLS handshake with \(peer): certificate verify failed: \(reason)" + (hint.isEmpty ? "" : " (\(hint))")
        case .handshakeFailed(let peer, let reason):
            return "TLS handshake with \(peer) failed: \(reason)"
        case .plainHTTP(let peer):
            return "TLS handshake with \(peer) failed: the client sent plain HTTP to a TLS port (use https://)"
        case .handshakeTimedOut(let peer, let after):
            return "TLS handshake with \(peer) did not finish within \(after)"
        case .connectionFailed(let peer, let reason):
            return "TLS connection with \(peer) failed: \(reason)"
        case .truncated(let peer):
            return "TLS connection with \(peer): the peer closed TCP without close_notify (its last data may be cut short)"
        }
    }
}
