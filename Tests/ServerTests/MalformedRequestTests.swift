import Testing
import RuntimeHTTP

/// Every kind of bad input gets its status, the connection closes, and the server keeps serving.
@Suite("Malformed requests over real sockets")
struct MalformedRequestTests {
    struct Case: CustomTestStringConvertible, Sendable {
        let name: String
        let bytes: [UInt8]
        let status: Int
        var testDescription: String { "\(name) -> \(status)" }
        init(_ name: String, _ text: String, _ status: Int) {
            self.name = name
            self.bytes = Array(text.utf8)
            self.status = status
        }
        init(_ name: String, bytes: [UInt8], _ status: Int) {
            self.name = name
            self.bytes = bytes
            self.status = status
        }
    }

    static let cases: [Case] = [
        Case("garbage request line", "HELLO\r\n\r\n", 400),
        Case("missing Host on 1.1", "GET / HTTP/1.1\r\n\r\n", 400),
        Case("space before colon", "GET / HTTP/1.1\r\nHost : x\r\n\r\n", 400),
        Case("obs-fold", "GET / HTTP/1.1\r\nHost: x\r\nX-A: b\r\n c\r\n\r\n", 400),
        Case("bare LF in head", "GET / HTTP/1.1\r\nHost: x\nX: y\r\n\r\n", 400),
        Case("CL and TE together", "POST /echo HTTP/1.1\r\nHost: x\r\nContent-Length: 3\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n", 400),
        Case("two different Content-Lengths", "POST /echo HTTP/1.1\r\nHost: x\r\nContent-Length: 3\r\nContent-Length: 4\r\n\r\nabcd", 400),
        Case("negative Content-Length", "POST /echo HTTP/1.1\r\nHost: x\r\nContent-Length: -1\r\n\r\n", 400),
        Case("bad chunk size", "POST /echo HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n", 400),
        Case("unknown transfer-coding", "POST /echo HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: gzip\r\n\r\n", 501),
        Case("HTTP/2.0 in a 1.1 request line", "GET / HTTP/2.0\r\nHost: x\r\n\r\n", 505),
        Case("HTTP/1.2", "GET / HTTP/1.2\r\nHost: x\r\n\r\n", 505),
        Case("request line over the limit", "GET /" + String(repeating: "a", count: 9000) + " HTTP/1.1\r\nHost: x\r\n\r\n", 414),
        Case("request line over the limit without CRLF yet", "GET /" + String(repeating: "a", count: 9000), 414),
        Case("headers over the byte limit", "GET / HTTP/1.1\r\nHost: x\r\n" + String(repeating: "X-Filler: " + String(repeating: "b", count: 1000) + "\r\n", count: 70) + "\r\n", 431),
        Case("too many header fields", "GET / HTTP/1.1\r\nHost: x\r\n" + (0..<120).map { "X-\($0): y\r\n" }.joined() + "\r\n", 431),
        Case("body over the limit", "POST /echo HTTP/1.1\r\nHost: x\r\nContent-Length: 99999999999\r\n\r\n", 413),
        Case("NUL in a header value", bytes: Array("GET / HTTP/1.1\r\nHost: x\r\nX: a".utf8) + [0] + Array("b\r\n\r\n".utf8), 400),
    ]

    @Test("bad input gets its status and a closed connection", arguments: cases)
    func rejects(_ badCase: Case) async throws {
        try await withServer { _, port in
            let client = try RawClient(port: port)
            try client.send(badCase.bytes)
            let response = try client.readResponse()
            #expect(response.status == badCase.status)
            #expect(response.header("connection") == "close")
            #expect(client.isClosedByServer())
            // The server is unharmed.
            #expect(try RawClient.get("/", port: port).status == 200)
        }
    }

    @Test("a chunked body over the limit gets 413")
    func chunkedOverLimit() async throws {
        var http = HTTPServerConfig()
        http.limits.maxBodyBytes = 1000
        try await withServer(http: http) { _, port in
            let client = try RawClient(port: port)
            let chunk = String(repeating: "z", count: 600)
            try client.send("POST /echo HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n258\r\n\(chunk)\r\n258\r\n\(chunk)\r\n0\r\n\r\n")
            #expect(try client.readResponse().status == 413)
        }
    }

    @Test("random bytes never crash the server")
    func randomInput() async throws {
        try await withServer { _, port in
            var generator = SplitMix(seed: 42)
            for _ in 0..<200 {
                let length = Int(generator.next() % 300) + 1
                let bytes = (0..<length).map { _ in UInt8(truncatingIfNeeded: generator.next()) }
                let client = try RawClient(port: port, timeoutSeconds: 2)
                try? client.send(Array("GET / HTTP/1.1\r\n".utf8) + bytes + Array("\r\n\r\n".utf8))
                _ = try? client.readResponse()
            }
            #expect(try RawClient.get("/", port: port).status == 200)
        }
    }
}

/// A small deterministic generator so failures reproduce.
struct SplitMix {
    var state: UInt64
    init(seed: UInt64) { state = seed }
    mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }
}
