/// Which end of a connection a codec serves. It decides masking (RFC 6455 §5.1): a client masks every frame
/// it sends and a server masks none, and each side refuses frames that break that rule with 1002.
public enum WebSocketRole: Sendable, Equatable {
    /// Accepted the upgrade: receives masked frames, sends unmasked ones.
    case server
    /// Sent the upgrade: receives unmasked frames, sends masked ones.
    case client
}
