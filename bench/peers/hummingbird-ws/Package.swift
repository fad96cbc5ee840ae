// swift-tools-version: 6.2
// A Hummingbird 2 WebSocket server: the peer `bench ws --compare` measures the runtime against.
// Not part of the runtime's package, so its build never slows CI. (Tools 6.2 because
// hummingbird-websocket 2.8 declares it.)
import PackageDescription

let package = Package(
    name: "hummingbird-ws",
    platforms: [.macOS(.v15)],
    products: [.executable(name: "hummingbird-ws", targets: ["HummingbirdWS"])],
    dependencies: [
        .package(url: "https://github.com/hummingbird-project/hummingbird", from: "2.0.0"),
        .package(url: "https://github.com/hummingbird-project/hummingbird-websocket", from: "2.0.0"),
        .package(url: "https://github.com/apple/swift-nio", from: "2.0.0"),
    ],
    targets: [
        .executableTarget(
            name: "HummingbirdWS",
            dependencies: [
                .product(name: "Hummingbird", package: "hummingbird"),
                .product(name: "HummingbirdWebSocket", package: "hummingbird-websocket"),
                .product(name: "NIOPosix", package: "swift-nio"),
                .product(name: "NIOWebSocket", package: "swift-nio"),
            ]),
    ]
)
