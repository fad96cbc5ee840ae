import RuntimeAPI

/// Secrets for the agent's environment (upstream #46, #93–95): global ones, and per repository, which
/// win over a global one of the same name. Values are sealed with `TOKEN_ENCRYPTION_KEY` in the `INDEX`
/// database; the REST API lists names and times only, and a value leaves only into the environment of a
/// sandbox of that repository (`user_env_vars` of the provider's create and restore calls), where the
/// bridge passes it to the agent's processes.
struct AgentSecrets: Sendable {
    let database: any SQLDatabase
    let env: Env

    /// Whose secrets: every repository's, or one repository's.
    enum Scope: Sendable, Equatable {
        case global
        case repository(owner: String, name: String)

        var key: String {
            switch self {
            case .global: "global"
            case .repository(let owner, let name): "repo:\(owner.lowercased())/\(name.lowercased())"
            }
        }
    }

    static let maxValueBytes = 4 * 1024
    /// Per scope; with the global ones a sandbox gets at most twice this many.
    static let maxPerScope = 32

    private static let schema = SchemaOnce("""
        CREATE TABLE IF NOT EXISTS agent_secrets (
          scope TEXT NOT NULL, name TEXT NOT NULL, value_sealed TEXT NOT NULL, created_at INTEGER NOT NULL,
          updated_at INTEGER NOT NULL, PRIMARY KEY (scope, name))
        """)

    init(_ env: Env) throws {
        database = try env.database("INDEX")
        self.env = env
    }

    private func prepare() async throws {
        try await Self.schema.ensure(on: database)
    }

    /// Names and times, by name.
    func list(_ scope: Scope) async throws -> [JSON] {
        try await prepare()
        let rows = try await database.exec(
            "SELECT name, created_at, updated_at FROM agent_secrets WHERE scope = ? ORDER BY name", .text(scope.key)).rows
        return rows.map { row in
            ["name": .string(row["name"]?.string ?? ""), "createdAt": .int(Int64(row["created_at"]?.int ?? 0)),
             "updatedAt": .int(Int64(row["updated_at"]?.int ?? 0))]
        }
    }

    /// Sets (or replaces) a secret. Returns whether it was new.
    func put(_ scope: Scope, name: String, value: String, now: Int64 = WallClock.milliseconds()) async throws -> Bool {
        if let problem = AgentEnvironment.problem(withName: name) { throw HTTPError(400, "name: " + problem) }
        guard !value.isEmpty, value.utf8.count <= Self.maxValueBytes else {
            throw HTTPError(400, "value: 1 to \(Self.maxValueBytes) bytes")
        }
        guard !value.utf8.contains(0) else { throw HTTPError(400, "value: no NUL characters (it becomes an environment variable)") }
        try await prepare()
        let sealed = try TokenCipher(env).seal(value, for: .agentSecret(scope: scope.key, name: name))
        let results = try await database.batch([
            ("SELECT count(*) AS present FROM agent_secrets WHERE scope = ? AND name = ?", [.text(scope.key), .text(name)]),
            ("""
             INSERT INTO agent_secrets (scope, name, value_sealed, created_at, updated_at)
             SELECT ?, ?, ?, ?, ? WHERE (SELECT count(*) FROM agent_secrets WHERE scope = ? AND name <> ?) < ?
             ON CONFLICT (scope, name) DO UPDATE SET value_sealed = excluded.value_sealed, updated_at = excluded.updated_at
             """, [.text(scope.key), .text(name), .text(sealed), .integer(now), .integer(now), .text(scope.key), .text(name),
                   .integer(Int64(Self.maxPerScope))]),
        ])
        guard results.last?.rowsWritten == 1 else {
            throw HTTPError(409, "at most \(Self.maxPerScope) secrets in one scope; delete one first")
        }
        return (results.first?.rows.first?["present"]?.int ?? 0) == 0
    }

    func delete(_ scope: Scope, name: String) async throws -> Bool {
        try await prepare()
        let result = try await database.exec("DELETE FROM agent_secrets WHERE scope = ? AND name = ?", .text(scope.key), .text(name))
        return result.rowsWritten > 0
    }

    /// What a sandbox of `owner/name` gets: the global secrets, then the repository's over them.
    func environment(owner: String, name: String) async throws -> [String: String] {
        try await prepare()
        let repository = Scope.repository(owner: owner, name: name).key
        let rows = try await database.exec(
            "SELECT scope, name, value_sealed FROM agent_secrets WHERE scope IN ('global', ?) ORDER BY scope = ?, name",
            .text(repository), .text(repository)).rows
        guard !rows.isEmpty else { return [:] }
        let cipher = try TokenCipher(env)
        var values: [String: String] = [:]
        for row in rows {
            guard let scope = row["scope"]?.string, let name = row["name"]?.string, let sealed = row["value_sealed"]?.string else { continue }
            do {
                values[name] = try cipher.open(sealed, for: .agentSecret(scope: scope, name: name))
            } catch {
                throw HTTPError(500, "the agent secret \(name) (\(scope)) does not open; put it again: \(error)")
            }
        }
        return values
    }
}
