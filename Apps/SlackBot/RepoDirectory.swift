import RuntimeAPI

/// A repository sessions can run on: the control plane's `EnrichedRepository` (reference §5) with its
/// metadata flattened.
struct Repo: Sendable, Equatable {
    var owner: String
    var name: String
    var fullName: String
    var description: String?
    var isPrivate: Bool
    var defaultBranch: String
    var aliases: [String]
    var keywords: [String]
    /// Slack channel ids (or names) whose requests are about this repository.
    var channelAssociations: [String]

    /// How the classifier and the menus name it: `owner/name`, compared case-insensitively.
    var id: String { fullName.lowercased() }

    init?(_ json: JSON) {
        guard let owner = json["owner"]?.string, !owner.isEmpty, let name = json["name"]?.string, !name.isEmpty else { return nil }
        let metadata = json["metadata"] ?? [:]
        func strings(_ key: String) -> [String] { metadata[key]?.array?.compactMap(\.string) ?? [] }
        self.owner = owner
        self.name = name
        fullName = json["fullName"]?.string ?? "\(owner)/\(name)"
        description = metadata["description"]?.string ?? json["description"]?.string
        isPrivate = json["private"]?.bool ?? false
        defaultBranch = json["defaultBranch"]?.string ?? "main"
        aliases = strings("aliases")
        keywords = strings("keywords")
        channelAssociations = strings("channelAssociations")
    }

    /// Whether requests from `channel` (an id, or a name with or without '#') belong here.
    func isAssociated(with channel: ChannelInfo) -> Bool {
        channelAssociations.contains { association in
            let bare = association.hasPrefix("#") ? String(association.dropFirst()) : association
            return bare == channel.id || (channel.name.map { bare.lowercased() == $0.lowercased() } ?? false)
        }
    }
}

/// The repository list: the control plane's `GET /repos`, kept in KV `repos:cache` for
/// `Lifetimes.repoCache` (a worker has no memory between requests, so the original's 60 s in-memory
/// cache has no equivalent here).
struct RepoDirectory: Sendable {
    let controlPlane: ControlPlaneClient
    let kv: any KVNamespace

    static let cacheKey = "repos:cache"

    func list() async throws -> [Repo] {
        if let cached = try await kv.get(Self.cacheKey), let value = try? JSON.parse(cached), let items = value.array {
            return items.compactMap(Repo.init)
        }
        let items = try await controlPlane.repositories()
        do {
            try await kv.put(Self.cacheKey, JSON.array(items).bytes, expiresIn: Lifetimes.repoCache)
        } catch {
            // A list too large for one KV value is still a list: it is only fetched more often.
            Log.warn("repository list not cached: \(error)")
        }
        return items.compactMap(Repo.init)
    }

    /// The repository named `id` (`owner/name`, any case), if the list has it.
    func find(_ id: String) async throws -> Repo? {
        try await list().first { $0.id == id.lowercased() }
    }
}
