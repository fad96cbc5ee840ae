import RuntimeIO

/// A client context makes TLS streams for clients that only know `SecureStreamConnector` (the WebSocket
/// client's `wss://`).
extension TLSContext: SecureStreamConnector {
    public func connect(loop: Loop, to address: SocketAddress, serverName: String,
                        delegate: any ByteStreamDelegate) throws -> any ByteStream {
        try TLSStream.connect(loop: loop, to: address, serverName: serverName, context: self, delegate: delegate)
    }
}
