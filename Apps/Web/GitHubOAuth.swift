import RuntimeAPI

/// GitHub's OAuth web flow (reference §1.14, §4): send the browser to `/login/oauth/authorize`, trade
/// the returned code for a user token at `/login/oauth/access_token`, then read `/user` and
/// `/user/emails` with it. Both base URLs are configurable, so tests run against a local fake.
struct GitHubOAuth: Sendable {
    let config: WebConfig

    /// What the app asks for: the profile, email addresses, and repository access for pull requests;
    /// with an organization allowlist also `read:org`, without which GitHub hides private memberships.
    static let scopes = "read:user user:email repo"
    static let organizationScope = "read:org"
    /// Most organizations read for the allowlist (one page of GitHub's `/user/orgs`).
    static let maxOrganizations = 100

    var scopes: String { config.allowlist.organizations.isEmpty ? Self.scopes : Self.scopes + " " + Self.organizationScope }
    /// Longest GitHub answer read.
    static let maxResponseBytes = 1024 * 1024

    struct Identity: Sendable {
        var user: AuthStore.User
        /// Every verified address (the allowlist looks at all of them).
        var verifiedEmails: [String]
        /// Logins of the user's organizations; read only when the allowlist names organizations.
        var organizations: [String]
        var accessToken: String
        var expiresAt: Int64?
    }

    func authorizeURL(clientID: String, redirectURI: String, state: String) -> String {
        config.githubURL + "/login/oauth/authorize?client_id=" + Self.encode(clientID) + "&redirect_uri="
            + Self.encode(redirectURI) + "&scope=" + Self.encode(scopes) + "&state=" + Self.encode(state)
            + "&allow_signup=false"
    }

    /// Code → token → profile. Throws a 502 naming the step that failed.
    func identity(code: String, redirectURI: String) async throws -> Identity {
        guard let clientID = config.oauthClientID, let secret = config.oauthClientSecret else {
            throw HTTPError(503, "GitHub OAuth is not configured")
        }
        let form = "client_id=" + Self.encode(clientID) + "&client_secret=" + Self.encode(secret) + "&code="
            + Self.encode(code) + "&redirect_uri=" + Self.encode(redirectURI)
        let exchanged = try await call("POST", config.githubURL + "/login/oauth/access_token",
                                       headers: ["Content-Type": "application/x-www-form-urlencoded"], body: Array(form.utf8))
        guard let token = exchanged["access_token"]?.string, !token.isEmpty else {
            let reason = exchanged["error_description"]?.string ?? exchanged["error"]?.string ?? "no access_token"
            throw HTTPError(502, "GitHub refused the sign-in code: \(reason)")
        }
        let expiresAt = exchanged["expires_in"]?.int.map { WallClock.milliseconds() + $0 * 1000 }
        let auth: Headers = ["Authorization": "Bearer " + token]
        let profile = try await call("GET", config.githubAPIURL + "/user", headers: auth)
        guard let login = profile["login"]?.string, let id = profile["id"]?.int else {
            throw HTTPError(502, "GitHub's /user answer has no login and id")
        }
        let emails = (try? await call("GET", config.githubAPIURL + "/user/emails", headers: auth))?.array ?? []
        let verified = emails.filter { $0["verified"]?.bool == true }.compactMap { $0["email"]?.string }
        let primary = emails.first { $0["primary"]?.bool == true && $0["verified"]?.bool == true }?["email"]?.string
        let user = AuthStore.User(id: "github:\(id)", login: login, name: profile["name"]?.string ?? login,
                                  email: primary ?? profile["email"]?.string ?? verified.first,
                                  avatarURL: profile["avatar_url"]?.string)
        var organizations: [String] = []
        if !config.allowlist.organizations.isEmpty {
            // A failure here denies by organization (the other lists still apply), and says why in the log.
            do {
                let listed = try await call("GET", config.githubAPIURL + "/user/orgs?per_page=\(Self.maxOrganizations)", headers: auth)
                organizations = (listed.array ?? []).compactMap { $0["login"]?.string }
            } catch {
                Log.warn("could not read \(login)'s GitHub organizations for ALLOWED_ORGS: \(error)")
            }
        }
        return Identity(user: user, verifiedEmails: verified, organizations: organizations, accessToken: token, expiresAt: expiresAt)
    }

    private func call(_ method: String, _ url: String, headers: Headers, body: [UInt8] = []) async throws -> JSON {
        var headers = headers
        headers.set("Accept", "application/json")
        headers.set("User-Agent", "dispatch-web")
        let response: Response
        do {
            response = try await fetch(url, method: method, headers: headers, body: body)
        } catch {
            throw HTTPError(502, "cannot reach GitHub at \(url): \(error)")
        }
        let bytes = try await response.bodyBytes(limit: Self.maxResponseBytes)
        guard (200..<300).contains(response.status), let value = try? JSON.parse(bytes) else {
            throw HTTPError(502, "GitHub answered \(response.status) for \(url)")
        }
        return value
    }

    /// Percent-encoding for a query or form value.
    static func encode(_ text: String) -> String { PercentEncoding.encode(text) }
}
