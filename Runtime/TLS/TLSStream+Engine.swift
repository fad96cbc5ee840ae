import COpenSSL
import RuntimeIO

/// Driving OpenSSL: the handshake, decrypting into the delegate, encrypting into the socket, and
/// turning OpenSSL's failures into `TLSError`s. Every SSL call here runs on the stream's loop and reads
/// OpenSSL's (thread-local) error queue right after.
extension TLSStream {
    // MARK: Handshake

    func beginHandshake() {
        state = .handshaking
        let timeout = context.handshakeTimeout
        let timer = LoopTimer { [weak self] in
            guard let self, self.state == .handshaking else { return }
            self.fail(.handshakeTimedOut(peer: self.peerName, after: timeout))
        }
        handshakeTimer = timer
        loop.arm(timer, after: timeout)
        socket.startReading()
        // A client writes its hello now; a server finds nothing to read yet and waits for one.
        continueHandshake()
    }

    func continueHandshake() {
        guard state == .handshaking, let ssl else { return }
        OpenSSLErrors.clear()
        let result = SSL_do_handshake(ssl)
        if result == 1 {
            flushCiphertext()
            handshakeFinished()
            return
        }
        let code = SSL_get_error(ssl, result)
        guard code == SSL_ERROR_WANT_READ else { return fail(handshakeError(code)) }
        flushCiphertext()
        releaseReadBIOIfLarge()
    }

    private func handshakeFinished() {
        state = .established
        cancelHandshakeTimer()
        if context.role == .client { delegate?.streamConnected(self, error: nil) }
        guard state == .established else { return }
        // The socket read for the handshake; from now on it reads only when the owner wants to.
        if !wantsReading { socket.stopReading() }
        encryptStaged()
        // Application data may have come in the same flight as the handshake's end.
        deliverPlaintext()
    }

    func cancelHandshakeTimer() {
        if let handshakeTimer { loop.cancel(handshakeTimer) }
        handshakeTimer = nil
    }

    // MARK: Reading

    /// Decrypts what the read BIO holds and lends it to the delegate, record by record, while the owner
    /// reads (or a hand-over is collecting the last bytes before the socket moves).
    func deliverPlaintext() {
        guard !delivering else { return }
        delivering = true
        defer { delivering = false }
        let buffer = TLSScratch.current.plaintext
        while state == .established, let ssl, !closeNotifyReceived, wantsReading || handOverCompletion != nil {
            OpenSSLErrors.clear()
            let count = SSL_read(ssl, buffer.baseAddress, Int32(buffer.count))
            if count > 0 {
                delegate?.streamReceived(self, UnsafeRawBufferPointer(start: buffer.baseAddress, count: Int(count)))
                continue
            }
            let code = SSL_get_error(ssl, count)
            // Reading can produce output (a TLS 1.3 key update answered, a warning alert).
            flushCiphertext()
            switch code {
            case SSL_ERROR_WANT_READ:
                releaseReadBIOIfLarge()
                return
            case SSL_ERROR_ZERO_RETURN:
                closeNotifyReceived = true
                reportReadClosed(nil)
                return
            default:
                let failure = OpenSSLErrors.drain()
                return fail(.connectionFailed(peer: peerName, reason: failure.text))
            }
        }
        flushCiphertext()
    }

    func reportReadClosed(_ error: (any Error)?) {
        guard !readClosedReported else { return }
        readClosedReported = true
        delegate?.streamReadClosed(self, error: error)
    }

    /// Swaps an empty read BIO that once held a lot for a fresh one, freeing that memory.
    private func releaseReadBIOIfLarge() {
        guard readBIOPeak > TLSLimits.retainedBIOBytes, let ssl, let input = SSL_get_rbio(ssl),
              BIO_ctrl_pending(input) == 0 else { return }
        SSL_set0_rbio(ssl, TLSContext.makeMemoryBIO())
        readBIOPeak = 0
    }

    // MARK: Writing

