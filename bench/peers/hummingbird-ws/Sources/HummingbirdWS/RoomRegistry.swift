import NIOCore
import Synchronization

/// In-memory chat rooms: each member is the continuation of the stream its connection's writer drains.
///
/// Thread-safe (one mutex); `broadcast` only enqueues, so a slow member never blocks the sender or the
/// other members — its queue grows instead. The bench is closed-loop, which keeps every queue short.
final class RoomRegistry: Sendable {
    typealias Member = AsyncStream<ByteBuffer>.Continuation

    private struct State {
        var rooms: [String: [UInt64: Member]] = [:]
        var nextID: UInt64 = 0
    }

    private let state = Mutex(State())

    /// Adds a member to `room` (made on first join); returns the id `leave` takes.
    func join(_ room: String, member: Member) -> UInt64 {
        state.withLock { state in
            state.nextID += 1
            state.rooms[room, default: [:]][state.nextID] = member
            return state.nextID
        }
    }

    /// Removes a member; an empty room is dropped so idle rooms cost nothing.
    func leave(_ room: String, id: UInt64) {
        state.withLock { state in
            state.rooms[room]?[id] = nil
            if state.rooms[room]?.isEmpty == true { state.rooms[room] = nil }
        }
    }

    /// Queues `message` for every member of `room`, the sender included. The buffer is shared
    /// copy-on-write, so the fan-out copies no bytes.
    func broadcast(_ message: ByteBuffer, to room: String) {
        state.withLock { state in
            guard let members = state.rooms[room] else { return }
            for member in members.values { member.yield(message) }
        }
    }
}
