import COpenSSL
#if canImport(Glibc)
import Glibc
#endif

/// One OpenSSL `SSL_CTX`: the certificate and key a server presents, or the trust a client verifies
/// with, plus the settings every connection made from it shares (TLS 1.2 or later, no renegotiation,
/// ALPN, buffers released while idle).
///
/// Threading: immutable after init, and OpenSSL makes connections from one context on any thread, so
/// one context serves every loop. Each `TLSStream` keeps its context alive.
public final class TLSContext: @unchecked Sendable {
    public enum Role: Sendable { case server, client }

    public let role: Role
    let context: OpaquePointer
    /// Read by the ALPN callback (server) through a raw pointer; kept alive here.
    private let alpn: ALPNList
    public let handshakeTimeout: Duration
    let plainHTTPRefusal: [UInt8]?

    /// A server context. Throws naming the file that cannot be read, is not PEM of its kind, or whose
    /// key does not match the certificate.
    public init(server config: TLSServerConfig) throws(TLSError) {
        role = .server
        handshakeTimeout = config.handshakeTimeout
        plainHTTPRefusal = config.plainHTTPRefusal
        alpn = try ALPNList(config.applicationProtocols)
        context = try Self.makeContext(method: TLS_server_method())
        // Every stored property is set, so a throw from here on still runs deinit, which frees the context.
        try Self.checkReadable(config.certificateChainFile, what: "certificate chain")
        try Self.checkReadable(config.privateKeyFile, what: "private key")
        try loadIdentity(chain: config.certificateChainFile, key: config.privateKeyFile)
        _ = SSL_CTX_set_options(context, copenssl_op_cipher_server_preference)
        if !alpn.names.isEmpty {
            SSL_CTX_set_alpn_select_cb(context, ALPNList.selectCallback, Unmanaged.passUnretained(alpn).toOpaque())
        }
    }

    /// A client context: verifies servers against the system store and/or `caFile`.
    public init(client config: TLSClientConfig) throws(TLSError) {
        role = .client
        handshakeTimeout = config.handshakeTimeout
        plainHTTPRefusal = nil
        alpn = try ALPNList(config.applicationProtocols)
        context = try Self.makeContext(method: TLS_client_method())
        // As for a server: deinit frees the context if this throws.
        guard config.trustSystemRoots || config.caFile != nil else {
            throw TLSError.configuration("a client must trust something: the system roots, a CA file, or both")
        }
        if config.trustSystemRoots, SSL_CTX_set_default_verify_paths(context) != 1 {
            throw TLSError.configuration("cannot load the system CA store: \(OpenSSLErrors.drain().text)")
        }
        if let caFile = config.caFile {
            try Self.checkReadable(caFile, what: "CA file")
            OpenSSLErrors.clear()
            if SSL_CTX_load_verify_locations(context, caFile, nil) != 1 {
                throw TLSError.invalidFile(path: caFile, what: "CA file",
                                           reason: "no PEM certificate in it (\(OpenSSLErrors.drain().text))")
            }
        }
        if !alpn.wire.isEmpty, SSL_CTX_set_alpn_protos(context, alpn.wire, UInt32(alpn.wire.count)) != 0 {
            throw TLSError.configuration("OpenSSL refused the ALPN list: \(OpenSSLErrors.drain().text)")
        }
        SSL_CTX_set_verify(context, SSL_VERIFY_PEER, nil)
    }

    deinit { SSL_CTX_free(context) }

