import Foundation
import RuntimeAPI
import RuntimeHTTP
import RuntimeServer
import RuntimeTLS
import Testing

/// A worker calls upstream through the API: the global `fetch` reaches the HTTP client the server installed
/// at start, on the loop the request runs on.
struct UpstreamWorker: Worker {
    let upstream: String

    func fetch(_ request: Request, env: Env, ctx: ExecutionContext) async throws -> Response {
        switch request.url.path {
        case "/summary":
            // The plain name works inside a worker (the Worker extension forwards to the global fetch).
            let answer = try await fetch(upstream + "/echo", method: "POST", headers: ["X-From": "worker"],
                                         body: Array("from a worker".utf8))
            return Response(text: "upstream \(answer.status): " + (try await answer.text()))
        case "/proxy":
            // Passed through as the worker's own response: the body streams from upstream to the client.
            return try await RuntimeAPI.fetch(FetchRequest(upstream + "/big?bytes=2000000"))
        case "/object":
            return try await env.namespace("UPSTREAM_OBJECT").get(name: "one").fetch(request)
        case "/refused":
            do {
                _ = try await fetch(FetchRequest("http://127.0.0.1:\(request.url.queryValue("port") ?? "1")/"))
                return Response(text: "unexpectedly connected")
            } catch let error as FetchError {
                return Response(status: 502, text: "\(error)")
            }
        default:
            return Response(status: 404, text: "no route\n")
        }
    }
}

/// A Durable Object that writes to its storage and then calls upstream: the request waits for the write
/// to be durable (the output gate), then goes out.
actor UpstreamObject: DurableObject {
    let state: DurableObjectState
    let upstream: String
    nonisolated var unownedExecutor: UnownedSerialExecutor { state.executor }

    init(state: DurableObjectState, env: Env) {
        self.state = state
        upstream = env.vars["UPSTREAM"] ?? ""
    }

    func fetch(_ request: Request) async throws -> Response {
        let calls = (try state.storage.getInt("calls") ?? 0) + 1
        try state.storage.put("calls", int: calls)
        let answer = try await fetch(upstream + "/echo?call=\(calls)")
        let echoed = try await answer.text()
        return Response(text: "call \(calls): \(echoed)")
    }
}

@Suite("Fetch from a worker", .timeLimit(.minutes(1)))
struct FetchWorkerTests {
    @Test("a worker (and an object) of an in-process server fetch upstream, pass a streamed response through, and see errors")
    func workerFetches() async throws {
        let peer = try await PeerServer.start()
        defer { peer.stop() }
        let directory = NSTemporaryDirectory() + "fetch-worker-" + UUID().uuidString
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let config = ServerConfig(listen: "127.0.0.1:0", threads: 1, stateDirectory: directory, accessLog: false,
                                  shutdownGrace: .seconds(2))
        let app = App(worker: UpstreamWorker(upstream: peer.base), objectClasses: ["UPSTREAM_OBJECT": UpstreamObject.self],
                      vars: ["UPSTREAM": peer.base])
        let server = try Server(config: config, app: app)
        let refusedPort = try unusedPort()
        let outcome: Result<Void, any Error>
        do {
            try await withClient { client in
                let base = "http://127.0.0.1:\(server.address.port)"
                let summary = try await client.fetch(FetchRequest(base + "/summary")).text()
                #expect(summary.hasPrefix("upstream 200: "))
                #expect(summary.contains("\"body\": \"from a worker\""))
                #expect(summary.contains("[\"X-From\", \"worker\"]"))
                #expect(summary.contains("[\"User-Agent\", \"runtime\"]"))

                let proxied = try await client.fetch(FetchRequest(base + "/proxy"))
                #expect(proxied.status == 200)
                #expect(proxied.headers["content-length"] == "2000000")
                let reader = PatternReader()
                guard case .stream(let produce) = proxied.body else { throw FixtureError(description: "not a stream") }
                try await produce(reader)
                #expect(reader.current.bytes == 2_000_000)
                #expect(reader.current.mismatchAt == nil)

                for call in 1...2 {
                    let fromObject = try await client.fetch(FetchRequest(base + "/object")).text()
                    #expect(fromObject.hasPrefix("call \(call): "))
                    #expect(fromObject.contains("\"path\": \"/echo?call=\(call)\""))
                }

                let refused = try await client.fetch(FetchRequest(base + "/refused?port=\(refusedPort)"))
                #expect(refused.status == 502)
                #expect(try await refused.text().contains("connection refused by 127.0.0.1:\(refusedPort)"))
            }
            outcome = .success(())
        } catch {
            outcome = .failure(error)
        }
        let serverStats = await server.httpClient.statistics()
        try await offPool { server.shutdown() }
        try outcome.get()
        // The fetches went through the server's own client: one connection kept alive for every upstream
        // call (worker and object run on the server's one loop), and the refused attempt.
        #expect(serverStats.connectionsOpened == 2)
    }

    @Test("the server's client trusts the CA file of its config (runtime serve --ca-file) for https")
    func workerFetchesHTTPS() async throws {
        let certificates = try await TestCertificates.make()
        defer { certificates.remove() }
        let peer = try await PeerServer.start(certificate: certificates.server, key: certificates.serverKey)
        defer { peer.stop() }
        let directory = NSTemporaryDirectory() + "fetch-worker-" + UUID().uuidString
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let config = ServerConfig(listen: "127.0.0.1:0", threads: 1, stateDirectory: directory, accessLog: false,
                                  shutdownGrace: .seconds(2), outboundTLS: TLSClientConfig(caFile: certificates.ca))
        let server = try Server(config: config, worker: UpstreamWorker(upstream: "https://localhost:\(peer.port)"))
        let outcome: Result<String, any Error>
        do {
            outcome = .success(try await withClient { client in
                try await client.fetch(FetchRequest("http://127.0.0.1:\(server.address.port)/summary")).text()
            })
        } catch {
            outcome = .failure(error)
        }
        try await offPool { server.shutdown() }
        let summary = try outcome.get()
        #expect(summary.hasPrefix("upstream 200: "))
        #expect(summary.contains("[\"Host\", \"localhost:\(peer.port)\"]"))
    }
}
