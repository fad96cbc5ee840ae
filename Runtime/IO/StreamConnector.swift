/// Makes outbound streams that need more than TCP: a client (the WebSocket client, later fetch) that is
/// given one can reach `wss://` and `https://` without knowing what secures the stream. RuntimeTLS's
/// client `TLSContext` is one.
public protocol SecureStreamConnector: Sendable {
    /// Connects to `address` on `loop` (the calling thread's) and secures the stream for `serverName`,
    /// the name the peer must prove. `delegate` hears `streamConnected` once the stream is ready for
    /// application bytes, or why it is not. Throws when no stream can even be started.
    func connect(loop: Loop, to address: SocketAddress, serverName: String,
                 delegate: any ByteStreamDelegate) throws -> any ByteStream
}
