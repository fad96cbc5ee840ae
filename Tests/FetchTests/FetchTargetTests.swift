@testable import RuntimeHTTP
import RuntimeAPI
import Testing

/// URL parsing and `Location` resolution (RFC 3986 §5.2), table-driven.
@Suite("Fetch targets")
struct FetchTargetTests {
    @Test("absolute URLs split into origin and request target", arguments: [
        ("http://example.com", "http://example.com/", "example.com", 80),
        ("https://Example.COM:8443/a/b?x=1#frag", "https://example.com:8443/a/b?x=1", "example.com", 8443),
        ("http://127.0.0.1:8080?q", "http://127.0.0.1:8080/?q", "127.0.0.1", 8080),
        ("http://[::1]:9000/p", "http://[::1]:9000/p", "::1", 9000),
        ("https://h/a/./b/../c", "https://h/a/c", "h", 443),
        ("http://h/a b/ü", "http://h/a%20b/%C3%BC", "h", 80),
        ("  http://h/x  ", "http://h/x", "h", 80),
        ("HTTP://h:80/", "http://h/", "h", 80),
    ])
    func parses(url: String, normal: String, host: String, port: Int) throws {
        let target = try FetchTarget(url)
        #expect(target.url == normal)
        #expect(target.origin.host == host)
        #expect(Int(target.origin.port) == port)
    }

    @Test("bad URLs are refused with the reason", arguments: [
        ("example.com/x", "no scheme"),
        ("http:/x", "\"//\""),
        ("http://", "no host"),
        ("http://user:pw@h/", "credentials"),
        ("http://h:0/", "port"),
        ("http://h:70000/", "port"),
        ("http://h:8a/", "port"),
        ("http://[::1/", "]"),
        ("http://bücher.de/", "punycode"),
        ("http://a b/", "not a valid host"),
    ])
    func refuses(url: String, mentions: String) {
        do {
            _ = try FetchTarget(url)
            Issue.record("\(url) parsed")
        } catch {
            guard case .invalidURL = error else { Issue.record("\(url): \(error)"); return }
            #expect(error.description.contains(mentions), "\(url): \(error)")
        }
    }

    @Test("schemes other than http and https are unsupported", arguments: ["ftp://h/", "ws://h/", "file:///etc/passwd"])
    func unsupported(url: String) {
        do {
            _ = try FetchTarget(url)
            Issue.record("\(url) parsed")
        } catch {
            guard case .unsupportedScheme = error else { Issue.record("\(url): \(error)"); return }
        }
    }

    @Test("Location references resolve against the current URL", arguments: [
        ("https://other.example/x", "https://other.example/x"),
        ("//cdn.example/y", "http://cdn.example/y"),
        ("/abs?q=1", "http://h:81/abs?q=1"),
        ("rel", "http://h:81/a/b/rel"),
        ("../up", "http://h:81/a/up"),
        ("../../../../top", "http://h:81/top"),
        ("./same/", "http://h:81/a/b/same/"),
        ("?only", "http://h:81/a/b/c?only"),
        ("#frag", "http://h:81/a/b/c?x"),
        ("", "http://h:81/a/b/c?x"),
    ])
    func resolves(location: String, expected: String) throws {
        let base = try FetchTarget("http://h:81/a/b/c?x")
        #expect(try base.resolving(location).url == expected)
    }
}