    /// Encrypts the staged plaintext in chunks, moving each chunk's ciphertext to the socket.
    func encryptStaged() {
        guard !staging.isEmpty, state == .established, let ssl else { return }
        var offset = 0
        while offset < staging.count {
            let length = min(TLSLimits.encryptChunkBytes, staging.count - offset)
            OpenSSLErrors.clear()
            let written = staging.withUnsafeBytes { SSL_write(ssl, $0.baseAddress! + offset, Int32(length)) }
            // A memory BIO takes everything and partial writes are off, so anything short is a failure
            // (the session was shut down or broke).
            guard written == Int32(length) else {
                staging = []
                let failure = OpenSSLErrors.drain()
                return fail(.connectionFailed(peer: peerName, reason: "encrypting: \(failure.text)"))
            }
            offset += length
            flushCiphertext()
        }
        if staging.capacity > TLSLimits.retainedBIOBytes {
            staging = []
        } else {
            staging.removeAll(keepingCapacity: true)
        }
    }

    /// Moves everything in the write BIO to the socket (which sends it at the end of the turn).
    func flushCiphertext() {
        guard let ssl, let output = SSL_get_wbio(ssl) else { return }
        var pending = Int(BIO_ctrl_pending(output))
        guard pending > 0 else { return }
        writeBIOPeak = max(writeBIOPeak, pending)
        let buffer = TLSScratch.current.ciphertext
        while pending > 0 {
            let count = BIO_read(output, buffer.baseAddress, Int32(min(pending, buffer.count)))
            guard count > 0 else { break }
            socket.write(UnsafeRawBufferPointer(start: buffer.baseAddress, count: Int(count)))
            pending -= Int(count)
        }
        if writeBIOPeak > TLSLimits.retainedBIOBytes {
            SSL_set0_wbio(ssl, TLSContext.makeMemoryBIO())
            writeBIOPeak = 0
        }
    }

    // MARK: Failing

    /// Tells the delegate why TLS failed (a connecting client through `streamConnected`), sends
    /// OpenSSL's alert (or, to a plain HTTP client, the configured refusal) and closes after it.
    func fail(_ error: TLSError) {
        switch state {
        case .waiting, .handshaking, .established, .shuttingDown: break
        case .failed, .closing, .gone: return
        }
        let connecting = context.role == .client && (state == .waiting || state == .handshaking)
        state = .failed
        cancelHandshakeTimer()
        staging = []
        flushCiphertext()
        if case .plainHTTP = error, let refusal = context.plainHTTPRefusal { socket.write(refusal) }
        socket.closeAfterFlush()
        if connecting {
            delegate?.streamConnected(self, error: error)
        } else {
            reportReadClosed(error)
        }
    }

    /// The handshake's failure in words: for a client, the certificate verdict when verification is
    /// what failed.
    private func handshakeError(_ code: Int32) -> TLSError {
        let failure = OpenSSLErrors.drain()
        if context.role == .client, let ssl {
            let verdict = SSL_get_verify_result(ssl)
            if verdict != X509_V_OK {
                return .certificateRejected(peer: peerName, reason: String(cString: X509_verify_cert_error_string(verdict)),
                                            hint: Self.verifyHint(Int32(verdict), serverName: serverName ?? "the server"))
            }
        }
        if context.role == .server, failure.firstReason == SSL_R_HTTP_REQUEST { return .plainHTTP(peer: peerName) }
        if code == SSL_ERROR_SYSCALL, failure.text == "no detail from OpenSSL" {
            return .handshakeFailed(peer: peerName, reason: "the connection broke during the handshake")
        }
        return .handshakeFailed(peer: peerName, reason: failure.text)
    }

    /// What to do about the common verification failures.
    private static func verifyHint(_ verdict: Int32, serverName: String) -> String {
        switch verdict {
        case X509_V_ERR_UNABLE_TO_GET_ISSUER_CERT_LOCALLY, X509_V_ERR_UNABLE_TO_GET_ISSUER_CERT,
             X509_V_ERR_SELF_SIGNED_CERT_IN_CHAIN, X509_V_ERR_DEPTH_ZERO_SELF_SIGNED_CERT:
            return "its issuer is not trusted here: trust the CA that signed it with a CA file"
        case X509_V_ERR_HOSTNAME_MISMATCH:
            return "the certificate is not for \"\(serverName)\""
        case X509_V_ERR_IP_ADDRESS_MISMATCH:
            return "the certificate does not list the IP address \(serverName)"
        case X509_V_ERR_CERT_HAS_EXPIRED:
            return "the certificate has expired"
        case X509_V_ERR_CERT_NOT_YET_VALID:
            return "the certificate is not valid yet: check both clocks"
        default:
            return ""
        }
    }
}
