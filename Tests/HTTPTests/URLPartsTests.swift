import RuntimeAPI
import Testing

@Suite("URLParts")
struct URLPartsTests {
    @Test("splits path, query and host", arguments: [
        ("/", "example.com", "/", nil as String?, "example.com", nil as Int?),
        ("/a/b?x=1&y=2", "example.com:8787", "/a/b", "x=1&y=2", "example.com", 8787),
        ("/a#frag", "[::1]:9000", "/a", nil, "[::1]", 9000),
        ("/a?q#frag", "[::1]", "/a", "q", "[::1]", nil),
        ("/ünï?ç=1", "h", "/ünï", "ç=1", "h", nil),
    ])
    func split(target: String, host: String, path: String, query: String?, hostName: String, port: Int?) {
        let parts = URLParts(target: target, hostHeader: host)
        #expect(parts.path == path)
        #expect(parts.query == query)
        #expect(parts.host == hostName)
        #expect(parts.port == port)
    }

    @Test("decodes query items")
    func queryItems() {
        let parts = URLParts(target: "/s?name=a+b&x=%2F%zz&flag", hostHeader: nil)
        #expect(parts.queryItems.map(\.name) == ["name", "x", "flag"])
        #expect(parts.queryValue("name") == "a b")
        #expect(parts.queryValue("x") == "/%zz")
        #expect(parts.queryValue("flag") == "")
    }
}
