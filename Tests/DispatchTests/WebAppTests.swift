import Foundation
import Testing

/// The web app's server routes without a browser (issue: cookie flags, CSRF, unauthenticated
/// access), against the real runtime with the control plane and the web app deployed and a local
/// fake of GitHub's OAuth flow.
@Suite("Web app routes", .serialized, .timeLimit(.minutes(8)))
struct WebAppTests {
    @Test("OAuth sign-in sets an HttpOnly SameSite=Lax cookie whose token and GitHub token are not stored in the clear; sign-out ends it")
    func oauthSignInAndCookies() async throws {
        let world = try await offPool { try WebWorld(webVars: ["ALLOWED_USERS": "alice"]) }
        defer { world.stop() }
        let browser = world.browser()

        // Signed out: pages redirect to sign-in with the way back; the sign-in page offers GitHub only.
        let home = try await browser.request("GET", "/sessions")
        #expect(home.status == 303)
        #expect(home.header("location") == "/sign-in?next=%2Fsessions")
        let signInPage = try await browser.request("GET", "/sign-in")
        #expect(signInPage.text.contains("Sign in with GitHub"))
        #expect(!signInPage.text.contains("/auth/dev"))

        let start = try await browser.request("GET", "/auth/github?next=%2Fsessions")
        let authorize = try #require(start.header("location"))
        #expect(authorize.hasPrefix(world.oauth!.baseURL + "/login/oauth/authorize?client_id=Iv1.test-client"))
        #expect(authorize.contains("scope=read%3Auser%20user%3Aemail%20repo"))
        let signedIn = try await browser.signInWithGitHub(world, login: "alice")
        #expect(signedIn.status == 303)
        #expect(signedIn.header("location") == "/sessions")
        let cookie = try #require(TestBrowser.setCookies(signedIn).first { $0.hasPrefix("dispatch_session=") })
        #expect(cookie.contains("; HttpOnly"))
        #expect(cookie.contains("; SameSite=Lax"))
        #expect(cookie.contains("; Path=/"))
        #expect(!cookie.contains("Secure"), "plain HTTP without an https PUBLIC_URL: no Secure flag")
        let list = try await browser.request("GET", "/sessions")
        #expect(list.status == 200)
        #expect(list.text.contains("Alice"))

        // The OAuth exchange went to the fake with the right redirect URI, and the user token it issued
        // is nowhere in the runtime's state directory (sealed), nor is the cookie's token (hashed).
        let calls = try await FakeHTTP.get(world.oauth!.port, "/_calls")
        let exchange = try #require((calls.json as? [[String: Any]])?.first { $0["path"] as? String == "/login/oauth/access_token" })
        #expect((exchange["form"] as? [String: String])?["redirect_uri"] == world.baseURL + "/auth/callback/github")
        let sessionToken = try #require(browser.cookies["dispatch_session"])
        let stored = try Self.stateBytes(world.runtime.stateDirectory)
        #expect(stored.contains("dev:") || stored.contains("github:"), "the scan reads the auth database (a user id is in it)")
        #expect(!stored.contains(sessionToken), "the session token is stored only hashed")
        #expect(!stored.contains("gho_"), "the GitHub token is stored only sealed")

        // Sign-out needs the CSRF token, then the cookie no longer signs anyone in.
        let csrf = try #require(TestBrowser.csrf(in: list.text))
        let refused = try await browser.request("POST", "/auth/sign-out", form: [:])
        #expect(refused.status == 403)
        let out = try await browser.request("POST", "/auth/sign-out", form: ["_csrf": csrf])
        #expect(out.status == 303)
        #expect(TestBrowser.setCookies(out).contains { $0.hasPrefix("dispatch_session=;") && $0.contains("Max-Age=0") })
        let replayed = try await browser.request("GET", "/sessions", headers: ["Cookie": "dispatch_session=" + sessionToken])
        #expect(replayed.status == 303, "a signed-out token is dead even if the browser kept it")
    }

