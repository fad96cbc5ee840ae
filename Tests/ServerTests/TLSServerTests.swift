import ExamplesApp
import Foundation
import Testing
import RuntimeAPI
import RuntimeHTTP
import RuntimeServer
import RuntimeTLS
#if canImport(Glibc)
import Glibc
#endif

/// https and wss end to end: our TLS listener against curl and Python's `ssl` / `websockets` (clients
/// written apart from our TLS code), certificates made per test in a temporary directory.
@Suite("TLS serving")
struct TLSServerTests {
    @Test("curl --cacert gets the hello page over https, with ALPN http/1.1")
    func curl() async throws {
        try await withTLSServer { fixture in
            let result = try runTool("/usr/bin/curl", ["-sS", "-v", "--cacert", fixture.certificates.ca,
                                                       "--resolve", "localhost:\(fixture.port):127.0.0.1",
                                                       "https://localhost:\(fixture.port)/"])
            #expect(result.status == 0, "\(result.errors)")
            #expect(result.output == "Hello from the runtime!\n")
            #expect(result.errors.contains("ALPN: server accepted http/1.1"), "\(result.errors)")
            #expect(result.errors.contains("SSL certificate verify ok"), "\(result.errors)")
        }
    }

    @Test("TLS 1.2 is served, TLS 1.1 is refused, and a 1.2 client asking to renegotiate is refused")
    func versionsAndRenegotiation() async throws {
        try await withTLSServer { fixture in
            let port = fixture.port
            let ca = fixture.certificates.ca
            let twelve = try runTool("/usr/bin/curl", ["-sS", "-v", "--tlsv1.2", "--tls-max", "1.2", "--cacert", ca,
                                                       "--resolve", "localhost:\(port):127.0.0.1",
                                                       "https://localhost:\(port)/"])
            #expect(twelve.output == "Hello from the runtime!\n", "\(twelve.errors)")
            #expect(twelve.errors.contains("SSL connection using TLSv1.2"), "\(twelve.errors)")
            let eleven = try runTool("/bin/sh", ["-c", "printf '' | openssl s_client -connect 127.0.0.1:\(port) -tls1_1 2>&1"])
            #expect(eleven.output.contains("alert protocol version") || eleven.output.contains("no protocols available"),
                    "\(eleven.output)")
            // s_client's "R" asks to renegotiate; the request after it must not be answered over a
            // renegotiated session.
            let script = "(printf 'R\\n'; sleep 1; printf 'GET / HTTP/1.1\\r\\nHost: localhost\\r\\n\\r\\n'; sleep 1) | "
                + "openssl s_client -connect 127.0.0.1:\(port) -tls1_2 -CAfile \(ca) -servername localhost 2>&1"
            let renegotiation = try runTool("/bin/sh", ["-c", script])
            #expect(renegotiation.output.contains("RENEGOTIATING"), "\(renegotiation.output)")
            #expect(renegotiation.output.contains("no renegotiation"), "\(renegotiation.output)")
            #expect(try fixture.python("get", "/").int("status") == 200)
        }
    }

    @Test("Python's ssl: TLS 1.3, ALPN http/1.1, and the worker sees the https scheme")
    func pythonGet() async throws {
        try await withTLSServer(worker: SchemeWorker()) { fixture in
            let reply = try fixture.python("get", "/where?x=1")
            #expect(reply.int("status") == 200, "\(reply)")
            #expect(reply.string("body") == "https localhost /where", "\(reply)")
            #expect(reply.string("alpn") == "http/1.1")
            #expect(reply.string("version") == "TLSv1.3")
        }
    }

    @Test("a 1 MiB body goes through TLS and back intact")
    func bigBody() async throws {
        try await withTLSServer { fixture in
            let reply = try fixture.python("echo", String(1 << 20))
            #expect(reply.int("status") == 200, "\(reply)")
            #expect(reply.int("length") == 1 << 20)
            #expect(reply.bool("same"), "\(reply)")
        }
    }

    @Test("pipelined requests in one TLS write are answered in order")
    func pipelined() async throws {
        try await withTLSServer { fixture in
            let reply = try fixture.python("pipeline", "7")
            #expect(reply.ints("statuses") == Array(repeating: 200, count: 7), "\(reply)")
            let expected = (0..<7).map { $0 % 2 == 0 ? "Hello from the runtime!\n" : "body \($0)" }
            #expect(reply.strings("bodies") == expected, "\(reply)")
        }
    }

    @Test("a WebSocket over wss:// (Python websockets) echoes")
    func webSocket() async throws {
        try await withTLSServer(app: BuiltinApp.make()) { fixture in
            let reply = try fixture.python("wss", "/ws/echo", "hello over TLS")
            #expect(reply.string("reply") == "hello over TLS", "\(reply)")
            #expect(reply.string("alpn") == "http/1.1")
        }
    }

    @Test("wss sockets whose object lives on the other loop move there with their TLS session")
    func webSocketCrossLoop() async throws {
        let app = App(worker: WebSocketTestWorker(log: SocketEventLog()), objectClasses: ["ROOM": WebSocketTestRoom.self])
        try await withTLSServer(threads: 2, app: app) { fixture in
            var crossed = 0
            var local = 0
            var room = 0
            while room < 48 && (crossed < 2 || local < 1) {
                let reply = try fixture.python("wss", "/room/tls\(room)?user=u&seat=\(room)", "/where")
                let text = reply.string("reply") ?? ""
                let threads = text.split(separator: " ").map { $0.split(separator: "=").last.map(String.init) ?? "" }
                #expect(threads.count == 2 && !threads[0].isEmpty, "\(reply)")
                if threads.count == 2, threads[0] != threads[1] { crossed += 1 } else { local += 1 }
                room += 1
            }
            #expect(crossed >= 2, "only \(crossed) of \(room) sockets crossed loops")
        }
    }

    @Test("WebSocket.connect to wss:// verifies the server with the configured CA, and refuses without it")
    func outboundWebSocket() async throws {
        let certificates = try ServerTestCertificates.make()
        defer { certificates.remove() }
        let config = ServerConfig(listen: "127.0.0.1:0", threads: 2, stateDirectory: certificates.directory + "/state",
                                  accessLog: false, shutdownGrace: .seconds(2), tls: certificates.serverConfig,
                                  outboundTLS: TLSClientConfig(trustSystemRoots: false, caFile: certificates.ca))
        let server = try Server(config: config, app: BuiltinApp.make())
        try await server.whileRunning {
            let port = server.address.port
            let socket = try await server.connect("wss://localhost:\(port)/ws/echo")
            socket.send("through our own TLS client")
            var events = socket.events.makeAsyncIterator()
            #expect(await events.next() == .message(.text("through our own TLS client")))
            try socket.close(code: 1000, reason: "done")
            #expect(await events.next() == .close(code: 1000, reason: "done", wasClean: true))
            for (url, mentions) in [("wss://wrong.example:\(port)/ws/echo", "cannot resolve"),
                                    ("wss://127.0.0.2:\(port)/ws/echo", "refused")] {
                do {
                    _ = try await server.connect(url)
                    Issue.record("\(url) connected")
                } catch {
                    #expect("\(error)".contains(mentions) || "\(error)".contains("resolve"), "\(url): \(error)")
                }
            }
        }
        // A client that trusts only the system store refuses the private CA's certificate, and says why.
        let strict = ServerConfig(listen: "127.0.0.1:0", threads: 1, stateDirectory: certificates.directory + "/strict",
                                  accessLog: false, shutdownGrace: .seconds(2), tls: certificates.serverConfig)
        let other = try Server(config: strict, app: BuiltinApp.make())
        try await other.whileRunning {
            do {
                _ = try await other.connect("wss://localhost:\(other.address.port)/ws/echo")
                Issue.record("a certificate from an untrusted CA was accepted")
            } catch {
                #expect("\(error)".contains("certificate verify failed"), "\(error)")
            }
        }
    }

    @Test("plain HTTP to the TLS port gets a 400 that says so; TLS keeps working")
    func plainToTLS() async throws {
        try await withTLSServer { fixture in
            let reply = try fixture.python("plain")
            let text = reply.string("text") ?? ""
            #expect(text.hasPrefix("HTTP/1.1 400 Bad Request\r\n"), "\(reply)")
            #expect(text.contains("This port speaks HTTPS"), "\(reply)")
            #expect(try fixture.python("get", "/").int("status") == 200)
        }
    }

    @Test("TLS to a plain port fails at once with the reason; the plain server keeps serving")
    func tlsToPlain() async throws {
        try await withServer { _, port in
            let certificates = try ServerTestCertificates.make()
            defer { certificates.remove() }
            let reply = try runPythonTLSClient(["tls-to-plain", String(port), certificates.ca])
            #expect(reply.string("error")?.contains("wrong version number") == true, "\(reply)")
            #expect((reply.fields["seconds"] as? Double ?? 99) < 5, "\(reply)")
            #expect(try RawClient.get("/", port: port).status == 200)
        }
    }

    @Test("graceful shutdown: an in-flight request over TLS finishes, idle TLS connections close")
    func shutdown() async throws {
        try await offPool {
            let certificates = try ServerTestCertificates.make()
            defer { certificates.remove() }
            let directory = NSTemporaryDirectory() + "tls-shutdown-" + UUID().uuidString
            defer { try? FileManager.default.removeItem(atPath: directory) }
            let config = ServerConfig(listen: "127.0.0.1:0", threads: 1, stateDirectory: directory, accessLog: false,
                                      shutdownGrace: .seconds(5), tls: certificates.serverConfig)
            let server = try Server(config: config, worker: HelloWorker())
            let probe = try PythonLines(["shutdown-probe", String(server.address.port), certificates.ca])
            defer { probe.stop() }
            let ready = try probe.next()
            #expect(ready.bool("ready"), "\(ready)")
            let started = Date()
            server.shutdown()
            let took = Date().timeIntervalSince(started)
            let result = try probe.next()
            #expect(result.int("status") == 200, "\(result)")
            #expect(result.string("body") == "slept 1500 ms\n")
            #expect(result.string("connection") == "close")
            #expect(result.bool("idle_closed"), "\(result)")
            #expect(took < 4.5, "shutdown took \(took) s: it waited out the grace period")
        }
    }

    @Test("runtime serve --tls-cert --tls-key serves https, prints an https URL, exits 0 on SIGTERM")
    func process() async throws {
        try await offPool {
            let certificates = try ServerTestCertificates.make()
            defer { certificates.remove() }
            let process = Process()
            process.executableURL = URL(fileURLWithPath: try RuntimeBinary.path())
            process.arguments = ["serve", "--listen", "127.0.0.1:0", "--threads", "1", "--no-access-log",
                                 "--state-dir", certificates.directory + "/state",
                                 "--tls-cert", certificates.chain, "--tls-key", certificates.serverKey]
            let output = Pipe()
            process.standardOutput = output
            try process.run()
            defer { if process.isRunning { process.terminate() } }
            let line = try readLine(output, timeout: 20)
            guard let range = line.range(of: "\"url\":\"https://127.0.0.1:"),
                  let port = UInt16(line[range.upperBound...].prefix { $0.isNumber }) else {
                Issue.record("no https listening line: \(line)")
                return
            }
            let reply = try runPythonTLSClient(["get", String(port), certificates.ca, "/"])
            #expect(reply.string("body") == "Hello from the runtime!\n", "\(reply)")
            kill(process.processIdentifier, SIGTERM)
            process.waitUntilExit()
            #expect(process.terminationStatus == 0)
        }
    }

    @Test("runtime serve with a key that is not the certificate's refuses to start, naming both files")
    func processBadKey() async throws {
        try await offPool {
            let certificates = try ServerTestCertificates.make()
            defer { certificates.remove() }
            let result = try runTool(try RuntimeBinary.path(), [
                "serve", "--listen", "127.0.0.1:0", "--state-dir", certificates.directory + "/state",
                "--tls-cert", certificates.chain, "--tls-key", certificates.directory + "/other.key"])
            #expect(result.status != 0)
            #expect(result.errors.contains("other.key") && result.errors.contains("chain.pem")
                        && result.errors.contains("does not belong"), "\(result.errors)")
        }
    }
}

/// Answers with the scheme, host and path the worker sees.
struct SchemeWorker: Worker {
    func fetch(_ request: Request, env: Env, ctx: ExecutionContext) async throws -> Response {
        Response(text: "\(request.url.scheme) \(request.url.host) \(request.url.path)")
    }
}
