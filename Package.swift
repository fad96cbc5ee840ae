// swift-tools-version: 6.0
// The runtime, its apps and the bench tool. Module map and dependency order: README.md, "Layout".
import PackageDescription

/// Settings every target of ours shares.
let strict: [SwiftSetting] = [
    .enableUpcomingFeature("ExistentialAny"),
]

/// The per-request path (IO, HTTP, server) runs its loop-bound classes on one thread by design, so the
/// dynamic exclusivity checks on their properties buy nothing there and cost ~3% of a request in release
/// builds. Static checking stays on everywhere; debug builds (and so the tests) keep the dynamic checks.
let hotPath: [SwiftSetting] = strict + [
    .unsafeFlags(["-enforce-exclusivity=unchecked"], .when(configuration: .release)),
]

let package = Package(
    name: "runtime",
    platforms: [.macOS(.v15)],
    products: [
        .executable(name: "runtime", targets: ["RuntimeCLI"]),
        .executable(name: "bench", targets: ["Bench"]),
        // Runs inside each Dispatch sandbox: connects the agent to the session's control plane.
        .executable(name: "dispatch-bridge", targets: ["DispatchBridge"]),
        // Apps link against this one copy of the public API (DESIGN.md §6).
        .library(name: "RuntimeAPI", type: .dynamic, targets: ["RuntimeAPI"]),
    ],
    dependencies: [
        .package(url: "https://github.com/apple/swift-argument-parser", from: "1.5.0"),
        .package(url: "https://github.com/HdrHistogram/hdrhistogram-swift", from: "0.1.0"),
    ],
    targets: [
        // System libraries: a module map and a tiny shim each, no logic.
        .systemLibrary(name: "CURing", path: "Runtime/CURing", pkgConfig: "liburing",
                       providers: [.apt(["liburing-dev"])]),
        .systemLibrary(name: "CSQLite", path: "Runtime/CSQLite", pkgConfig: "sqlite3",
                       providers: [.apt(["libsqlite3-dev"])]),
        .systemLibrary(name: "COpenSSL", path: "Runtime/COpenSSL", pkgConfig: "openssl",
                       providers: [.apt(["libssl-dev"])]),
        .systemLibrary(name: "CZlib", path: "Runtime/CZlib", pkgConfig: "zlib",
                       providers: [.apt(["zlib1g-dev"])]),

        // The only module apps import.
        .target(name: "RuntimeAPI", path: "Runtime/API", exclude: ["README.md"], swiftSettings: strict),
        // The only module that talks to io_uring.
        .target(name: "RuntimeIO", dependencies: ["CURing"], path: "Runtime/IO", exclude: ["README.md"],
                swiftSettings: hotPath),
        // HTTP/1.1 codecs (pure), the server connection and the outbound client (on IO, TLS for https).
        .target(name: "RuntimeHTTP", dependencies: ["RuntimeAPI", "RuntimeIO", "RuntimeWebSocket", "RuntimeTLS"],
                path: "Runtime/HTTP",
                exclude: ["README.md"], swiftSettings: hotPath),
        // Hashes, MACs and randomness from libcrypto.
        .target(name: "RuntimeCrypto", dependencies: ["COpenSSL"], path: "Runtime/Crypto", swiftSettings: strict),
        // TLS through OpenSSL over memory BIOs, driven by the loops; the only OpenSSL user besides Crypto.
        .target(name: "RuntimeTLS", dependencies: ["COpenSSL", "RuntimeIO"], path: "Runtime/TLS",
                exclude: ["README.md"], swiftSettings: hotPath),
        // RFC 6455 WebSockets, pure: frame codec, permessage-deflate, handshake. No sockets.
        .target(name: "RuntimeWebSocket", dependencies: ["RuntimeAPI", "RuntimeIO", "RuntimeCrypto", "CZlib"],
                path: "Runtime/WebSocket", exclude: ["README.md"], swiftSettings: hotPath),
        // The only module that talks to SQLite: object storage and its durability.
        .target(name: "RuntimeStorage", dependencies: ["CSQLite", "RuntimeAPI", "RuntimeIO"], path: "Runtime/Storage",
                exclude: ["README.md"], swiftSettings: hotPath),
        // Durable Objects: namespaces, ids, one host per object on its loop, gates, alarms, eviction.
        .target(name: "RuntimeObjects", dependencies: ["RuntimeAPI", "RuntimeIO", "RuntimeStorage", "RuntimeCrypto",
                                                       "RuntimeWebSocket"],
                path: "Runtime/Objects", exclude: ["README.md"], swiftSettings: hotPath),
        // Apps as deployable units: manifests, routes, compiling and loading modules, versions, secrets.
        .target(name: "RuntimeDeploy", dependencies: ["RuntimeAPI", "RuntimeCrypto"], path: "Runtime/Deploy",
                exclude: ["README.md"], swiftSettings: strict),
        // Wires configuration to loops, listeners and the worker; tests start it without argv.
        .target(name: "RuntimeServer", dependencies: ["RuntimeAPI", "RuntimeIO", "RuntimeHTTP", "RuntimeObjects",
                                                      "RuntimeWebSocket", "RuntimeDeploy", "RuntimeCrypto",
                                                      "RuntimeTLS"],
                path: "Runtime/Server", exclude: ["README.md"], swiftSettings: hotPath),
        .executableTarget(
            name: "RuntimeCLI",
            dependencies: [
                "RuntimeServer", "RuntimeObjects", "RuntimeWebSocket", "RuntimeDeploy", "RuntimeTLS", "ExamplesApp",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
            ],
            path: "Runtime/CLI", swiftSettings: strict,
            // Deployed app modules are loaded into this process and resolve their RuntimeAPI references
            // against its copy, so one copy of the API serves runtime and apps alike (DESIGN.md §6).
            linkerSettings: [.unsafeFlags(["-Xlinker", "--export-dynamic"])]),

        // Apps depend on RuntimeAPI only.
        .target(name: "ExamplesApp", dependencies: ["RuntimeAPI"], path: "Apps/Examples", swiftSettings: strict),

        // Dispatch's in-sandbox bridge: a plain process (not an app), so it uses our IO, HTTP and WebSocket
        // clients directly.
        .executableTarget(
            name: "DispatchBridge",
            dependencies: ["RuntimeAPI", "RuntimeIO", "RuntimeHTTP", "RuntimeWebSocket", "RuntimeCrypto", "RuntimeTLS"],
            path: "Apps/SandboxBridge", exclude: ["README.md"], swiftSettings: strict),

        .executableTarget(
            name: "Bench",
            dependencies: [
                "RuntimeIO", "RuntimeHTTP", "RuntimeWebSocket", "RuntimeCrypto", "RuntimeDeploy",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
                .product(name: "Histogram", package: "hdrhistogram-swift"),
            ],
            path: "bench/Bench", swiftSettings: strict),

        .testTarget(name: "IOTests", dependencies: ["RuntimeIO"], swiftSettings: strict),
        .testTarget(name: "HTTPTests", dependencies: ["RuntimeHTTP", "RuntimeAPI"], swiftSettings: strict),
        .testTarget(name: "TLSTests", dependencies: ["RuntimeTLS", "RuntimeIO"], swiftSettings: strict),
        .testTarget(name: "FetchTests", dependencies: ["RuntimeHTTP", "RuntimeAPI", "RuntimeIO", "RuntimeTLS",
                                                      "RuntimeServer"],
                    swiftSettings: strict),
        .testTarget(name: "ServerTests", dependencies: ["RuntimeServer", "RuntimeAPI", "ExamplesApp", "RuntimeTLS"],
                    swiftSettings: strict),
        .testTarget(name: "CryptoTests", dependencies: ["RuntimeCrypto"], swiftSettings: strict),
        .testTarget(name: "DeployTests", dependencies: ["RuntimeDeploy", "RuntimeAPI"], swiftSettings: strict),
        .testTarget(name: "WebSocketTests", dependencies: ["RuntimeWebSocket", "RuntimeAPI", "RuntimeCrypto"],
                    swiftSettings: strict),
        .testTarget(name: "StorageTests", dependencies: ["RuntimeStorage", "RuntimeAPI", "RuntimeIO"],
                    swiftSettings: strict),
        // Dispatch end to end: real runtime processes with the apps deployed, real sandboxes and bridges.
        .testTarget(name: "DispatchTests", dependencies: ["RuntimeAPI", "RuntimeIO", "RuntimeWebSocket", "RuntimeHTTP",
                                                         "RuntimeCrypto"],
                    swiftSettings: strict),
        .testTarget(name: "ObjectsTests", dependencies: ["RuntimeObjects", "RuntimeServer", "RuntimeAPI", "ExamplesApp"],
                    swiftSettings: strict),
    ]
)
