import RuntimeAPI

/// Users, signed-in browser sessions and pending sign-ins, in the `AUTH` SQL database.
///
/// A browser session is a random token in an HttpOnly cookie; only its SHA-256 is stored, so a copy of
/// the database signs nobody in. The user's GitHub token is kept with the session, sealed (AES-256-GCM)
/// under a key derived from that cookie token: it can be opened only while the browser presents the
/// cookie (the original kept it in plain text).
struct AuthStore: Sendable {
    let database: any SQLDatabase

    /// How long a sign-in lasts.
    static let sessionLifetimeMilliseconds: Int64 = 30 * 24 * 3600 * 1000
    /// How long a started sign-in (OAuth round trip or the development form) stays valid.
    static let signInLifetimeMilliseconds: Int64 = 10 * 60 * 1000
    /// Random bytes in a session token, a CSRF token and a sign-in state.
    static let tokenBytes = 32

    struct User: Sendable, Equatable {
        var id: String
        var login: String
        var name: String
        var email: String?
        var avatarURL: String?
    }

    /// A signed-in browser session.
    struct Session: Sendable {
        var user: User
        var csrfToken: String
        var githubToken: String?
        var githubTokenExpiresAt: Int64?
        var expiresAt: Int64
    }

    private static let schema = SchemaOnce("""
        CREATE TABLE IF NOT EXISTS users (
          id TEXT PRIMARY KEY, login TEXT NOT NULL, name TEXT NOT NULL, email TEXT, avatar_url TEXT,
          created_at INTEGER NOT NULL, last_sign_in_at INTEGER NOT NULL);
        CREATE TABLE IF NOT EXISTS web_sessions (
          token_hash TEXT PRIMARY KEY, user_id TEXT NOT NULL REFERENCES users(id), csrf_token TEXT NOT NULL,
          github_token_sealed BLOB, github_token_expires_at INTEGER, created_at INTEGER NOT NULL,
          expires_at INTEGER NOT NULL);
        CREATE INDEX IF NOT EXISTS web_sessions_expiry ON web_sessions (expires_at);
        CREATE TABLE IF NOT EXISTS sign_in_states (
          state_hash TEXT PRIMARY KEY, next_path TEXT NOT NULL, expires_at INTEGER NOT NULL)
        """)

    init(_ env: Env) throws {
        database = try env.database("AUTH")
    }

    private func prepare() async throws {
        try await Self.schema.ensure(on: database)
    }

    static func newToken() -> String { Encoding.base64URL(Crypto.randomBytes(tokenBytes)) }
    static func hash(_ token: String) -> String { Encoding.hex(Crypto.sha256(token)) }

    // MARK: Sign-in states

    /// Starts a sign-in: a single-use state, also set as a cookie so the finishing request must come
    /// from the browser that started it. `next` is where to go afterwards.
    func beginSignIn(next: String, now: Int64 = WallClock.milliseconds()) async throws -> String {
        try await prepare()
        let state = Self.newToken()
        _ = try await database.batch([
            ("DELETE FROM sign_in_states WHERE expires_at < ?", [.integer(now)]),
            ("INSERT INTO sign_in_states (state_hash, next_path, expires_at) VALUES (?, ?, ?)",
             [.text(Self.hash(state)), .text(next), .integer(now + Self.signInLifetimeMilliseconds)]),
        ])
        return state
    }

    /// Consumes a sign-in state; returns its `next` path, or nil when it is unknown, used or expired.
    func finishSignIn(state: String, now: Int64 = WallClock.milliseconds()) async throws -> String? {
        try await prepare()
        let hash = Self.hash(state)
        let rows = try await database.batch([
            ("SELECT next_path, expires_at FROM sign_in_states WHERE state_hash = ?", [.text(hash)]),
            ("DELETE FROM sign_in_states WHERE state_hash = ?", [.text(hash)]),
        ])[0].rows
        guard let row = rows.first, let expires = row["expires_at"]?.int, Int64(expires) >= now else { return nil }
        return row["next_path"]?.string
    }

    // MARK: Sessions

    /// Records the user (created or refreshed) and opens a session; returns the cookie token.
    func signIn(_ user: User, githubToken: String?, githubTokenExpiresAt: Int64?, now: Int64 = WallClock.milliseconds())
        async throws -> String {
        try await prepare()
        let token = Self.newToken()
        let sealed: SQLValue = try githubToken.map { .blob(try Crypto.aesGCMSeal(Array($0.utf8), key: Self.tokenKey(token))) } ?? .null
        _ = try await database.batch([
            ("""
             INSERT INTO users (id, login, name, email, avatar_url, created_at, last_sign_in_at) VALUES (?, ?, ?, ?, ?, ?, ?)
             ON CONFLICT (id) DO UPDATE SET login = excluded.login, name = excluded.name, email = excluded.email,
               avatar_url = excluded.avatar_url, last_sign_in_at = excluded.last_sign_in_at
             """,
             [.text(user.id), .text(user.login), .text(user.name), user.email.map { .text($0) } ?? .null,
              user.avatarURL.map { .text($0) } ?? .null, .integer(now), .integer(now)]),
            ("DELETE FROM web_sessions WHERE expires_at < ?", [.integer(now)]),
            ("""
             INSERT INTO web_sessions (token_hash, user_id, csrf_token, github_token_sealed, github_token_expires_at,
               created_at, expires_at) VALUES (?, ?, ?, ?, ?, ?, ?)
             """,
             [.text(Self.hash(token)), .text(user.id), .text(Self.newToken()), sealed,
              githubTokenExpiresAt.map { .integer($0) } ?? .null, .integer(now), .integer(now + Self.sessionLifetimeMilliseconds)]),
        ])
        return token
    }

    /// The live session for a cookie token, or nil.
    func session(token: String, now: Int64 = WallClock.milliseconds()) async throws -> Session? {
        try await prepare()
        let rows = try await database.exec("""
            SELECT s.*, u.login, u.name, u.email, u.avatar_url FROM web_sessions s JOIN users u ON u.id = s.user_id
            WHERE s.token_hash = ?
            """, [.text(Self.hash(token))]).rows
        guard let row = rows.first, let expires = row["expires_at"]?.int, Int64(expires) > now,
              let userID = row["user_id"]?.string, let csrf = row["csrf_token"]?.string else { return nil }
        var githubToken: String?
        if case .blob(let sealed)? = row["github_token_sealed"],
           let opened = try? Crypto.aesGCMOpen(sealed, key: Self.tokenKey(token)) {
            githubToken = String(decoding: opened, as: UTF8.self)
        }
        let user = User(id: userID, login: row["login"]?.string ?? userID, name: row["name"]?.string ?? userID,
                        email: row["email"]?.string, avatarURL: row["avatar_url"]?.string)
        return Session(user: user, csrfToken: csrf, githubToken: githubToken,
                       githubTokenExpiresAt: row["github_token_expires_at"]?.int.map(Int64.init), expiresAt: Int64(expires))
    }

    func signOut(token: String) async throws {
        try await prepare()
        _ = try await database.exec("DELETE FROM web_sessions WHERE token_hash = ?", [.text(Self.hash(token))])
    }

    /// The AES key for a session's GitHub token: derived from the cookie token, which is never stored.
    private static func tokenKey(_ token: String) -> [UInt8] {
        Crypto.hmacSHA256(key: Array(token.utf8), "dispatch-web github token")
    }
}
