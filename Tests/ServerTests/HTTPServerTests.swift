import Testing
import RuntimeHTTP

@Suite("HTTP server over real sockets")
struct HTTPServerTests {
    @Test("answers a GET with the hello app")
    func hello() async throws {
        try await withServer { _, port in
            let response = try RawClient.get("/", port: port)
            #expect(response.status == 200)
            #expect(response.text == "Hello from the runtime!\n")
            #expect(response.header("date") != nil)
            #expect(response.header("content-length") == "24")
        }
    }

    @Test("keeps a connection alive across requests")
    func keepAlive() async throws {
        try await withServer { _, port in
            let client = try RawClient(port: port)
            for _ in 0..<5 {
                try client.send("GET / HTTP/1.1\r\nHost: x\r\n\r\n")
                let response = try client.readResponse()
                #expect(response.status == 200)
                #expect(response.header("connection") == nil)
            }
        }
    }

    @Test("answers pipelined requests in order")
    func pipelining() async throws {
        try await withServer { _, port in
            let client = try RawClient(port: port)
            var batch = ""
            for index in 0..<10 {
                batch += "POST /echo HTTP/1.1\r\nHost: x\r\nContent-Length: \(String(index).count)\r\n\r\n\(index)"
            }
            try client.send(batch)
            for index in 0..<10 {
                let response = try client.readResponse()
                #expect(response.status == 200)
                #expect(response.text == String(index))
            }
        }
    }

    @Test("closes after a response when the client asks for it, and for HTTP/1.0")
    func connectionClose() async throws {
        try await withServer { _, port in
            let client = try RawClient(port: port)
            try client.send("GET / HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
            let response = try client.readResponse()
            #expect(response.header("connection") == "close")
            #expect(client.isClosedByServer())
            let old = try RawClient(port: port)
            try old.send("GET / HTTP/1.0\r\n\r\n")
            #expect(try old.readResponse().status == 200)
            #expect(old.isClosedByServer())
        }
    }

    @Test("reads a chunked request body")
    func chunkedRequest() async throws {
        try await withServer { _, port in
            let client = try RawClient(port: port)
            try client.send("POST /echo HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n"
                + "5\r\nhello\r\n1;ext=1\r\n,\r\n6\r\n world\r\n0\r\nX-Trailer: yes\r\n\r\n")
            let response = try client.readResponse()
            #expect(response.status == 200)
            #expect(response.text == "hello, world")
            #expect(response.header("x-body-length") == "12")
        }
    }

    @Test("streams a chunked response body")
    func chunkedResponse() async throws {
        try await withServer { _, port in
            let response = try RawClient.get("/stream?n=2000", port: port)
            #expect(response.status == 200)
            #expect(response.header("transfer-encoding") == "chunked")
            let lines = response.text.split(separator: "\n")
            #expect(lines.count == 2000)
            #expect(lines.last == "line 1999")
        }
    }

    @Test("echoes a 1 MiB body intact")
    func largeBody() async throws {
        try await withServer { _, port in
            let body = (0..<(1 << 20)).map { UInt8(truncatingIfNeeded: $0 &* 31 &+ 7) }
            let client = try RawClient(port: port)
            try client.send(Array("POST /echo HTTP/1.1\r\nHost: x\r\nContent-Length: \(body.count)\r\n\r\n".utf8) + body)
            let response = try client.readResponse()
            #expect(response.status == 200)
            #expect(response.body == body)
        }
    }

    @Test("answers HEAD with the length but no body")
    func head() async throws {
        try await withServer { _, port in
            let client = try RawClient(port: port)
            try client.send("HEAD / HTTP/1.1\r\nHost: x\r\n\r\n")
            let response = try client.readResponse(head: true)
            #expect(response.status == 200)
            #expect(response.header("content-length") == "24")
            // The next response on the connection must start right away: no stray body bytes.
            try client.send("GET /headers HTTP/1.1\r\nHost: x\r\n\r\n")
            #expect(try client.readResponse().status == 200)
        }
    }

    @Test("sends 100 Continue before reading an expected body")
    func expectContinue() async throws {
        try await withServer { _, port in
            let client = try RawClient(port: port)
            try client.send("POST /echo HTTP/1.1\r\nHost: x\r\nContent-Length: 4\r\nExpect: 100-continue\r\n\r\n")
            // RawClient skips interim responses, so read the raw bytes first.
            var interim = [UInt8](repeating: 0, count: 25)
            let count = interim.withUnsafeMutableBytes { recv(client.fd, $0.baseAddress, 25, Int32(MSG_WAITALL)) }
            #expect(count == 25)
            #expect(String(decoding: interim, as: UTF8.self) == "HTTP/1.1 100 Continue\r\n\r\n")
            try client.send("ping")
            let response = try client.readResponse()
            #expect(response.text == "ping")
        }
    }

    @Test("serves 100 concurrent clients on two loops")
    func concurrentClients() async throws {
        try await withServer(threads: 2) { _, port in
            let clients = try (0..<100).map { _ in try RawClient(port: port) }
            for round in 0..<3 {
                for (index, client) in clients.enumerated() {
                    try client.send("POST /echo HTTP/1.1\r\nHost: x\r\nContent-Length: 6\r\n\r\n\(sixDigits(index * 10 + round))")
                }
                for (index, client) in clients.enumerated() {
                    let response = try client.readResponse()
                    #expect(response.status == 200)
                    #expect(response.text == sixDigits(index * 10 + round))
                }
            }
        }
    }

    @Test("maps a worker's HTTPError to its status and hides other errors")
    func workerErrors() async throws {
        try await withServer { _, port in
            let missing = try RawClient.get("/nope", port: port)
            #expect(missing.status == 404)
            #expect(missing.text.contains("no route"))
        }
    }
}

/// Zero-padded to six digits.
func sixDigits(_ value: Int) -> String {
    let digits = String(value)
    return String(repeating: "0", count: Swift.max(0, 6 - digits.count)) + digits
}

#if canImport(Glibc)
import Glibc
#endif