    @Test("the OAuth callback refuses a state from another browser, a reused state and a bad code; the allowlist is checked at every sign-in; ALLOWED_ORGS admits members of a listed organization")
    func oauthRefusalsAndAllowlist() async throws {
        let world = try await offPool { try WebWorld(webVars: ["ALLOWED_USERS": "alice", "ALLOWED_EMAIL_DOMAINS": "example.org"]) }
        defer { world.stop() }

        // A callback whose state is not this browser's sign-in cookie (login CSRF) is refused.
        let victim = world.browser()
        let attacker = world.browser()
        let started = try await attacker.request("GET", "/auth/github")
        let state = try #require(URLComponents(string: started.header("location")!)?.queryItems?.first { $0.name == "state" }?.value)
        let forged = try await victim.request("GET", "/auth/callback/github?code=whatever&state=" + state)
        #expect(forged.status == 400)
        #expect(forged.text.contains("not started in this browser"))
        #expect(victim.cookies["dispatch_session"] == nil)

        // A wrong code is refused by GitHub and reported; the state is spent either way.
        let bad = try await attacker.request("GET", "/auth/callback/github?code=not-a-code&state=" + state)
        #expect(bad.status == 502)
        #expect(bad.text.contains("refused the sign-in code"))
        attacker.setCookie("dispatch_sign_in", state)
        let reused = try await attacker.request("GET", "/auth/callback/github?code=x&state=" + state)
        #expect(reused.status == 400)
        #expect(reused.text.contains("expired or was already used"))

        // Listed login: in. Unlisted login with an address in a listed domain: in. Neither: denied.
        #expect(try await world.browser().signInWithGitHub(world, login: "alice").header("location") == "/sessions")
        #expect(try await world.browser().signInWithGitHub(world, login: "carol", email: "carol@example.org").header("location") == "/sessions")
        let mallory = world.browser()
        let denied = try await mallory.signInWithGitHub(world, login: "mallory", email: "mallory@evil.example")
        #expect(denied.header("location") == "/access-denied")
        #expect(mallory.cookies["dispatch_session"] == nil)
        let page = try await mallory.request("GET", "/access-denied")
        #expect(page.status == 403)
        #expect(page.text.contains("Access denied"))

        // Taking alice off the list locks her out at her next sign-in (the original checked only once).
        try await offPool {
            try world.runtime.deploy(RuntimeWorld.repoRoot() + "/Apps/Web", vars: [
                "GITHUB_URL": world.oauth!.baseURL, "GITHUB_API_URL": world.oauth!.baseURL, "ALLOWED_USERS": "bob"])
        }
        #expect(try await world.browser().signInWithGitHub(world, login: "alice").header("location") == "/access-denied")

        // ALLOWED_ORGS: a member of a listed organization is in; the sign-in asks for read:org only then.
        let noOrgScope = try await world.browser().request("GET", "/auth/github")
        #expect(noOrgScope.header("location")?.contains("read%3Aorg") == false, "\(noOrgScope.header("location") ?? "")")
        try await offPool {
            try world.runtime.deploy(RuntimeWorld.repoRoot() + "/Apps/Web", vars: [
                "GITHUB_URL": world.oauth!.baseURL, "GITHUB_API_URL": world.oauth!.baseURL, "ALLOWED_USERS": "bob",
                "ALLOWED_ORGS": "Acme-Corp"])
        }
        let orgScope = try await world.browser().request("GET", "/auth/github")
        #expect(orgScope.header("location")?.contains("read%3Aorg") == true, "\(orgScope.header("location") ?? "")")
        #expect(try await world.browser().signInWithGitHub(world, login: "dana", organizations: ["other", "acme-corp"])
            .header("location") == "/sessions")
        #expect(try await world.browser().signInWithGitHub(world, login: "erin", organizations: ["other"])
            .header("location") == "/access-denied")
        let orgCalls = try await FakeHTTP.get(world.oauth!.port, "/_calls").json as? [[String: Any]] ?? []
        #expect(orgCalls.filter { $0["path"] as? String == "/user/orgs" }.count == 2, "organizations are read only with ALLOWED_ORGS")
    }

    @Test("state-changing routes refuse a missing or wrong CSRF token and a foreign Origin, and change nothing")
    func csrfProtection() async throws {
        let world = try await offPool { try WebWorld(oauth: false) }
        defer { world.stop() }
        let browser = world.browser()
        let signedIn = try await browser.signInForDevelopment(login: "alice", name: "Alice")
        #expect(signedIn.status == 303)
        let page = try await browser.request("GET", "/session/new")
        let csrf = try #require(TestBrowser.csrf(in: page.text))
        let form = ["owner": "acme", "name": "widgets", "title": "csrf probe"]

        let missing = try await browser.request("POST", "/session/new", form: form)
        #expect(missing.status == 403)
        let wrong = try await browser.request("POST", "/session/new", form: form.merging(["_csrf": "x" + csrf.dropFirst()]) { $1 })
        #expect(wrong.status == 403)
        let foreign = try await browser.request("POST", "/session/new", form: form.merging(["_csrf": csrf]) { $1 },
                                                headers: ["Origin": "http://evil.example"])
        #expect(foreign.status == 403)
        // Another user's token does not work for this one.
        let bob = world.browser()
        _ = try await bob.signInForDevelopment(login: "bob")
        let bobsToken = try #require(TestBrowser.csrf(in: try await bob.request("GET", "/").text))
        let crossed = try await browser.request("POST", "/session/new", form: form.merging(["_csrf": bobsToken]) { $1 })
        #expect(crossed.status == 403)
        let none = try await world.control.call("GET", "/sessions")
        #expect(((none.json as? [String: Any])?["sessions"] as? [Any])?.isEmpty == true, "no refused request created a session")

        // With the token: created, listed, then archived, unarchived and deleted through the forms.
        let created = try await browser.request("POST", "/session/new", form: form.merging(["_csrf": csrf]) { $1 })
        #expect(created.status == 303)
        let location = try #require(created.header("location"))
        #expect(location.hasPrefix("/session/"))
        let id = String(location.dropFirst("/session/".count))
        let sessionPage = try await browser.request("GET", location)
        #expect(sessionPage.status == 200)
        #expect(sessionPage.text.contains("csrf probe"))
        #expect(sessionPage.text.contains("data-ws-base=\"ws://127.0.0.1:\(world.runtime.port)/api\""))

        // The ws-token route needs the header token too, then hands out a token for the control plane.
        let noHeader = try await browser.request("POST", location + "/ws-token")
        #expect(noHeader.status == 403)
        let issued = try await browser.request("POST", location + "/ws-token", headers: ["X-CSRF-Token": csrf])
        #expect(issued.status == 200)
        let token = try #require((issued.json as? [String: Any])?["token"] as? String)
        let socket = try await world.control.sockets.connect(world.control.webSocketURL(id))
        try socket.send(["type": "subscribe", "token": token, "clientId": "web-test"])
        let subscribed = try await socket.next("subscribed")
        #expect(((subscribed["state"] as? [String: Any])?["title"] as? String) == "csrf probe")
        socket.shutdown()

        let refusedArchive = try await browser.request("POST", location + "/archive", form: [:])
        #expect(refusedArchive.status == 403)
        #expect(try await Self.status(world, id) == "created")
        #expect(try await browser.request("POST", location + "/archive", form: ["_csrf": csrf]).status == 303)
        #expect(try await Self.status(world, id) == "archived")
        let list = try await browser.request("GET", "/sessions")
        #expect(list.text.contains("Archived (1)"))
        #expect(try await browser.request("POST", location + "/unarchive", form: ["_csrf": csrf]).status == 303)
        let unarchived = try await Self.status(world, id)
        #expect(unarchived == "active" || unarchived == "created")
        #expect(try await browser.request("POST", location + "/delete", form: ["_csrf": csrf]).status == 303)
        #expect(try await world.control.call("GET", "/sessions/\(id)").status == 404)
    }

    @Test("unauthenticated requests are redirected or refused; next paths stay on this site; static files carry validators")
    func unauthenticatedAndStatic() async throws {
        let world = try await offPool { try WebWorld(oauth: false, webVars: ["PUBLIC_URL": "https://dispatch.example"]) }
        defer { world.stop() }
        let browser = world.browser()
        for path in ["/", "/sessions", "/session/new", "/session/abc"] {
            let response = try await browser.request("GET", path)
            #expect(response.status == 303, "\(path)")
            #expect(response.header("location")?.hasPrefix("/sign-in?next=") == true, "\(path)")
        }
        let post = try await browser.request("POST", "/session/new", form: ["owner": "a", "name": "b"])
        #expect(post.status == 401)
        let token = try await browser.request("POST", "/session/abc/ws-token", headers: ["Accept": "application/json"])
        #expect(token.status == 401)
        #expect((token.json as? [String: Any])?["error"] as? String == "sign in first")

        // The development sign-in is offered (no OAuth app), clearly labelled, and needs its state.
        let page = try await browser.request("GET", "/sign-in?next=%2F%2Fevil.example%2Fx")
        #expect(page.text.contains("Local development sign-in"))
        let noState = try await world.browser().request("POST", "/auth/dev", form: ["login": "alice"])
        #expect(noState.status == 400)
        // Under an https public URL the cookies are Secure; a "//host" next path becomes "/".
        let signedIn = try await browser.signInForDevelopment(login: "alice")
        #expect(signedIn.header("location") == "/")
        #expect(TestBrowser.setCookies(signedIn).contains { $0.hasPrefix("dispatch_session=") && $0.hasSuffix("; Secure") })

        let css = try await browser.request("GET", "/static/app.css")
        #expect(css.status == 200)
        #expect(css.header("content-type") == "text/css; charset=utf-8")
        let etag = try #require(css.header("etag"))
        let again = try await browser.request("GET", "/static/app.css", headers: ["If-None-Match": etag])
        #expect(again.status == 304)
        #expect(try await browser.request("GET", "/static/../app.jsonc").status == 404)
        #expect(try await browser.request("GET", "/static/missing.js").status == 404)
        #expect(try await browser.request("GET", "/health").status == 200)
    }

    @Test("the new-session page lists the GitHub App's repositories when there is one and takes a base branch; each repository group's + starts another session there")
    func repositoryPicker() async throws {
        let scratch = NSTemporaryDirectory() + "web-repos-" + UUID().uuidString
        try FileManager.default.createDirectory(atPath: scratch, withIntermediateDirectories: true)
        let key = try Fixtures.rsaKey(in: scratch)
        let github = try await offPool { try FakeService(script: "fake_github.py", arguments: [key.publicPath, "4242", "77"]) }
        defer { github.stop() }
        let world = try await offPool {
            try WebWorld(oauth: false, controlPlaneVars: ["GITHUB_API_URL": github.baseURL],
                         controlPlaneSecrets: ["GITHUB_APP_ID": "4242", "GITHUB_APP_PRIVATE_KEY": key.privatePEM,
                                               "GITHUB_APP_INSTALLATION_ID": "77"])
        }
        defer { world.stop() }
        let browser = world.browser()
        _ = try await browser.signInForDevelopment(login: "alice")
        let page = try await browser.request("GET", "/session/new")
        #expect(page.text.contains("<select name=\"repository\""))
        let repos = try await world.control.call("GET", "/repos")
        let first = try #require(((repos.json as? [String: Any])?["repos"] as? [[String: Any]])?.first)
        let fullName = "\(first["owner"]!)/\(first["name"]!)"
        #expect(page.text.contains("value=\"\(fullName)\""))
        let csrf = try #require(TestBrowser.csrf(in: page.text))
        let created = try await browser.request("POST", "/session/new", form: ["_csrf": csrf, "repository": fullName,
                                                                             "baseBranch": "release/2.x"])
        #expect(created.status == 303)
        let createdID = String(try #require(created.header("location")).dropFirst("/session/".count))
        let createdState = try await world.control.call("GET", "/sessions/\(createdID)").json as? [String: Any]
        #expect(createdState?["baseBranch"] as? String == "release/2.x", "the form's base branch reaches the session")
        #expect(try await browser.request("GET", "/session/\(createdID)").text.contains("<code id=\"base-branch\">release/2.x</code>"))
        let list = try await browser.request("GET", "/sessions")
        #expect(list.text.contains(fullName.lowercased()))

        // Each repository group has a "+" that starts another session there, with the default model.
        let group = "<input type=\"hidden\" name=\"repository\" value=\"\(fullName.lowercased())\">"
        #expect(list.text.contains(group), "the group's new-session form")
        let again = try await browser.request("POST", "/session/new", form: ["_csrf": csrf, "repository": fullName.lowercased()])
        #expect(again.status == 303)
        let sessions = try #require((try await world.control.call("GET", "/sessions").json as? [String: Any])?["sessions"] as? [[String: Any]])
        #expect(sessions.count == 2)
        #expect(sessions.allSatisfy { "\($0["repoOwner"]!)/\($0["repoName"]!)".lowercased() == fullName.lowercased() })
        #expect(sessions.allSatisfy { $0["model"] as? String == "claude-haiku-4-5" }, "\(sessions)")
    }

    @Test("the secrets page adds, replaces and deletes the agent's global and per-repository secrets on the control plane, never shows a value, and reports a refused name")
    func secretsPage() async throws {
        let world = try await offPool { try WebWorld(oauth: false) }
        defer { world.stop() }
        let browser = world.browser()
        _ = try await browser.signInForDevelopment(login: "alice")
        let page = try await browser.request("GET", "/secrets")
        #expect(page.status == 200 && page.text.contains("Global secrets"), "\(page.status)")
        let csrf = try #require(TestBrowser.csrf(in: page.text))
        let value = "tok-" + UUID().uuidString

        #expect(try await browser.request("POST", "/secrets", form: ["name": "NPM_TOKEN", "value": value]).status == 403, "needs the CSRF token")
        let saved = try await browser.request("POST", "/secrets", form: ["_csrf": csrf, "repo": "", "name": "NPM_TOKEN", "value": value])
        #expect(saved.status == 303 && saved.header("location") == "/secrets")
        let repoSaved = try await browser.request("POST", "/secrets", form: ["_csrf": csrf, "repo": "Acme/Widgets", "name": "DEPLOY_KEY",
                                                                             "value": value])
        #expect(repoSaved.status == 303 && repoSaved.header("location") == "/secrets?repo=acme%2Fwidgets", "\(repoSaved.header("location") ?? "")")

        let global = try await browser.request("GET", "/secrets")
        #expect(global.text.contains("data-name=\"NPM_TOKEN\"") && !global.text.contains("DEPLOY_KEY"))
        #expect(!global.text.contains(value), "a value is never shown")
        let repo = try await browser.request("GET", "/secrets?repo=acme/widgets")
        #expect(repo.text.contains("Secrets of acme/widgets") && repo.text.contains("data-name=\"DEPLOY_KEY\""))
        let stored = try await world.control.call("GET", "/repos/acme/widgets/secrets").json as? [String: Any]
        #expect((stored?["secrets"] as? [[String: Any]])?.compactMap { $0["name"] as? String } == ["DEPLOY_KEY"])

        let refused = try await browser.request("POST", "/secrets", form: ["_csrf": csrf, "repo": "", "name": "lower", "value": "x"])
        #expect(refused.status == 400 && refused.text.contains("capital letters"), "\(refused.status)")
        #expect(try await browser.request("GET", "/secrets?repo=just-one-part").status == 400)

        let deleted = try await browser.request("POST", "/secrets/delete", form: ["_csrf": csrf, "repo": "", "name": "NPM_TOKEN"])
        #expect(deleted.status == 303)
        let after = try await world.control.call("GET", "/secrets").json as? [String: Any]
        #expect((after?["secrets"] as? [Any])?.isEmpty == true)
    }

    @Test("the automations page creates an automation on the control plane, lists it with its schedule and next run, edits it, runs it now into a new session, pauses, resumes and deletes it, and reports a refused schedule")
    func automationsPage() async throws {
        let world = try await offPool { try WebWorld(oauth: false) }
        defer { world.stop() }
        let browser = world.browser()
        _ = try await browser.signInForDevelopment(login: "alice")
        let page = try await browser.request("GET", "/automations")
        #expect(page.status == 200 && page.text.contains("No automations yet."), "\(page.status)")
        let csrf = try #require(TestBrowser.csrf(in: page.text))
        let form = ["_csrf": csrf, "title": "Weekly bump", "repository": "acme/widgets", "prompt": "echo bump",
                    "kind": "weekdays", "time": "07:15", "everyMinutes": "60", "model": "claude-sonnet-4-5"]

        let refused = try await browser.request("POST", "/automations", form: form.merging(["kind": "interval", "everyMinutes": "1"]) { $1 })
        #expect(refused.status == 400 && refused.text.contains("schedule.everyMinutes: 5 to"), "\(refused.status)")
        let created = try await browser.request("POST", "/automations", form: form)
        #expect(created.status == 303 && created.header("location") == "/automations")
        let stored = try #require(((try await world.control.call("GET", "/automations").json as? [String: Any])?["automations"]
            as? [[String: Any]])?.first)
        #expect(stored["scheduleSummary"] as? String == "weekdays at 07:15 UTC" && stored["model"] as? String == "claude-sonnet-4-5")
        #expect(stored["createdBy"] as? String == "dev:alice")
        let id = try #require(stored["id"] as? String)
        let listed = try await browser.request("GET", "/automations")
        #expect(listed.text.contains("data-automation-id=\"\(id)\"") && listed.text.contains("weekdays at 07:15 UTC"))
        #expect(listed.text.contains(" 07:15 UTC · last never"), "the next run's time")

        // Edit: the form comes filled in; a refused change keeps what was typed; a saved one replaces it.
        let editPage = try await browser.request("GET", "/automations/\(id)/edit")
        #expect(editPage.status == 200 && editPage.text.contains("value=\"Weekly bump\"") && editPage.text.contains("value=\"07:15\"")
                && editPage.text.contains("<option value=\"weekdays\" selected>") && editPage.text.contains(">echo bump</textarea>"),
                "\(editPage.status)")
        let edited = form.merging(["title": "Daily bump", "kind": "daily", "time": "08:00", "prompt": "echo bump twice"]) { $1 }
        let refusedEdit = try await browser.request("POST", "/automations/\(id)/edit", form: edited.merging(["kind": "interval", "everyMinutes": "2"]) { $1 })
        #expect(refusedEdit.status == 400 && refusedEdit.text.contains("schedule.everyMinutes: 5 to")
                && refusedEdit.text.contains("value=\"Daily bump\""),
                "\(refusedEdit.status)")
        var forged = edited
        forged["_csrf"] = nil
        #expect(try await browser.request("POST", "/automations/\(id)/edit", form: forged).status == 403, "an edit needs the CSRF token")
        let saved = try await browser.request("POST", "/automations/\(id)/edit", form: edited)
        #expect(saved.status == 303 && saved.header("location") == "/automations", "\(saved.status) \(saved.text)")
        let changed = try await world.control.call("GET", "/automations/\(id)").json as? [String: Any]
        #expect(changed?["title"] as? String == "Daily bump" && changed?["scheduleSummary"] as? String == "daily at 08:00 UTC"
                && changed?["prompt"] as? String == "echo bump twice" && changed?["createdBy"] as? String == "dev:alice", "\(changed ?? [:])")
        #expect(try await browser.request("GET", "/automations/nope/edit").status == 404)
        // A model set through the API, which the form does not list, survives an edit that keeps it.
        let apiMade = try await world.control.call("POST", "/automations", json: [
            "title": "API made", "repoOwner": "acme", "repoName": "widgets", "prompt": "echo hi", "model": "openrouter/some-model",
            "schedule": ["kind": "daily", "time": "10:00"]])
        let apiID = try #require((apiMade.json as? [String: Any])?["id"] as? String, "\(apiMade.text)")
        let apiEdit = try await browser.request("GET", "/automations/\(apiID)/edit")
        #expect(apiEdit.text.contains("<option value=\"openrouter/some-model\" selected>")
                && apiEdit.text.contains("name=\"currentModel\" value=\"openrouter/some-model\""), "\(apiEdit.status)")
        let keptModel = try await browser.request("POST", "/automations/\(apiID)/edit", form: [
            "_csrf": csrf, "title": "API made, renamed", "repository": "acme/widgets", "prompt": "echo hi", "kind": "daily",
            "time": "10:00", "model": "openrouter/some-model", "currentModel": "openrouter/some-model"])
        #expect(keptModel.status == 303)
        let kept = try await world.control.call("GET", "/automations/\(apiID)").json as? [String: Any]
        #expect(kept?["title"] as? String == "API made, renamed" && kept?["model"] as? String == "openrouter/some-model", "\(kept ?? [:])")
        #expect(try await world.control.call("DELETE", "/automations/\(apiID)").status == 200)

        let run = try await browser.request("POST", "/automations/\(id)/run", form: ["_csrf": csrf])
        let location = try #require(run.header("location"))
        #expect(run.status == 303 && location.hasPrefix("/session/"), "Run now opens the new session")
        let session = String(location.dropFirst("/session/".count))
        let messages = try await world.control.call("GET", "/sessions/\(session)/messages").json as? [String: Any]
        #expect((messages?["messages"] as? [[String: Any]])?.first?["content"] as? String == "echo bump twice")
        #expect(try await browser.request("GET", "/automations").text.contains("href=\"/session/\(session)\""), "the last run links its session")

        #expect(try await browser.request("POST", "/automations/\(id)/pause", form: ["_csrf": csrf]).status == 303)
        #expect(try await browser.request("GET", "/automations").text.contains("next paused"))
        #expect(try await browser.request("POST", "/automations/\(id)/resume", form: ["_csrf": csrf]).status == 303)
        #expect(try await browser.request("POST", "/automations/\(id)/delete", form: ["_csrf": csrf]).status == 303)
        #expect(try await world.control.call("GET", "/automations/\(id)").status == 404)
    }

    static func status(_ world: WebWorld, _ id: String) async throws -> String? {
        let state = try await world.control.call("GET", "/sessions/\(id)")
        return (state.json as? [String: Any])?["status"] as? String
    }

    /// Every file under the state directory, as one lossy string (for "is this secret anywhere?").
    static func stateBytes(_ directory: String) throws -> String {
        var all = Data()
        let walker = FileManager.default.enumerator(atPath: directory)
        while let item = walker?.nextObject() as? String {
            let path = directory + "/" + item
            var isFolder: ObjCBool = false
            guard FileManager.default.fileExists(atPath: path, isDirectory: &isFolder), !isFolder.boolValue,
                  !item.contains("/versions/") else { continue }
            all += (FileManager.default.contents(atPath: path) ?? Data())
        }
        return String(decoding: all, as: UTF8.self)
    }
}
