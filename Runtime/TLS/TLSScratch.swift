#if canImport(Glibc)
import Glibc
#endif

/// The buffers TLS streams pass bytes through, one pair per thread (so per loop): decrypted bytes are
/// lent to a delegate for one call, and ciphertext waits here only on its way from the write BIO to
/// the socket. A stream owns no such buffer, so an idle one costs no buffer memory.
///
/// Two buffers, not one: a delegate may close or hand over its stream while it holds the plaintext,
/// which moves ciphertext while that plaintext must stay intact.
final class TLSScratch {
    let plaintext: UnsafeMutableRawBufferPointer
    let ciphertext: UnsafeMutableRawBufferPointer

    private init() {
        plaintext = .allocate(byteCount: TLSLimits.plaintextScratchBytes, alignment: 16)
        ciphertext = .allocate(byteCount: TLSLimits.ciphertextScratchBytes, alignment: 16)
    }

    deinit {
        plaintext.deallocate()
        ciphertext.deallocate()
    }

    private static let key: pthread_key_t = {
        var key = pthread_key_t()
        let made = pthread_key_create(&key) { pointer in
            if let pointer { Unmanaged<TLSScratch>.fromOpaque(pointer).release() }
        }
        precondition(made == 0, "pthread_key_create failed")
        return key
    }()

    /// The calling thread's buffers, made on first use and freed when the thread ends.
    static var current: TLSScratch {
        if let pointer = pthread_getspecific(key) { return Unmanaged<TLSScratch>.fromOpaque(pointer).takeUnretainedValue() }
        let made = TLSScratch()
        pthread_setspecific(key, Unmanaged.passRetained(made).toOpaque())
        return made
    }
}
