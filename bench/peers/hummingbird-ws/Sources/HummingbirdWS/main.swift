import Hummingbird
import HummingbirdWebSocket
import NIOCore
import NIOPosix
import NIOWebSocket

// The two routes `bench ws` drives, served the way a Hummingbird app would:
//   /ws/echo      every text or binary message is sent back unchanged
//   /room/<name>  every text message goes to every member of that room, the sender included
// `--port N` (default 8082), `--threads N` event-loop threads (default 1).
let arguments = CommandLine.arguments
func option(_ name: String) -> Int? { arguments.firstIndex(of: name).flatMap { Int(arguments[$0 + 1]) } }
let port = option("--port") ?? 8082
let threads = option("--threads") ?? 1

/// Largest message either route accepts, the same 1 MiB the runtime's default allows.
let maxMessageBytes = 1 << 20

let rooms = RoomRegistry()
let router = Router(context: BasicWebSocketRequestContext.self)

router.ws("/ws/echo") { inbound, outbound, _ in
    for try await message in inbound.messages(maxSize: maxMessageBytes) {
        switch message {
        case .text(let text): try await outbound.write(.text(text))
        case .binary(let bytes): try await outbound.write(.binary(bytes))
        }
    }
}

router.ws("/room/{name}") { inbound, outbound, context in
    // The path, not the query (`?user=` is accepted and ignored), names the room.
    let room = context.requestContext.parameters.get("name") ?? ""
    let (queue, member) = AsyncStream.makeStream(of: ByteBuffer.self)
    let id = rooms.join(room, member: member)
    defer { rooms.leave(room, id: id) }
    try await withThrowingTaskGroup(of: Void.self) { group in
        group.addTask {
            for await message in queue {
                try await outbound.write(.custom(WebSocketFrame(fin: true, opcode: .text, data: message)))
            }
        }
        for try await message in inbound.messages(maxSize: maxMessageBytes) {
            if case .text(let text) = message { rooms.broadcast(ByteBuffer(string: text), to: room) }
        }
        member.finish()
        try await group.waitForAll()
    }
}

let app = Application(
    router: Router(),
    server: .http1WebSocketUpgrade(
        webSocketRouter: router,
        configuration: .init(ws: .init(maxFrameSize: maxMessageBytes))),
    configuration: .init(address: .hostname("127.0.0.1", port: port), backlog: 4096),
    eventLoopGroupProvider: .shared(MultiThreadedEventLoopGroup(numberOfThreads: threads)))
try await app.runService()
