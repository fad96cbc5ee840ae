import Testing

/// The opening handshake over real sockets: what the server refuses, with which status, and that it goes
/// on serving afterwards. The requests are written by hand and sent by the Python driver's plain socket.
@Suite("WebSocket handshake over real sockets", .serialized, .timeLimit(.minutes(1)))
struct WebSocketHandshakeTests {
    /// A bad upgrade request and the answer it must get.
    struct BadRequest: Sendable, CustomTestStringConvertible {
        let name: String
        var method = "GET"
        var httpVersion = "1.1"
        /// Replaces (or, with nil, removes) a header of the valid request.
        var replace: [String: String?] = [:]
        /// Added after the valid request's headers.
        var add: [(String, String)] = []
        let status: Int
        /// Part of the body (the handshake error's description).
        let mentions: String
        var testDescription: String { name }

        static let key = "dGhlIHNhbXBsZSBub25jZQ=="

        func request(path: String) -> String {
            var headers: [(String, String?)] = [
                ("Host", "127.0.0.1"), ("Upgrade", "websocket"), ("Connection", "Upgrade"),
                ("Sec-WebSocket-Key", Self.key), ("Sec-WebSocket-Version", "13"),
            ]
            headers = headers.map { name, value in (name, replace.keys.contains(name) ? replace[name]! : value) }
            var text = "\(method) \(path) HTTP/\(httpVersion)\r\n"
            for (name, value) in headers { if let value { text += "\(name): \(value)\r\n" } }
            for (name, value) in add { text += "\(name): \(value)\r\n" }
            if method != "GET" { text += "Content-Length: 0\r\n" }
            return text + "\r\n"
        }
    }

    static let badRequests: [BadRequest] = [
        BadRequest(name: "no Sec-WebSocket-Key", replace: ["Sec-WebSocket-Key": nil], status: 400,
                   mentions: "no Sec-WebSocket-Key"),
        BadRequest(name: "key that is not base64", replace: ["Sec-WebSocket-Key": "not base64!"], status: 400,
                   mentions: "is not base64 of 16 bytes"),
        BadRequest(name: "key of 15 bytes", replace: ["Sec-WebSocket-Key": "AAAAAAAAAAAAAAAAAAAA"], status: 400,
                   mentions: "is not base64 of 16 bytes"),
        BadRequest(name: "two keys", add: [("Sec-WebSocket-Key", "AAAAAAAAAAAAAAAAAAAAAA==")], status: 400,
                   mentions: "is not base64 of 16 bytes"),
        BadRequest(name: "no Sec-WebSocket-Version", replace: ["Sec-WebSocket-Version": nil], status: 426,
                   mentions: "no Sec-WebSocket-Version"),
        BadRequest(name: "version 8", replace: ["Sec-WebSocket-Version": "8"], status: 426, mentions: "\"8\""),
        BadRequest(name: "two versions", replace: ["Sec-WebSocket-Version": "13, 8"], status: 426, mentions: "only 13"),
        BadRequest(name: "POST", method: "POST", status: 400, mentions: "must be GET, not POST"),
        BadRequest(name: "HTTP/1.0", httpVersion: "1.0", status: 400, mentions: "needs HTTP/1.1"),
        BadRequest(name: "no Upgrade header", replace: ["Upgrade": nil], status: 400, mentions: "no Upgrade header"),
        BadRequest(name: "Upgrade to h2c", replace: ["Upgrade": "h2c"], status: 400, mentions: "does not name websocket"),
        BadRequest(name: "Connection without upgrade", replace: ["Connection": "keep-alive"], status: 400,
                   mentions: "lacks the upgrade option"),
        BadRequest(name: "subprotocol that is not a token", add: [("Sec-WebSocket-Protocol", "chat, a@b")],
                   status: 400, mentions: "not a token"),
        BadRequest(name: "extensions that break the grammar", add: [("Sec-WebSocket-Extensions", "permessage-deflate; =1")],
                   status: 400, mentions: "Sec-WebSocket-Extensions"),
    ]

