import RuntimeAPI

/// The session list (reference §1.5, as upstream's D1 migration has it): one row per session in the
/// app's SQL database binding `INDEX`, so lists sort by `updated_at` and filter by status, plus the
/// per-repository metadata the Slack bot's classifier reads.
struct SessionIndex: Sendable {
    let database: any SQLDatabase

    /// One entry of `GET /sessions`.
    struct Entry: Sendable {
        var id: String
        var title: String
        var repoOwner: String
        var repoName: String
        var model: String
        var status: String
        var createdAt: Int64
        var updatedAt: Int64

        var json: JSON {
            ["id": .string(id), "title": .string(title), "repoOwner": .string(repoOwner), "repoName": .string(repoName),
             "model": .string(model), "status": .string(status), "createdAt": .int(createdAt), "updatedAt": .int(updatedAt)]
        }
    }

    private static let schema = SchemaOnce("""
        CREATE TABLE IF NOT EXISTS sessions (
          id TEXT PRIMARY KEY, title TEXT NOT NULL, repo_owner TEXT NOT NULL, repo_name TEXT NOT NULL,
          model TEXT NOT NULL, status TEXT NOT NULL, created_at INTEGER NOT NULL, updated_at INTEGER NOT NULL);
        CREATE INDEX IF NOT EXISTS sessions_status_updated ON sessions (status, updated_at DESC);
        CREATE INDEX IF NOT EXISTS sessions_repo_updated ON sessions (repo_owner, repo_name, updated_at DESC);
        CREATE INDEX IF NOT EXISTS sessions_updated ON sessions (updated_at DESC, id);
        CREATE TABLE IF NOT EXISTS repo_metadata (
          repo_owner TEXT NOT NULL, repo_name TEXT NOT NULL, description TEXT, aliases TEXT, channel_associations TEXT,
          keywords TEXT, created_at INTEGER NOT NULL, updated_at INTEGER NOT NULL, PRIMARY KEY (repo_owner, repo_name))
        """)

    init(_ env: Env) throws {
        database = try env.database("INDEX")
    }

    private func prepare() async throws {
        try await Self.schema.ensure(on: database)
    }

    func insert(_ entry: Entry) async throws {
        try await prepare()
        _ = try await database.exec(
            "INSERT INTO sessions (id, title, repo_owner, repo_name, model, status, created_at, updated_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
            [.text(entry.id), .text(entry.title), .text(entry.repoOwner), .text(entry.repoName), .text(entry.model),
             .text(entry.status), .integer(entry.createdAt), .integer(entry.updatedAt)])
    }

    /// Changes what is given; `updated_at` moves to now.
    func update(_ id: String, title: String? = nil, status: String? = nil, now: Int64 = WallClock.milliseconds()) async throws {
        try await prepare()
        _ = try await database.exec(
            "UPDATE sessions SET title = coalesce(?, title), status = coalesce(?, status), updated_at = ? WHERE id = ?",
            [title.map { .text($0) } ?? .null, status.map { .text($0) } ?? .null, .integer(now), .text(id)])
    }

    func delete(_ id: String) async throws {
        try await prepare()
        _ = try await database.exec("DELETE FROM sessions WHERE id = ?", [.text(id)])
    }

    func entry(_ id: String) async throws -> Entry? {
        try await prepare()
        return try await database.exec("SELECT * FROM sessions WHERE id = ?", [.text(id)]).rows.first.map(Self.entry)
    }

    /// Newest activity first. The cursor is `<updated_at>:<id>` of the last entry of the previous page.
    func list(limit: Int, cursor: String?, status: String?, excludeStatus: String? = "deleted") async throws
        -> (entries: [Entry], cursor: String?, hasMore: Bool) {
        try await prepare()
        var conditions: [String] = []
        var bindings: [SQLValue] = []
        if let status {
            conditions.append("status = ?")
            bindings.append(.text(status))
        } else if let excludeStatus {
            conditions.append("status != ?")
            bindings.append(.text(excludeStatus))
        }
        if let cursor {
            let parts = cursor.split(separator: ":", maxSplits: 1)
            guard parts.count == 2, let stamp = Int64(parts[0]) else { throw HTTPError(400, "cursor: malformed") }
            conditions.append("(updated_at < ? OR (updated_at = ? AND id > ?))")
            bindings += [.integer(stamp), .integer(stamp), .text(String(parts[1]))]
        }
        let filter = conditions.isEmpty ? "" : "WHERE " + conditions.joined(separator: " AND ")
        bindings.append(.integer(Int64(limit + 1)))
        let rows = try await database.exec(
            "SELECT * FROM sessions \(filter) ORDER BY updated_at DESC, id LIMIT ?", bindings).rows
        let entries = rows.prefix(limit).map(Self.entry)
        let hasMore = rows.count > limit
        let next = hasMore ? entries.last.map { "\($0.updatedAt):\($0.id)" } : nil
        return (Array(entries), next, hasMore)
    }

    private static func entry(_ row: SQLRow) -> Entry {
        Entry(id: row["id"]?.string ?? "", title: row["title"]?.string ?? "", repoOwner: row["repo_owner"]?.string ?? "",
              repoName: row["repo_name"]?.string ?? "", model: row["model"]?.string ?? "",
              status: row["status"]?.string ?? "", createdAt: Int64(row["created_at"]?.int ?? 0),
              updatedAt: Int64(row["updated_at"]?.int ?? 0))
    }

    // MARK: Repository metadata

    func metadata(owner: String, name: String) async throws -> JSON? {
        try await prepare()
        guard let row = try await database.exec(
            "SELECT * FROM repo_metadata WHERE repo_owner = ? AND repo_name = ?", [.text(owner), .text(name)]).rows.first
        else { return nil }
        var fields: [String: JSON] = [:]
        if let description = row["description"]?.string { fields["description"] = .string(description) }
        for (column, key) in [("aliases", "aliases"), ("channel_associations", "channelAssociations"), ("keywords", "keywords")] {
            if let text = row[column]?.string, let value = try? JSON.parse(text) { fields[key] = value }
        }
        return .object(fields)
    }

    func allMetadata() async throws -> [String: JSON] {
        try await prepare()
        var result: [String: JSON] = [:]
        for row in try await database.exec("SELECT repo_owner, repo_name FROM repo_metadata", []).rows {
            let owner = row["repo_owner"]?.string ?? "", name = row["repo_name"]?.string ?? ""
            result["\(owner)/\(name)"] = try await metadata(owner: owner, name: name)
        }
        return result
    }

    func setMetadata(owner: String, name: String, _ metadata: JSON, now: Int64 = WallClock.milliseconds()) async throws {
        try await prepare()
        func list(_ key: String) -> SQLValue { metadata[key].map { .text($0.text) } ?? .null }
        _ = try await database.exec("""
            INSERT INTO repo_metadata (repo_owner, repo_name, description, aliases, channel_associations, keywords, created_at, updated_at)
            VALUES (?, ?, ?, ?, ?, ?, ?, ?)
            ON CONFLICT (repo_owner, repo_name) DO UPDATE SET description = excluded.description, aliases = excluded.aliases,
              channel_associations = excluded.channel_associations, keywords = excluded.keywords, updated_at = excluded.updated_at
            """, [.text(owner), .text(name), metadata["description"]?.string.map { .text($0) } ?? .null,
                  list("aliases"), list("channelAssociations"), list("keywords"), .integer(now), .integer(now)])
    }
}
