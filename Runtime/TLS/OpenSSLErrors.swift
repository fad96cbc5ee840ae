import COpenSSL

/// OpenSSL's thread-local error queue, read into words a person can act on.
///
/// Threading: the queue belongs to the calling thread, so clear it before an SSL call and read it
/// right after, on the same thread (a loop's, for streams).
enum OpenSSLErrors {
    /// Empties the queue, so the next call's errors are its own.
    static func clear() { ERR_clear_error() }

    /// The reasons in the queue, oldest first ("certificate verify failed; ..."), and the reason code of
    /// the first; empties the queue.
    static func drain() -> (text: String, firstReason: Int32) {
        var reasons: [String] = []
        var first: Int32 = 0
        while true {
            let code = ERR_get_error()
            if code == 0 { break }
            if reasons.isEmpty { first = ERR_GET_REASON(code) }
            reasons.append(describe(code))
        }
        return (reasons.isEmpty ? "no detail from OpenSSL" : reasons.joined(separator: "; "), first)
    }

    /// The reason text of one error code; the whole "error:..." string when OpenSSL has no reason text.
    static func describe(_ code: UInt) -> String {
        if let reason = ERR_reason_error_string(code) { return String(cString: reason) }
        var buffer = [CChar](repeating: 0, count: 256)
        ERR_error_string_n(code, &buffer, buffer.count)
        return buffer.withUnsafeBufferPointer { String(cString: $0.baseAddress!) }
    }
}
