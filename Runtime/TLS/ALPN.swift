import COpenSSL

/// ALPN protocol lists (RFC 7301): the wire form OpenSSL takes, and the server's choice among what a
/// client offers.
///
/// Ownership: a server context keeps its list alive for as long as any of its connections may
/// handshake (the selection callback reads it through a raw pointer).
final class ALPNList: @unchecked Sendable {
    /// Each name as its length byte followed by its bytes.
    let wire: [UInt8]
    let names: [[UInt8]]

    init(_ protocols: [String]) throws(TLSError) {
        var wire: [UInt8] = []
        var names: [[UInt8]] = []
        for name in protocols {
            let bytes = Array(name.utf8)
            guard !bytes.isEmpty, bytes.count <= 255 else {
                throw TLSError.configuration("ALPN protocol \"\(name)\" must be 1 to 255 bytes")
            }
            wire.append(UInt8(bytes.count))
            wire += bytes
            names.append(bytes)
        }
        self.wire = wire
        self.names = names
    }

    /// The first of our names (our order of preference) that `offered`, a client's wire list, contains;
    /// the returned range indexes into `offered`. Nil for a malformed list or no common name.
    func select(from offered: UnsafeBufferPointer<UInt8>) -> Range<Int>? {
        var ranges: [Range<Int>] = []
        var index = 0
        while index < offered.count {
            let length = Int(offered[index])
            let start = index + 1
            guard length > 0, start + length <= offered.count else { return nil }
            ranges.append(start..<(start + length))
            index = start + length
        }
        for name in names {
            if let match = ranges.first(where: { $0.count == name.count && offered[$0].elementsEqual(name) }) {
                return match
            }
        }
        return nil
    }

    /// OpenSSL's ALPN selection callback for a server context whose argument is an `ALPNList`.
    static let selectCallback: SSL_CTX_alpn_select_cb_func = { _, out, outLength, offered, offeredLength, argument in
        guard let out, let outLength, let offered, let argument else { return SSL_TLSEXT_ERR_NOACK }
        let list = Unmanaged<ALPNList>.fromOpaque(argument).takeUnretainedValue()
        let buffer = UnsafeBufferPointer(start: offered, count: Int(offeredLength))
        guard let chosen = list.select(from: buffer) else { return SSL_TLSEXT_ERR_NOACK }
        // OpenSSL copies the chosen name out of the client's list before that list goes away.
        out.pointee = offered + chosen.lowerBound
        outLength.pointee = UInt8(chosen.count)
        return SSL_TLSEXT_ERR_OK
    }
}
