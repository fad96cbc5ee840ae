import Hummingbird
import NIOPosix

// Same body as the runtime's hello app (24 bytes), one event-loop thread: `--port N`.
let arguments = CommandLine.arguments
let port = arguments.firstIndex(of: "--port").flatMap { Int(arguments[$0 + 1]) } ?? 8081

let router = Router()
router.get("/") { _, _ in "Hello from the runtime!\n" }
let app = Application(
    router: router,
    configuration: .init(address: .hostname("127.0.0.1", port: port)),
    eventLoopGroupProvider: .shared(MultiThreadedEventLoopGroup(numberOfThreads: 1)))
try await app.runService()
