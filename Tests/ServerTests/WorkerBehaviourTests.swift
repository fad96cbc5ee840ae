import RuntimeAPI
import Synchronization
import Testing
#if canImport(Glibc)
import Glibc
#endif

/// A worker for behaviour the hello app does not cover: waitUntil, hidden errors, back-pressure.
struct ProbeWorker: Worker {
    let events: Probe

    final class Probe: Sendable {
        let waitUntilRan = Atomic<Int>(0)
        let streamedBytes = Atomic<Int>(0)
    }

    struct Secret: Error, CustomStringConvertible {
        var description: String { "database password is hunter2" }
    }

    func fetch(_ request: Request, env: Env, ctx: ExecutionContext) async throws -> Response {
        switch request.url.path {
        case "/wait-until":
            let events = self.events
            ctx.waitUntil {
                try await Task.sleep(for: .milliseconds(300))
                events.waitUntilRan.add(1, ordering: .sequentiallyConsistent)
            }
            return Response(text: "answered before the background work\n")
        case "/throw":
            throw Secret()
        case "/big":
            let events = self.events
            let chunk = [UInt8](repeating: 0x61, count: 64 * 1024)
            return Response { writer in
                for _ in 0..<(64 * 1024 * 1024 / chunk.count) {
                    try await writer.write(chunk)
                    events.streamedBytes.add(chunk.count, ordering: .relaxed)
                }
            }
        default:
            throw HTTPError(404, "not here")
        }
    }
}

@Suite("Worker behaviour through the server")
struct WorkerBehaviourTests {
    @Test("waitUntil work runs after the response, and shutdown waits for it")
    func waitUntil() async throws {
        let probe = ProbeWorker.Probe()
        try await withServer(worker: ProbeWorker(events: probe)) { server, port in
            let response = try RawClient.get("/wait-until", port: port)
            #expect(response.status == 200)
            #expect(probe.waitUntilRan.load(ordering: .sequentiallyConsistent) == 0)
            server.shutdown()
            #expect(probe.waitUntilRan.load(ordering: .sequentiallyConsistent) == 1)
        }
    }

    @Test("an error that is not an HTTPError becomes a 500 that reveals nothing")
    func hiddenError() async throws {
        try await withServer(worker: ProbeWorker(events: ProbeWorker.Probe())) { _, port in
            let response = try RawClient.get("/throw", port: port)
            #expect(response.status == 500)
            #expect(!response.text.contains("hunter2"))
        }
    }

    @Test("a streamed body waits for a client that does not read (back-pressure), then arrives whole")
    func backPressure() async throws {
        let probe = ProbeWorker.Probe()
        try await withServer(worker: ProbeWorker(events: probe)) { _, port in
            let client = try RawClient(port: port, timeoutSeconds: 20)
            var small: Int32 = 64 * 1024
            setsockopt(client.fd, SOL_SOCKET, SO_RCVBUF, &small, socklen_t(MemoryLayout<Int32>.size))
            try client.send("GET /big HTTP/1.1\r\nHost: x\r\n\r\n")
            usleep(500_000)
            let produced = probe.streamedBytes.load(ordering: .relaxed)
            // Socket buffers on both sides plus the server's high-water mark: far below 64 MiB.
            #expect(produced < 16 * 1024 * 1024, "produced \(produced) bytes for a client that read nothing")
            let response = try client.readResponse()
            #expect(response.status == 200)
            #expect(response.body.count == 64 * 1024 * 1024)
        }
    }
}
