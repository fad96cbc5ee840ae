import Testing
import RuntimeHTTP
import RuntimeIO
#if canImport(Glibc)
import Glibc
#endif

@Suite("Server timeouts")
struct TimeoutTests {
    @Test("a slowloris client is cut off by the header timeout with 408")
    func slowloris() async throws {
        var http = HTTPServerConfig()
        http.headerTimeout = .milliseconds(600)
        try await withServer(http: http) { _, port in
            let client = try RawClient(port: port)
            let started = MonotonicClock.now()
            try client.send("GET / HTTP/1.1\r\nHost: x\r\n")
            // Keep sending a header line every 100 ms: activity must not extend the header deadline.
            var cutOff = false
            for index in 0..<40 {
                usleep(100_000)
                do { try client.send("X-\(index): y\r\n") } catch { cutOff = true; break }
                if MonotonicClock.now() - started > 1_500_000_000 { break }
            }
            let response = try client.readResponse()
            #expect(response.status == 408)
            let elapsed = Double(MonotonicClock.now() - started) / 1e9
            #expect(elapsed < 3.0, "cut off after \(elapsed)s")
            _ = cutOff
            #expect(try RawClient.get("/", port: port).status == 200)
        }
    }

    @Test("an idle keep-alive connection is closed after the idle timeout")
    func idleTimeout() async throws {
        var http = HTTPServerConfig()
        http.idleTimeout = .milliseconds(300)
        try await withServer(http: http) { server, port in
            let client = try RawClient(port: port)
            try client.send("GET / HTTP/1.1\r\nHost: x\r\n\r\n")
            #expect(try client.readResponse().status == 200)
            #expect(client.isClosedByServer())
        }
    }

    @Test("a handler past the request deadline gets 503")
    func requestDeadline() async throws {
        var http = HTTPServerConfig()
        http.requestTimeout = .milliseconds(300)
        try await withServer(http: http) { _, port in
            let response = try RawClient.get("/slow?ms=3000", port: port)
            #expect(response.status == 503)
            #expect(try RawClient.get("/", port: port).status == 200)
        }
    }
}
