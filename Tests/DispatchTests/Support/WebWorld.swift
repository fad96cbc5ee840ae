import Foundation

/// The control plane with the web app deployed beside it, the web app signing in through a local fake
/// of GitHub's OAuth flow (Tests/Python/fake_github_oauth.py), or through the development sign-in when
/// `oauth` is false. `browser` acts like one browser: it keeps the cookies it is given.
final class WebWorld: @unchecked Sendable {
    let control: ControlPlaneWorld
    let oauth: FakeService?
    let clientID = "Iv1.test-client"
    let clientSecret = "secret-" + UUID().uuidString
    var runtime: RuntimeWorld { control.runtime }

    init(oauth useOAuth: Bool = true, webVars: [String: String] = [:], controlPlaneVars: [String: String] = [:],
         controlPlaneSecrets: [String: String] = [:], withProvider providerVars: [String: String]? = nil) throws {
        control = try ControlPlaneWorld(controlPlaneVars: controlPlaneVars, controlPlaneSecrets: controlPlaneSecrets,
                                        withProvider: providerVars)
        var vars = webVars
        if useOAuth {
            let fake = try FakeService(script: "fake_github_oauth.py", arguments: [clientID, clientSecret])
            oauth = fake
            vars["GITHUB_URL"] = vars["GITHUB_URL"] ?? fake.baseURL
            vars["GITHUB_API_URL"] = vars["GITHUB_API_URL"] ?? fake.baseURL
            try control.runtime.putSecret("web", "GITHUB_CLIENT_ID", clientID)
            try control.runtime.putSecret("web", "GITHUB_CLIENT_SECRET", clientSecret)
        } else {
            oauth = nil
        }
        try control.runtime.putSecret("web", "INTERNAL_CALLBACK_SECRET", control.internalSecret)
        try control.runtime.deploy(RuntimeWorld.repoRoot() + "/Apps/Web", vars: vars)
    }

    func stop() {
        control.stop()
        oauth?.stop()
    }

    var baseURL: String { runtime.baseURL }

    /// A fresh cookie jar.
    func browser() -> TestBrowser { TestBrowser(runtime: runtime) }
}

/// One browser's worth of HTTP: a cookie jar, no redirects followed (tests look at each hop).
final class TestBrowser: @unchecked Sendable {
    let runtime: RuntimeWorld
    private(set) var cookies: [String: String] = [:]
    private let lock = NSLock()

    init(runtime: RuntimeWorld) { self.runtime = runtime }

    /// Each `Set-Cookie` of a response (the test client joins repeated fields with ", ", and our
    /// cookies carry no Expires date, so ", " separates them).
    static func setCookies(_ response: TestHTTPResponse) -> [String] {
        (response.header("set-cookie") ?? "").components(separatedBy: ", ").filter { !$0.isEmpty }
    }

    func request(_ method: String, _ path: String, form: [String: String]? = nil, headers: [String: String] = [:])
        async throws -> TestHTTPResponse {
        var headers = headers
        let jar = lock.withLock { cookies }
        if !jar.isEmpty, headers["Cookie"] == nil {
            headers["Cookie"] = jar.sorted { $0.key < $1.key }.map { "\($0.key)=\($0.value)" }.joined(separator: "; ")
        }
        var body: [UInt8] = []
        if let form {
            headers["Content-Type"] = "application/x-www-form-urlencoded"
            body = Array(TestBrowser.encode(form).utf8)
        }
        let response = try await runtime.request(method, path, headers: headers, body: body)
        lock.withLock {
            for cookie in Self.setCookies(response) {
                let pair = cookie.split(separator: ";")[0]
                guard let equals = pair.firstIndex(of: "=") else { continue }
                let name = String(pair[..<equals]), value = String(pair[pair.index(after: equals)...])
                if value.isEmpty || cookie.contains("Max-Age=0") { cookies[name] = nil } else { cookies[name] = value }
            }
        }
        return response
    }

