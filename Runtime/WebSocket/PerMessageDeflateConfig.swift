/// One endpoint's permessage-deflate policy (RFC 7692), for either role. "Outgoing" is what this endpoint
/// compresses; "incoming" is what it asks its peer to do when compressing for it. Negotiation turns a policy
/// and the peer's offer or response into `PerMessageDeflateParameters`.
///
/// Memory per connection, from zlib's sizing: the compressor takes about `2^(outgoingMaxWindowBits + 2) +
/// 2^(memoryLevel + 9)` bytes (256 KiB at the defaults), the decompressor `2^incomingMaxWindowBits` plus
/// about 7 KiB.
public struct PerMessageDeflateConfig: Sendable, Equatable {
    /// The window sizes RFC 7692 §7.1.2 allows, as base-2 logarithms.
    public static let windowBitsRange = 8...15
    /// zlib cannot produce raw deflate with a 256-byte window (8 bits), so we compress with at least 9 and
    /// decline a peer that insists on 8 for us.
    public static let minCompressorWindowBits = 9
    /// zlib's levels: 0 stores, 1 is fastest, 9 compresses best.
    public static let compressionLevelRange = 0...9
    /// zlib's memory levels: more memory, faster and better compression.
    public static let memoryLevelRange = 1...9
    /// zlib's own default trade-off between speed and size.
    public static let defaultCompressionLevel = 6
    /// zlib's default memory level.
    public static let defaultMemoryLevel = 8
    /// Messages shorter than this are sent uncompressed (RSV1 clear): deflate's few bytes of overhead and its
    /// CPU cost outweigh what it saves on them.
    public static let defaultMinimumMessageBytes = 64

    /// Largest window this endpoint compresses with (9...15); the peer may lower it further.
    public var outgoingMaxWindowBits: Int
    /// Largest window the peer is asked to compress with (8...15), which bounds this endpoint's
    /// decompressor memory. 15 asks nothing. RFC 7692 allows 8, but peers built on zlib cannot compress with
    /// it and fail the connection when asked, so 9 is the practical minimum.
    public var incomingMaxWindowBits: Int
    /// Compress every message on its own (reset after each): less to remember, worse compression.
    public var outgoingNoContextTakeover: Bool
    /// Ask the peer to compress every message on its own.
    public var incomingNoContextTakeover: Bool
    /// zlib compression level (0...9).
    public var compressionLevel: Int
    /// zlib memory level (1...9).
    public var memoryLevel: Int
    /// Shorter messages go uncompressed.
    public var minimumMessageBytes: Int

    /// Values outside the documented ranges are a programming error (configuration parsing checks them
    /// against the ranges above first).
    public init(outgoingMaxWindowBits: Int = 15, incomingMaxWindowBits: Int = 15,
                outgoingNoContextTakeover: Bool = false, incomingNoContextTakeover: Bool = false,
                compressionLevel: Int = PerMessageDeflateConfig.defaultCompressionLevel,
                memoryLevel: Int = PerMessageDeflateConfig.defaultMemoryLevel,
                minimumMessageBytes: Int = PerMessageDeflateConfig.defaultMinimumMessageBytes) {
        precondition((Self.minCompressorWindowBits...15).contains(outgoingMaxWindowBits),
                     "outgoing window bits must be 9 through 15, not \(outgoingMaxWindowBits)")
        precondition(Self.windowBitsRange.contains(incomingMaxWindowBits),
                     "incoming window bits must be 8 through 15, not \(incomingMaxWindowBits)")
        precondition(Self.compressionLevelRange.contains(compressionLevel),
                     "compression level must be 0 through 9, not \(compressionLevel)")
        precondition(Self.memoryLevelRange.contains(memoryLevel),
                     "memory level must be 1 through 9, not \(memoryLevel)")
        self.outgoingMaxWindowBits = outgoingMaxWindowBits
        self.incomingMaxWindowBits = incomingMaxWindowBits
        self.outgoingNoContextTakeover = outgoingNoContextTakeover
        self.incomingNoContextTakeover = incomingNoContextTakeover
        self.compressionLevel = compressionLevel
        self.memoryLevel = memoryLevel
        self.minimumMessageBytes = minimumMessageBytes
    }
}
