/// Why a fetch failed, naming the URL or the host and port involved and what to do where there is
/// something to do. Thrown by `fetch` and, for failures while the body streams, by whoever reads it
/// (`bodyBytes`, or the server passing the response through).
public enum FetchError: Error, CustomStringConvertible, Equatable, Sendable {
    /// The URL does not parse as an absolute http(s) URL.
    case invalidURL(String, reason: String)
    /// A scheme other than http and https (also in a redirect's `Location`).
    case unsupportedScheme(String, url: String)
    /// The method or a header cannot be sent as HTTP/1.1 (a space in the method, CR or LF in a value).
    case invalidRequest(url: String, reason: String)
    /// The host name did not resolve.
    case dnsFailed(host: String, reason: String)
    /// Nothing listens there: the peer answered the connect with a reset.
    case connectionRefused(host: String, port: Int)
    /// The connect failed otherwise (no route, network unreachable).
    case connectFailed(host: String, port: Int, reason: String)
    /// DNS, TCP connect and TLS handshake did not finish within the connect timeout.
    case connectTimeout(host: String, port: Int, after: Duration)
    /// The server sent nothing for the read timeout while a response was awaited.
    case readTimeout(url: String, after: Duration)
    /// The whole fetch, body included, took longer than the total timeout.
    case totalTimeout(url: String, after: Duration)
    /// The server's certificate did not verify (untrusted issuer, expired); `reason` is OpenSSL's.
    case certificateVerifyFailed(host: String, reason: String)
    /// The server's certificate verified but is not for the host in the URL.
    case hostnameMismatch(host: String)
    /// TLS failed otherwise: the handshake (no common version, an alert) or a record after it.
    case tlsFailed(host: String, reason: String)
    /// The connection ended before the response did (reset, or closed mid-head or mid-body).
    case connectionClosed(url: String, reason: String)
    /// The server's bytes are not a valid HTTP/1.1 response; `reason` says which rule they broke.
    case malformedResponse(url: String, reason: String)
    /// More than `limit` redirects in a row (`FetchRequest.maxRedirects`).
    case tooManyRedirects(limit: Int, url: String)
    /// The request's redirect mode is `.error` and the server redirected.
    case redirectRefused(status: Int, location: String, url: String)
    /// The body is longer than the reader's limit (`bodyBytes(limit:)`).
    case bodyTooLarge(limit: Int)
    /// A fetched body streams from its connection once; it was read (or passed on) already.
    case bodyAlreadyRead
    /// No HTTP client is installed in this process (the runtime installs one at start).
    case noClient(url: String)

    public var description: String {
        switch self {
        case .invalidURL(let url, let reason): "fetch \(url): not a valid URL: \(reason)"
        case .unsupportedScheme(let scheme, let url):
            "fetch \(url): scheme \"\(scheme)\" is not supported (only http and https are)"
        case .invalidRequest(let url, let reason): "fetch \(url): the request cannot be sent: \(reason)"
        case .dnsFailed(let host, let reason): "fetch: cannot resolve host \"\(host)\": \(reason)"
        case .connectionRefused(let host, let port):
            "fetch: connection refused by \(host):\(port) (nothing listens there)"
        case .connectFailed(let host, let port, let reason): "fetch: cannot connect to \(host):\(port): \(reason)"
        case .connectTimeout(let host, let port, let after):
            "fetch: connecting to \(host):\(port) did not finish within \(after) (DNS, TCP and TLS)"
        case .readTimeout(let url, let after): "fetch \(url): the server sent nothing for \(after)"
        case .totalTimeout(let url, let after): "fetch \(url): not finished within the total timeout of \(after)"
        case .certificateVerifyFailed(let host, let reason):
            "fetch: TLS certificate of \(host) failed verification: \(reason)"
        case .hostnameMismatch(let host):
            "fetch: the TLS certificate presented by \(host) is not for \"\(host)\" (hostname mismatch)"
        case .tlsFailed(let host, let reason): "fetch: TLS with \(host) failed: \(reason)"
        case .connectionClosed(let url, let reason): "fetch \(url): connection lost: \(reason)"
        case .malformedResponse(let url, let reason): "fetch \(url): malformed response: \(reason)"
        case .tooManyRedirects(let limit, let url): "fetch \(url): more than \(limit) redirects"
        case .redirectRefused(let status, let location, let url):
            "fetch \(url): redirected (\(status) to \(location)) and the redirect mode is .error"
        case .bodyTooLarge(let limit): "fetch: the response body is larger than the limit of \(limit) bytes"
        case .bodyAlreadyRead: "fetch: this response's body was read already (it streams from the connection once)"
        case .noClient(let url): "fetch \(url): no HTTP client is installed in this process"
        }
    }
}
