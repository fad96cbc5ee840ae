import Testing
@testable import RuntimeDeploy

@Suite("App manifests")
struct ManifestTests {
    static let full = """
        {
          // the chat app
          "name": "chat",
          "main": "ChatWorker",
          "routes": ["/chat/*", "chat.example.com/*", "/health",],   /* trailing comma allowed */
          "vars": { "GREETING": "hello // not a comment", "URL": "http://x/*y*/" },
          "secrets": ["API_KEY"],
          "durable_objects": [{ "binding": "ROOM", "class_name": "ChatRoom" }],
          "sql_databases": [{ "binding": "INDEX" }],
          "kv_namespaces": [{ "binding": "CACHE" }],
          "services": [{ "binding": "AUTH", "service": "auth" }],
          "compatibility_date": "2026-11-01",
        }
        """

    @Test("a full manifest parses, comments and trailing commas included, strings left intact")
    func parsesFull() throws {
        let manifest = try AppManifest.parse(Self.full)
        #expect(manifest.name == "chat")
        #expect(manifest.main == "ChatWorker")
        #expect(manifest.routes.map(\.description) == ["/chat/*", "chat.example.com/*", "/health"])
        #expect(manifest.vars == ["GREETING": "hello // not a comment", "URL": "http://x/*y*/"])
        #expect(manifest.secrets == ["API_KEY"])
        #expect(manifest.durableObjects == [.init(binding: "ROOM", className: "ChatRoom")])
        #expect(manifest.sqlDatabases == ["INDEX"])
        #expect(manifest.kvNamespaces == ["CACHE"])
        #expect(manifest.services == [.init(binding: "AUTH", service: "auth")])
        #expect(manifest.compatibilityDate == "2026-11-01")
    }

    @Test("bad manifests are refused with an error naming the field and the problem", arguments: [
        ("{", "not valid JSON"),
        ("[]", "top level must be an object"),
        (#"{"main": "W"}"#, #""name" is required"#),
        (#"{"name": "chat"}"#, #""main" is required"#),
        (#"{"name": "Chat", "main": "W"}"#, #""name": use 1 to 63 lowercase"#),
        (#"{"name": "chat", "main": "W", "rutes": []}"#, #"unknown field "rutes""#),
        (#"{"name": "chat", "main": "W", "routes": "/x"}"#, #""routes" must be an array of strings"#),
        (#"{"name": "chat", "main": "W", "routes": ["/api/*x"]}"#, #"route "/api/*x": a wildcard must end the pattern"#),
        (#"{"name": "chat", "main": "W", "routes": ["https://x/"]}"#, "leave out the scheme"),
        (#"{"name": "chat", "main": "W", "vars": {"A": 1}}"#, #""vars.A" must be a string"#),
        (#"{"name": "chat", "main": "W", "vars": {"1A": "x"}}"#, #""vars": "1A": use letters"#),
        (#"{"name": "chat", "main": "W", "durable_objects": [{"binding": "R"}]}"#, #""durable_objects[0].class_name" is required"#),
        (#"{"name": "chat", "main": "W", "durable_objects": [{"binding": "R", "class_name": "a-b"}]}"#, "is not a Swift type name"),
        (#"{"name": "chat", "main": "W", "services": [{"binding": "S", "service": "Nope"}]}"#, "is not an app name"),
        (#"{"name": "chat", "main": "W", "vars": {"X": "1"}, "kv_namespaces": [{"binding": "X"}]}"#,
         #"binding name "X" is used more than once (in vars and kv_namespaces)"#),
        (#"{"name": "chat", "main": "W" /* open"#, "comment never closed"),
        (#"{"name": "chat", "main": "W", "shared_sources": "../Shared"}"#, #""shared_sources" must be an array of folder paths"#),
        (#"{"name": "chat", "main": "W", "shared_sources": ["/etc"]}"#, "must be relative to the app's folder"),
    ])
    func refuses(_ text: String, _ expected: String) {
        do {
            _ = try AppManifest.parse(text)
            Issue.record("accepted: \(text)")
        } catch {
            #expect(error.description.contains(expected), "\(error)")
        }
    }

    @Test("shared_sources are kept; --var overrides replace and add vars with the manifest's checks")
    func sharedSourcesAndVarOverrides() throws {
        var manifest = try AppManifest.parse(#"{"name": "chat", "main": "W", "vars": {"A": "1"}, "secrets": ["S"], "shared_sources": ["../Shared"]}"#)
        #expect(manifest.sharedSources == ["../Shared"])
        try manifest.overrideVars(["A": "2", "B": "3"])
        #expect(manifest.vars == ["A": "2", "B": "3"])
        #expect(throws: ManifestError.self) { try manifest.overrideVars(["S": "clash with a secret"]) }
        #expect(throws: ManifestError.self) { try manifest.overrideVars(["1bad": "x"]) }
        #expect(throws: ManifestError.self) {
            try manifest.overrideVars(["BIG": String(repeating: "x", count: AppManifest.Limits.maxVarValueBytes + 1)])
        }
    }

    @Test("routes match by host and path; the most specific wins")
    func routes() throws {
        let any = try RoutePattern("*")
        let api = try RoutePattern("/api/*")
        let exact = try RoutePattern("/api/health")
        let hosted = try RoutePattern("chat.example.com/*")
        let subdomains = try RoutePattern("*.example.com/*")
        #expect(any.matches(host: "x", path: "/anything"))
        #expect(api.matches(host: "x", path: "/api/v1"))
        #expect(!api.matches(host: "x", path: "/apix"))
        #expect(api.matches(host: "x", path: "/api/"))
        #expect(exact.matches(host: "x", path: "/api/health"))
        #expect(!exact.matches(host: "x", path: "/api/health/x"))
        #expect(hosted.matches(host: "chat.example.com", path: "/"))
        #expect(!hosted.matches(host: "example.com", path: "/"))
        #expect(subdomains.matches(host: "a.example.com", path: "/x"))
        #expect(!subdomains.matches(host: "example.com", path: "/x"))
        let ranked = [any, api, exact, hosted].sorted { $0.specificity > $1.specificity }
        #expect(ranked == [hosted, exact, api, any])
    }
}
