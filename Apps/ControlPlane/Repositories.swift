import RuntimeAPI

/// `GET /repos` and repository metadata (reference §1.2, §1.5): the GitHub App installation's
/// repositories, cached for five minutes in the `CACHE` KV binding, enriched with the metadata rows
/// of the session index.
struct Repositories: Sendable {
    let env: Env
    let config: Config

    static let cacheKey = "repos:list"
    static let cacheTTL: Duration = .seconds(300)

    func list() async throws -> JSON {
        let cache = try env.keyValue("CACHE")
        if let cached = try await cache.get(Self.cacheKey), let value = try? JSON.parse(cached) {
            return ["repos": value["repos"] ?? [], "cached": true, "cachedAt": value["cachedAt"] ?? .null]
        }
        let github = GitHubAPI(baseURL: config.githubAPIURL)
        let token = try await github.installationToken(env)
        let metadata = try await SessionIndex(env).allMetadata()
        let repositories = try await github.installationRepositories(token: token).map { repository -> JSON in
            let owner = repository["owner"]?["login"]?.string ?? ""
            let name = repository["name"]?.string ?? ""
            var entry: JSON = [
                "id": repository["id"] ?? .null, "owner": .string(owner), "name": .string(name),
                "fullName": repository["full_name"] ?? .string("\(owner)/\(name)"),
                "description": repository["description"] ?? .null, "private": repository["private"] ?? false,
                "defaultBranch": repository["default_branch"] ?? "main",
            ]
            if let extra = metadata["\(owner.lowercased())/\(name.lowercased())"] { entry[set: "metadata"] = extra }
            return entry
        }
        let now = WallClock.milliseconds()
        let stored: JSON = ["repos": .array(repositories), "cachedAt": .int(now)]
        try await cache.put(Self.cacheKey, stored.bytes, expiresIn: Self.cacheTTL)
        return ["repos": .array(repositories), "cached": false, "cachedAt": .int(now)]
    }

    func metadata(owner: String, name: String) async throws -> JSON {
        ["repo": .string("\(owner)/\(name)"), "metadata": try await SessionIndex(env).metadata(owner: owner, name: name) ?? .null]
    }

    func setMetadata(owner: String, name: String, _ body: JSON) async throws -> JSON {
        var metadata: [String: JSON] = [:]
        if let description = try body.optionalString("description", limit: 2048) { metadata["description"] = .string(description) }
        for key in ["aliases", "channelAssociations", "keywords"] {
            guard let field = body[key], !field.isNull else { continue }
            guard let items = field.array, items.count <= 100, items.allSatisfy({ ($0.string?.utf8.count ?? 1000) <= 200 }) else {
                throw HTTPError(400, "\(key): expected at most 100 strings of at most 200 bytes")
            }
            metadata[key] = field
        }
        try await SessionIndex(env).setMetadata(owner: owner, name: name, .object(metadata))
        _ = try await env.keyValue("CACHE").delete(Self.cacheKey)
        return ["status": "updated", "repo": .string("\(owner)/\(name)"), "metadata": .object(metadata)]
    }
}
