/// How much a WebSocket connection accepts, and the sizes RFC 6455 fixes. Every limit is named here; the
/// `default...` constants are what a connection uses unless its config overrides them, and an instance is what
/// a parser is built with.
public struct WebSocketLimits: Sendable, Equatable {
    /// Largest message an endpoint accepts, counted after reassembly and decompression. A frame header that
    /// would take a message past it is refused with 1009 (Message Too Big) before any of its payload is
    /// buffered; a compressed message is refused the moment inflating it crosses the limit.
    public static let defaultMaxMessageBytes = 1024 * 1024
    /// The longest frame header: two fixed bytes, an 8-byte extended length and a 4-byte masking key.
    public static let maxFrameHeaderBytes = 14
    /// Close, ping and pong frames carry at most this many payload bytes (RFC 6455 §5.5).
    public static let maxControlPayloadBytes = 125
    /// A close frame's reason: the control payload minus its 2-byte status code.
    public static let maxCloseReasonBytes = maxControlPayloadBytes - 2
    /// A client's Sec-WebSocket-Key is base64 of exactly this many random bytes (RFC 6455 §4.1).
    public static let handshakeKeyBytes = 16
    /// A masking key is four bytes (RFC 6455 §5.3).
    public static let maskingKeyBytes = 4
    /// How much larger on the wire than `maxMessageBytes` a compressed message may be, per 64 KiB of the
    /// limit: deflate spends 5 bytes on each stored block of up to 65 535 bytes, so a message of exactly the
    /// limit that did not compress still fits.
    public static let compressedOverheadPer64KiB = 5
    /// Flat allowance on top of the per-block overhead: the bits a sync flush and block headers add.
    public static let compressedOverheadBytes = 64

    /// Largest message after reassembly and decompression (1009 past it). Zero or less refuses every
    /// non-empty message.
    public var maxMessageBytes: Int

    public init(maxMessageBytes: Int = WebSocketLimits.defaultMaxMessageBytes) {
        self.maxMessageBytes = maxMessageBytes
    }

    /// The most compressed bytes a message may carry on the wire; past it the message is refused with 1009
    /// before it is buffered, whatever it would inflate to.
    public var maxCompressedMessageBytes: Int {
        guard maxMessageBytes > 0 else { return 0 }
        let blocks = maxMessageBytes / 65_535 + 1
        let overhead = blocks * Self.compressedOverheadPer64KiB + Self.compressedOverheadBytes
        let (total, overflow) = maxMessageBytes.addingReportingOverflow(overhead)
        return overflow ? Int.max : total
    }
}