    func setCookie(_ name: String, _ value: String?) { lock.withLock { cookies[name] = value } }

    static func encode(_ form: [String: String]) -> String {
        var allowed = CharacterSet.alphanumerics
        allowed.insert(charactersIn: "-._~")
        return form.sorted { $0.key < $1.key }.map { key, value in
            key.addingPercentEncoding(withAllowedCharacters: allowed)! + "=" + value.addingPercentEncoding(withAllowedCharacters: allowed)!
        }.joined(separator: "&")
    }

    /// The first `name="field" value="..."` in a page.
    static func field(_ name: String, in html: String) -> String? {
        guard let range = html.range(of: "name=\"\(name)\" value=\"") else { return nil }
        return String(html[range.upperBound...].prefix { $0 != "\"" })
    }

    /// The page's CSRF token (its `<meta name="csrf-token">`).
    static func csrf(in html: String) -> String? {
        guard let range = html.range(of: "<meta name=\"csrf-token\" content=\"") else { return nil }
        let token = String(html[range.upperBound...].prefix { $0 != "\"" })
        return token.isEmpty ? nil : token
    }

    /// Signs in through the fake GitHub: /auth/github, the consent form, the callback. Returns the
    /// callback's response (a 303 home, or to /access-denied).
    func signInWithGitHub(_ world: WebWorld, login: String, email: String? = nil, organizations: [String] = [])
        async throws -> TestHTTPResponse {
        let start = try await request("GET", "/auth/github?next=%2Fsessions")
        guard start.status == 302, let authorize = start.header("location"), let oauth = world.oauth else {
            throw RuntimeWorld.Failure(description: "/auth/github: \(start.status) \(start.text)")
        }
        // The consent page's form, submitted to the fake GitHub itself.
        let query = URLComponents(string: authorize)!.queryItems!.reduce(into: [String: String]()) { $0[$1.name] = $1.value }
        var consent = ["login": login, "client_id": query["client_id"] ?? "", "redirect_uri": query["redirect_uri"] ?? "",
                       "state": query["state"] ?? "", "scope": query["scope"] ?? ""]
        if let email { consent["email"] = email }
        if !organizations.isEmpty { consent["orgs"] = organizations.joined(separator: ",") }
        let granted = try await FakeHTTP.post(oauth.port, "/login/oauth/authorize", form: consent)
        guard granted.status == 302, let callback = granted.header("location"),
              let path = URLComponents(string: callback).map({ $0.path + "?" + ($0.percentEncodedQuery ?? "") }) else {
            throw RuntimeWorld.Failure(description: "fake consent: \(granted.status) \(granted.text)")
        }
        return try await request("GET", path)
    }

    /// Signs in with the development form (no OAuth app configured).
    func signInForDevelopment(login: String, name: String? = nil) async throws -> TestHTTPResponse {
        let page = try await request("GET", "/sign-in")
        guard let state = Self.field("state", in: page.text) else {
            throw RuntimeWorld.Failure(description: "no development sign-in form: \(page.status) \(page.text.prefix(300))")
        }
        var form = ["state": state, "login": login]
        if let name { form["name"] = name }
        return try await request("POST", "/auth/dev", form: form)
    }
}

/// Plain requests to the fake services.
enum FakeHTTP {
    static func post(_ port: UInt16, _ path: String, form: [String: String]) async throws -> TestHTTPResponse {
        try await offPool {
            try TestHTTPClient.exchange(port: port, method: "POST", path: path,
                                        headers: ["Content-Type": "application/x-www-form-urlencoded"],
                                        body: Array(TestBrowser.encode(form).utf8), timeoutSeconds: 10)
        }
    }

    static func get(_ port: UInt16, _ path: String) async throws -> TestHTTPResponse {
        try await offPool { try TestHTTPClient.exchange(port: port, method: "GET", path: path, headers: [:], body: [], timeoutSeconds: 10) }
    }
}
