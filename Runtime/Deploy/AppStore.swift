import Foundation

/// Deployed apps on disk, in the state directory:
///
/// ```
/// <state>/apps/<name>/versions/<N>/app.so         the compiled module
///                                 manifest.json   the manifest it was built from
///                                 version.json    when, from where, its module name
/// <state>/apps/<name>/active                      the version that serves ("N")
/// ```
///
/// Versions are numbered from 1; a number is only reused if that version never served (its build
/// failed and was removed). Files are written to a temporary name and renamed,
/// so a crash leaves either the old or the new state, never half of one.
public struct AppStore: Sendable {
    public let stateDirectory: String

    /// Versions kept per app; older ones are removed when a deploy adds one (never the active one).
    public static let maxVersionsKept = 20

    public struct Version: Sendable, Codable, Equatable {
        public var number: Int
        public var moduleName: String
        /// Seconds since 1970.
        public var createdAt: Double
        public var sourceFolder: String
        public var sourceDigest: String
    }

    public init(stateDirectory: String) { self.stateDirectory = stateDirectory }

    public func appDirectory(_ app: String) -> String { stateDirectory + "/apps/" + app }
    public func versionDirectory(_ app: String, _ version: Int) -> String { appDirectory(app) + "/versions/\(version)" }
    public func modulePath(_ app: String, _ version: Int) -> String { versionDirectory(app, version) + "/app.so" }
    /// The copy of the app's assets folder kept with a version.
    public func assetsDirectory(_ app: String, _ version: Int) -> String { versionDirectory(app, version) + "/assets" }

    /// Apps with at least one version, by name.
    public func apps() -> [String] {
        let names = (try? FileManager.default.contentsOfDirectory(atPath: stateDirectory + "/apps")) ?? []
        return names.filter { AppManifest.isAppName($0) && !versions($0).isEmpty }.sorted()
    }

    /// The app's versions, oldest first.
    public func versions(_ app: String) -> [Version] {
        let folder = appDirectory(app) + "/versions"
        let entries = (try? FileManager.default.contentsOfDirectory(atPath: folder)) ?? []
        return entries.compactMap(Int.init).sorted().compactMap { number in
            guard let data = FileManager.default.contents(atPath: versionDirectory(app, number) + "/version.json") else { return nil }
            return try? JSONDecoder().decode(Version.self, from: data)
        }
    }

    public func manifest(_ app: String, _ version: Int) throws(DeployError) -> AppManifest {
        let path = versionDirectory(app, version) + "/manifest.json"
        guard let data = FileManager.default.contents(atPath: path) else { throw .unknownVersion(app: app, version: version) }
        do {
            return try JSONDecoder().decode(AppManifest.self, from: data)
        } catch {
            throw .unreadable(path: path, reason: "\(error)")
        }
    }

    public func activeVersion(_ app: String) -> Int? {
        guard let data = FileManager.default.contents(atPath: appDirectory(app) + "/active") else { return nil }
        return Int(String(decoding: data, as: UTF8.self).trimmingCharacters(in: .whitespacesAndNewlines))
    }

    /// Makes `version` the one that serves (at the next start, or when a running runtime activates it).
    public func setActive(_ app: String, _ version: Int) throws(DeployError) {
        guard versions(app).contains(where: { $0.number == version }) else { throw .unknownVersion(app: app, version: version) }
        try Self.writeAtomically(Data(String(version).utf8), to: appDirectory(app) + "/active")
    }

    /// A new, empty version folder and its number.
    public func reserveVersion(_ app: String) throws(DeployError) -> Int {
        let next = (versions(app).map(\.number).max() ?? 0) + 1
        let folderContents = (try? FileManager.default.contentsOfDirectory(atPath: appDirectory(app) + "/versions")) ?? []
        let taken = folderContents.compactMap(Int.init).max() ?? 0
        let number = max(next, taken + 1)
        do {
            try FileManager.default.createDirectory(atPath: versionDirectory(app, number), withIntermediateDirectories: true,
                                                    attributes: [.posixPermissions: 0o700])
        } catch {
            throw .storage("cannot create \(versionDirectory(app, number)): \(error)")
        }
        return number
    }

    /// Records a built version (its module must already be at `modulePath`).
    public func recordVersion(_ app: String, _ version: Version, manifest: AppManifest) throws(DeployError) {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.prettyPrinted, .sortedKeys]
        do {
            try Self.writeAtomically(try encoder.encode(manifest), to: versionDirectory(app, version.number) + "/manifest.json")
            try Self.writeAtomically(try encoder.encode(version), to: versionDirectory(app, version.number) + "/version.json")
        } catch let error as DeployError {
            throw error
        } catch {
            throw .storage("cannot record version \(version.number) of \(app): \(error)")
        }
        prune(app)
    }

    /// Removes the oldest versions past `maxVersionsKept`, never the active one.
    func prune(_ app: String) {
        let all = versions(app)
        guard all.count > Self.maxVersionsKept else { return }
        let active = activeVersion(app)
        for version in all.prefix(all.count - Self.maxVersionsKept) where version.number != active {
            try? FileManager.default.removeItem(atPath: versionDirectory(app, version.number))
        }
    }

    static func writeAtomically(_ data: Data, to path: String) throws(DeployError) {
        let temporary = path + ".tmp-\(getpid())"
        guard FileManager.default.createFile(atPath: temporary, contents: data, attributes: [.posixPermissions: 0o600]) else {
            throw .storage("cannot write \(temporary)")
        }
        let fd = open(temporary, O_RDONLY)
        if fd >= 0 {
            fsync(fd)
            close(fd)
        }
        guard rename(temporary, path) == 0 else {
            throw .storage("cannot rename \(temporary) to \(path): \(String(cString: strerror(errno)))")
        }
        let directory = (path as NSString).deletingLastPathComponent
        let dirFD = open(directory, O_RDONLY | O_DIRECTORY)
        if dirFD >= 0 {
            fsync(dirFD)
            close(dirFD)
        }
    }
}
