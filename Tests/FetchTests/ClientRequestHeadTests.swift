@testable import RuntimeHTTP
import RuntimeAPI
import Testing

/// The request head the client writes: owned headers replaced, injection refused.
@Suite("Client request head")
struct ClientRequestHeadTests {
    @Test("the head carries the request line, Host, the app's headers, User-Agent and Content-Length")
    func encodes() throws {
        let target = try FetchTarget("http://example.com:8080/p?q")
        let bytes = try ClientRequestHead.encode(method: "POST", target: target,
                                                 headers: ["Accept": "*/*", "Host": "x", "Transfer-Encoding": "chunked"],
                                                 bodyCount: 3)
        #expect(String(decoding: bytes, as: UTF8.self)
                == "POST /p?q HTTP/1.1\r\nHost: example.com:8080\r\nAccept: */*\r\nUser-Agent: runtime\r\nContent-Length: 3\r\n\r\n")
    }

    @Test("a method that is not a token, or a header that would split the head, is refused", arguments: [
        ("GE T", "X-A", "1"), ("GET", "X A", "1"), ("GET", "X-A", "a\r\nInjected: 1"), ("GET", "X-A", "a\nb"),
        ("GET", "", "v"), ("GET", "X-A", "nul\u{0}"),
    ])
    func refuses(method: String, name: String, value: String) throws {
        let target = try FetchTarget("http://example.com/")
        #expect(throws: FetchError.self) {
            try ClientRequestHead.encode(method: method, target: target, headers: Headers([(name, value)]), bodyCount: 0)
        }
    }
}
