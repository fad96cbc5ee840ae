/// Sizes and times of the TLS layer.
public enum TLSLimits {
    /// From accept (or connect) to the end of the handshake; a peer slower than this is dropped, so a
    /// client that opens a connection and never says hello holds it no longer than a slow request head.
    public static let defaultHandshakeTimeout: Duration = .seconds(10)
    /// Most plaintext SSL_read returns at once: one TLS record's worth (RFC 8446 §5.1), so one read
    /// never needs a bigger buffer.
    static let plaintextScratchBytes = 16 * 1024
    /// Plaintext handed to SSL_write at once. Between two chunks the ciphertext moves to the socket, so
    /// the write BIO never holds much more than this however large a response is.
    static let encryptChunkBytes = 64 * 1024
    /// Ciphertext copied from the write BIO to the socket at once (a chunk plus its record overhead
    /// fits).
    static let ciphertextScratchBytes = 80 * 1024
    /// A memory BIO keeps the largest buffer it ever needed. One that held more than this is replaced
    /// by a fresh one once it is empty, so an idle connection does not keep a large transfer's memory.
    static let retainedBIOBytes = 4 * 1024
}