    /// The settings both roles share.
    private static func makeContext(method: OpaquePointer?) throws(TLSError) -> OpaquePointer {
        OpenSSLErrors.clear()
        guard let context = SSL_CTX_new(method) else {
            throw TLSError.configuration("SSL_CTX_new failed: \(OpenSSLErrors.drain().text)")
        }
        guard copenssl_ctx_set_min_proto_version(context, TLS1_2_VERSION) == 1 else {
            SSL_CTX_free(context)
            throw TLSError.configuration("cannot require TLS 1.2: \(OpenSSLErrors.drain().text)")
        }
        // Renegotiation is a legacy feature with a history of attacks and a cost we need not pay; TLS 1.3
        // has none, and a 1.2 peer asking for it is refused.
        _ = SSL_CTX_set_options(context, copenssl_op_no_renegotiation | copenssl_op_no_compression)
        // Release buffers: an idle connection then keeps no record buffers. Moving write buffer: a
        // retried SSL_write may come from a different address (our staging array moves as it grows).
        _ = copenssl_ctx_set_mode(context, Int(SSL_MODE_RELEASE_BUFFERS | SSL_MODE_ACCEPT_MOVING_WRITE_BUFFER))
        // Without a passphrase callback OpenSSL would prompt on the terminal for an encrypted key.
        SSL_CTX_set_default_passwd_cb(context) { _, _, _, _ in 0 }
        return context
    }

    /// Opens the file to tell "cannot read" (with errno's words) apart from "not PEM".
    private static func checkReadable(_ path: String, what: String) throws(TLSError) {
        guard let file = fopen(path, "r") else {
            throw TLSError.unreadableFile(path: path, what: what, reason: String(cString: strerror(errno)))
        }
        fclose(file)
    }

    private func loadIdentity(chain: String, key: String) throws(TLSError) {
        OpenSSLErrors.clear()
        guard SSL_CTX_use_certificate_chain_file(context, chain) == 1 else {
            throw TLSError.invalidFile(path: chain, what: "certificate chain",
                                       reason: "no PEM certificate in it (\(OpenSSLErrors.drain().text))")
        }
        OpenSSLErrors.clear()
        guard SSL_CTX_use_PrivateKey_file(context, key, SSL_FILETYPE_PEM) == 1 else {
            let failure = OpenSSLErrors.drain()
            if failure.firstReason == X509_R_KEY_VALUES_MISMATCH {
                throw TLSError.keyMismatch(keyPath: key, certificatePath: chain)
            }
            let encrypted = Self.fileMentions(key, "ENCRYPTED")
            throw TLSError.invalidFile(path: key, what: "private key", reason: encrypted
                ? "the key is encrypted with a passphrase; give an unencrypted one (openssl pkey -in KEY -out PLAIN)"
                : "no PEM private key in it (\(failure.text))")
        }
        guard SSL_CTX_check_private_key(context) == 1 else {
            OpenSSLErrors.clear()
            throw TLSError.keyMismatch(keyPath: key, certificatePath: chain)
        }
    }

    /// Whether the first few kilobytes of a (PEM, so text) file contain `word`.
    private static func fileMentions(_ path: String, _ word: String) -> Bool {
        guard let file = fopen(path, "r") else { return false }
        defer { fclose(file) }
        var buffer = [UInt8](repeating: 0, count: 4096)
        let count = fread(&buffer, 1, buffer.count, file)
        return String(decoding: buffer[..<count], as: UTF8.self).contains(word)
    }

    /// A new connection object: memory BIOs for both directions, in this context's role.
    /// The returned SSL owns the BIOs.
    func makeConnection() -> OpaquePointer {
        guard let ssl = SSL_new(context) else {
            preconditionFailure("SSL_new failed (out of memory?): \(OpenSSLErrors.drain().text)")
        }
        SSL_set_bio(ssl, Self.makeMemoryBIO(), Self.makeMemoryBIO())
        if role == .server { SSL_set_accept_state(ssl) } else { SSL_set_connect_state(ssl) }
        return ssl
    }

    static func makeMemoryBIO() -> OpaquePointer {
        guard let bio = BIO_new(BIO_s_mem()) else { preconditionFailure("BIO_new failed (out of memory?)") }
        // An empty memory BIO reads as "retry later" (the next TCP bytes have not come yet), never EOF;
        // that is BIO_s_mem's default, relied on by the read path.
        return bio
    }
}