    @Test("bad upgrade requests get 400 or 426 and the connection closes; the server serves on",
          arguments: ["/echo?tag=bad", "/room/handshake?user=u&seat=1"])
    func badRequests(path: String) async throws {
        try await withWebSocketServer { server, driver in
            for bad in Self.badRequests {
                let reply = try await driver.call("raw_http", ["request": bad.request(path: path)])
                #expect(reply.int("status") == bad.status, "\(bad.name): \(reply)")
                #expect(reply.string("body")?.contains(bad.mentions) == true, "\(bad.name): \(reply)")
                #expect(reply.headerValues("Connection").contains { $0.lowercased().contains("close") }, "\(bad.name): \(reply)")
                #expect(reply.bool("closed"), "\(bad.name): the server kept the connection open")
                if bad.status == 426 {
                    #expect(reply.header("Sec-WebSocket-Version") == "13", "\(bad.name): \(reply)")
                }
                #expect(reply.header("Sec-WebSocket-Accept") == nil, "\(bad.name): \(reply)")
                let hello = try await driver.call("raw_http", ["request": "GET /hello HTTP/1.1\r\nHost: x\r\n\r\n",
                                                              "close_timeout": 0])
                #expect(hello.int("status") == 200 && hello.string("body") == "hello\n", "after \(bad.name): \(hello)")
            }
            // Nothing of the refused sockets is left behind: not in the object's registry, not on the loops.
            #expect(await eventually { await server.server.objects.openWebSockets() == 0 })
            #expect(await eventually { await server.server.openWebSockets() == 0 })
            // A good handshake still works, on the same path.
            let opened = try await driver.call("connect", ["id": "good", "path": path])
            #expect(opened.int("status") == 101)
            try await driver.call("send", ["id": "good", "text": "still here"])
            let echoed = try await driver.call("recv", ["id": "good"])
            #expect(echoed.string("text") == "still here")
        }
    }

    @Test("a valid handshake by hand: 101 with the right Sec-WebSocket-Accept, worker headers kept")
    func validByHand() async throws {
        try await withWebSocketServer { _, driver in
            let reply = try await driver.call("raw_open", ["id": "a", "path": "/echo"])
            #expect(reply.int("status") == 101)
            #expect(reply.bool("accept_ok"), "Sec-WebSocket-Accept is not SHA-1(key + GUID): \(reply)")
            #expect(reply.header("Upgrade")?.lowercased() == "websocket")
            #expect(reply.header("Connection")?.lowercased() == "upgrade")
            #expect(reply.header("X-Echo") == "yes", "a header the worker set on the 101 was dropped: \(reply)")
            #expect(reply.header("Content-Length") == nil && reply.header("Transfer-Encoding") == nil)
            try await driver.call("raw_send", ["id": "a", "frames": [TestFrame.text("by hand")].json])
            let frame = try await driver.call("raw_recv", ["id": "a"])
            #expect(frame.int("opcode") == 1 && frame.string("text") == "by hand" && frame.bool("fin"))
            #expect(!frame.bool("masked"), "a server frame must not be masked")
        }
    }

    @Test("a worker that returns a WebSocket it did not accept, or the server end, gets a 500")
    func unaccepted() async throws {
        try await withWebSocketServer { server, driver in
            for path in ["/unaccepted", "/server-end"] {
                let reply = try await driver.call("raw_open", ["id": path, "path": path])
                #expect(reply.int("status") == 500, "\(path): \(reply)")
                #expect(reply.header("Sec-WebSocket-Accept") == nil, "\(path): \(reply)")
                let library = try await driver.attempt("connect", ["id": "lib" + path, "path": path])
                #expect(!library.ok && library.error?.contains("500") == true, "\(path): \(library)")
            }
            #expect(await server.server.openWebSockets() == 0)
            let hello = try await driver.call("raw_http", ["request": "GET /hello HTTP/1.1\r\nHost: x\r\n\r\n",
                                                          "close_timeout": 0])
            #expect(hello.int("status") == 200)
        }
    }
}
