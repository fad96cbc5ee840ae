import RuntimeAPI
import Testing
@testable import RuntimeHTTP

@Suite("ResponseEncoder")
struct ResponseEncoderTests {
    func head(status: Int, headers: Headers, framing: ResponseEncoder.Framing, close: Bool = false) -> String {
        var out: [UInt8] = []
        ResponseEncoder.encodeHead(status: status, headers: headers, framing: framing, close: close,
                                   date: Array("Wed, 25 Nov 2026 18:00:00 GMT".utf8), into: &out)
        return String(decoding: out, as: UTF8.self)
    }

    @Test("writes the status line, the worker's headers, Date and the length")
    func basic() {
        let text = head(status: 200, headers: ["Content-Type": "text/plain"], framing: .length(1234567))
        #expect(text == "HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nDate: Wed, 25 Nov 2026 18:00:00 GMT\r\n"
            + "Content-Length: 1234567\r\n\r\n")
    }

    @Test("statuses other than 200 get their number and reason", arguments: [(404, "Not Found"), (503, "Service Unavailable"), (299, "Status 299")])
    func statusLine(status: Int, reason: String) {
        #expect(head(status: status, headers: [:], framing: .length(0)).hasPrefix("HTTP/1.1 \(status) \(reason)\r\n"))
    }

    @Test("framing headers set by the worker are replaced by the server's, in any letter case")
    func framingReplaced() {
        let headers: Headers = ["content-LENGTH": "5", "Transfer-Encoding": "gzip", "CONNECTION": "keep-alive",
                                "date": "yesterday", "X-Kept": "yes"]
        let text = head(status: 200, headers: headers, framing: .chunked, close: true)
        #expect(text == "HTTP/1.1 200 OK\r\nX-Kept: yes\r\nDate: Wed, 25 Nov 2026 18:00:00 GMT\r\n"
            + "Transfer-Encoding: chunked\r\nConnection: close\r\n\r\n")
    }

    @Test("a header with CR, LF or NUL is dropped (no response splitting)")
    func splitting() {
        let headers: Headers = ["X-Evil": "a\r\nSet-Cookie: x=1", "X-Nul": "a\u{0}b", "X-Ok": "fine"]
        let text = head(status: 200, headers: headers, framing: .length(0))
        #expect(!text.contains("Set-Cookie"))
        #expect(!text.contains("X-Nul"))
        #expect(text.contains("X-Ok: fine\r\n"))
    }

    @Test("decimal lengths", arguments: [0, 7, 10, 99, 100, 65536, 1 << 40])
    func decimals(value: Int) {
        var out: [UInt8] = []
        ResponseEncoder.appendDecimal(value, to: &out)
        #expect(String(decoding: out, as: UTF8.self) == String(value))
    }
}
