/// What a TLS server presents: `runtime serve --tls-cert FILE --tls-key FILE`.
public struct TLSServerConfig: Sendable {
    /// ALPN protocols offered, most preferred first. This server speaks HTTP/1.1 only (WebSockets
    /// upgrade from it).
    public static let defaultApplicationProtocols = ["http/1.1"]

    /// PEM file: the server's certificate first, then any intermediates up to (not including) the root.
    public var certificateChainFile: String
    /// PEM file: the certificate's private key, unencrypted.
    public var privateKeyFile: String
    /// ALPN protocols to select from what a client offers, in order of preference. A client offering
    /// none of them gets no ALPN answer (and may carry on or give up, its choice).
    public var applicationProtocols: [String]
    public var handshakeTimeout: Duration
    /// Sent as is, unencrypted, to a client that speaks plain HTTP to the TLS port, before the
    /// connection closes (so a person with the wrong scheme sees why). Nil: just close.
    public var plainHTTPRefusal: [UInt8]?

    public init(certificateChainFile: String, privateKeyFile: String,
                applicationProtocols: [String] = defaultApplicationProtocols,
                handshakeTimeout: Duration = TLSLimits.defaultHandshakeTimeout, plainHTTPRefusal: [UInt8]? = nil) {
        self.certificateChainFile = certificateChainFile
        self.privateKeyFile = privateKeyFile
        self.applicationProtocols = applicationProtocols
        self.handshakeTimeout = handshakeTimeout
        self.plainHTTPRefusal = plainHTTPRefusal
    }
}

/// How a TLS client decides whom to trust. The server's certificate is always verified, and always
/// against the name the stream connects to (SNI carries it too, unless it is an IP address).
public struct TLSClientConfig: Sendable {
    /// Trust the system's CA store (Debian: /etc/ssl/certs, from `ca-certificates`).
    public var trustSystemRoots: Bool
    /// A PEM file of further CA certificates to trust (a private CA).
    public var caFile: String?
    /// ALPN protocols offered, most preferred first; empty offers none.
    public var applicationProtocols: [String]
    public var handshakeTimeout: Duration

    public init(trustSystemRoots: Bool = true, caFile: String? = nil,
                applicationProtocols: [String] = TLSServerConfig.defaultApplicationProtocols,
                handshakeTimeout: Duration = TLSLimits.defaultHandshakeTimeout) {
        self.trustSystemRoots = trustSystemRoots
        self.caFile = caFile
        self.applicationProtocols = applicationProtocols
        self.handshakeTimeout = handshakeTimeout
    }
}
