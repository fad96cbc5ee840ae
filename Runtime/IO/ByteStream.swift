/// A connected, ordered byte stream on one loop: what the HTTP server connection and WebSocket
/// connections read from and write to. `StreamSocket` is one (plain TCP); `TLSStream` in RuntimeTLS is
/// another (TLS over a `StreamSocket`). Owners program against this protocol, so plain and encrypted
/// connections share one code path.
///
/// The contract every conformer keeps:
/// - Threading: loop-bound. Create and use it on `loop` only; every delegate call arrives there, never
///   from inside a call the owner made (except `handOver`'s completion, see there).
/// - Writes are queued and leave together at the end of the loop turn; `queuedBytes` counts what has
///   not reached the kernel yet, and `streamDrained` says when that reached zero.
/// - `streamClosed` is the last call, and until it the stream holds its delegate strongly.
public protocol ByteStream: AnyObject {
    var loop: Loop { get }
    /// Held strongly until `streamClosed` has been delivered (or the stream was handed over).
    var delegate: (any ByteStreamDelegate)? { get set }
    /// False once closing began (`close`, `closeAfterFlush`, a failure) or the stream was handed over.
    var isOpen: Bool { get }
    /// Bytes written and not yet taken by the kernel.
    var queuedBytes: Int { get }
    /// Whether the owner currently receives bytes (`startReading`/`stopReading`).
    var readState: StreamReadState { get }
    /// The peer's address, or nil when it is not (or no longer) known.
    func remoteAddress() -> SocketAddress?

    /// Starts (or resumes) delivering received bytes.
    func startReading()
    /// Stops delivering bytes until `startReading()`; the peer is pushed back by flow control.
    func stopReading()
    /// Queues bytes to send; they are copied, so the caller keeps its buffer.
    func write(_ bytes: UnsafeRawBufferPointer)
    func write(_ bytes: [UInt8])
    /// Sends what is queued, ends the sending side, and closes once the peer is done or a short
    /// linger passed. Use after a response that ends the connection.
    func closeAfterFlush()
    /// Closes now, dropping unsent bytes. `streamClosed` follows once the descriptor is gone.
    func close()
    /// Hands the connection to another owner, possibly on another loop: stops reading, lets queued
    /// bytes go out and every operation in flight complete, then calls `completion` with everything
    /// needed to continue the stream elsewhere. Bytes (and the peer's EOF) that arrive before the
    /// receive stops still reach the delegate; nothing is delivered after `completion`, and
    /// `streamClosed` is never delivered. `completion` may run inside this call when nothing is in flight.
    func handOver(_ completion: @escaping (any DetachedStream) -> Void)
}

/// Whether a stream delivers received bytes.
public enum StreamReadState: Sendable {
    case stopped
    case armed
    /// `stopReading` was called and the receive in flight is being cancelled.
    case cancelling
}

/// What a `ByteStream` tells its owner. All calls arrive on the stream's loop.
public protocol ByteStreamDelegate: AnyObject {
    /// Bytes arrived. They are lent for this call only: copy what must be kept.
    func streamReceived(_ stream: any ByteStream, _ bytes: UnsafeRawBufferPointer)
    /// The peer finished sending (`error` nil: EOF, or TLS close_notify) or the connection failed while
    /// reading (an `IOError`, or a `TLSError` saying what the TLS layer refused).
    func streamReadClosed(_ stream: any ByteStream, error: (any Error)?)
    /// Every queued byte was handed to the kernel.
    func streamDrained(_ stream: any ByteStream)
    /// A connect finished (for TLS: the handshake too); `error` is nil on success.
    func streamConnected(_ stream: any ByteStream, error: (any Error)?)
    /// The stream is closed and every operation on it has completed. Last call.
    func streamClosed(_ stream: any ByteStream)
}

extension ByteStreamDelegate {
    public func streamDrained(_ stream: any ByteStream) {}
    public func streamConnected(_ stream: any ByteStream, error: (any Error)?) {}
}

/// A stream between two owners: what `ByteStream.handOver` gives, with the descriptor and whatever
/// protocol state goes with it (a TLS session). Exactly one owner holds it.
///
/// Threading: made on the old loop, `attach(to:)` called on the new one. If it is dropped without
/// being attached, it closes the descriptor (and frees the protocol state) itself.
public protocol DetachedStream: AnyObject, Sendable {
    /// Makes the stream again on `loop`, which is the calling thread's loop. Call once.
    func attach(to loop: Loop) -> any ByteStream
}
