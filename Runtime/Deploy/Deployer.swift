import Foundation
import RuntimeCrypto

/// What `runtime deploy`, `versions` and `rollback` do, on the CLI's side: find the app, check its
/// manifest, compile it into a new version in the state directory, and make that version serve, through
/// the running runtime's admin API when one runs (it loads the module and switches over), or for the next
/// start when none does (then this process loads the module once, to refuse one that cannot load).
///
/// A version that does not compile or load is removed again; the active version keeps serving.
public struct Deployer: Sendable {
    public let stateDirectory: String
    public let store: AppStore
    public let compiler: AppCompiler

    public init(stateDirectory: String, compiler: AppCompiler) {
        self.stateDirectory = stateDirectory
        store = AppStore(stateDirectory: stateDirectory)
        self.compiler = compiler
    }

    public struct Result: Sendable {
        public let name: String
        public let version: Int
        /// Seconds from the start of the deploy to the version serving.
        public let seconds: Double
        /// False when no runtime was running: the version serves from its next start.
        public let live: Bool
        /// True when `ifChanged` found nothing new (nothing was built or activated).
        public var unchanged = false
    }

    /// Finds an app folder: a path to a folder with an `app.jsonc`, or a name under `Apps/` (the folder's
    /// name, or the `name` in its manifest).
    public static func locate(_ app: String, appsRoot: String = "Apps") throws(DeployError) -> String {
        var isDirectory: ObjCBool = false
        if FileManager.default.fileExists(atPath: app, isDirectory: &isDirectory), isDirectory.boolValue {
            guard FileManager.default.fileExists(atPath: app + "/" + AppManifest.fileName) else {
                throw .unreadable(path: app, reason: "no \(AppManifest.fileName) in it")
            }
            return app
        }
        var candidates: [String] = []
        if let walker = FileManager.default.enumerator(atPath: appsRoot) {
            while let item = walker.nextObject() as? String {
                guard item.hasSuffix("/" + AppManifest.fileName) || item == AppManifest.fileName else { continue }
                if item.split(separator: "/").count > 3 { continue }
                candidates.append(appsRoot + "/" + String(item.dropLast(AppManifest.fileName.count + 1)))
            }
        }
        for folder in candidates.sorted() {
            let folderName = (folder as NSString).lastPathComponent
            if folderName == app || Self.kebab(folderName) == app { return folder }
            if let text = try? String(contentsOfFile: folder + "/" + AppManifest.fileName, encoding: .utf8),
               let manifest = try? AppManifest.parse(text), manifest.name == app {
                return folder
            }
        }
        let known = candidates.map { ($0 as NSString).lastPathComponent }.sorted()
        throw .unreadable(path: app, reason: "no such folder, and no app of that name under \(appsRoot)/"
            + (known.isEmpty ? "" : " (found: \(known.joined(separator: ", ")))"))
    }

    /// "ControlPlane" → "control-plane".
    static func kebab(_ name: String) -> String {
        var out = ""
        for (index, character) in name.enumerated() {
            if character.isUppercase, index > 0 { out += "-" }
            out += character.lowercased()
        }
        return out
    }

    public static func readManifest(folder: String) throws(DeployError) -> AppManifest {
        let path = folder + "/" + AppManifest.fileName
        let text: String
        do {
            text = try String(contentsOfFile: path, encoding: .utf8)
        } catch {
            throw .manifest(.unreadable(path: path, reason: "\(error)"))
        }
        do {
            return try AppManifest.parse(text)
        } catch {
            throw .manifest(error)
        }
    }

    /// Builds and activates a new version of the app in `folder`. `progress` hears each step.
    /// `vars` replace or add to the manifest's own (`runtime deploy --var`), and are recorded with the version.
    /// With `ifChanged`, an app whose active version was built from the same sources and manifest is
    /// left as it is (the result's `unchanged` is true).
    public func deploy(folder: String, vars: [String: String] = [:], ifChanged: Bool = false,
                       progress: (String) -> Void) throws(DeployError) -> Result {
        let started = Date()
        var manifest = try Self.readManifest(folder: folder)
        do {
            try manifest.overrideVars(vars)
        } catch {
            throw .manifest(error)
        }
        if ifChanged, let active = store.activeVersion(manifest.name),
           let recorded = store.versions(manifest.name).first(where: { $0.number == active }),
           recorded.sourceDigest == Self.digest(folder: folder, manifest: manifest),
           (try? store.manifest(manifest.name, active)) == manifest {
            var result = Result(name: manifest.name, version: active, seconds: Date().timeIntervalSince(started), live: false)
            result.unchanged = true
            return result
        }
        let version = try store.reserveVersion(manifest.name)
        let moduleName = Self.moduleName(manifest.name, version)
        let sourceCount = try AppCompiler.sources(in: folder, shared: manifest.sharedSources ?? []).count
        do {
            if let assets = manifest.assets {
                let source = URL(fileURLWithPath: folder + "/" + assets).standardizedFileURL.path
                let count = try AssetFolder.files(in: source).count
                progress("copying \(count) asset files from \(assets)")
                try AssetFolder.copy(from: source, to: store.assetsDirectory(manifest.name, version))
            }
            progress("compiling \(manifest.name) version \(version) (\(sourceCount) files)")
            try compiler.compile(folder: folder, manifest: manifest, moduleName: moduleName,
                                 output: store.modulePath(manifest.name, version))
            try store.recordVersion(manifest.name, AppStore.Version(
                number: version, moduleName: moduleName, createdAt: Date().timeIntervalSince1970,
                sourceFolder: URL(fileURLWithPath: folder).standardizedFileURL.path,
                sourceDigest: Self.digest(folder: folder, manifest: manifest)), manifest: manifest)
            let live = try activate(manifest.name, version: version, progress: progress)
            return Result(name: manifest.name, version: version, seconds: Date().timeIntervalSince(started), live: live)
        } catch {
            try? FileManager.default.removeItem(atPath: store.versionDirectory(manifest.name, version))
            throw error
        }
    }

    /// Makes `version` serve: live through the admin API, or recorded for the next start. True when live.
    @discardableResult
    public func activate(_ name: String, version: Int, progress: (String) -> Void) throws(DeployError) -> Bool {
        if let (info, token) = AdminCredentials.running(stateDirectory: stateDirectory) {
            progress("activating version \(version) in the runtime at \(info.url)")
            let client = try AdminClient(info: info, token: token)
            let reply = try client.call("POST", "/v1/apps/\(name)/activate", json: ["version": version])
            guard reply.status == 200 else { throw .loadFailed(path: store.modulePath(name, version), reason: reply.errorText) }
            try store.setActive(name, version)
            return true
        }
        progress("no runtime is running on \(stateDirectory); checking that the module loads")
        _ = try AppLoader.load(store.modulePath(name, version))
        try store.setActive(name, version)
        return false
    }

    /// The version before the active one (the default of `rollback`).
    public func previousVersion(_ name: String) throws(DeployError) -> Int {
        let versions = store.versions(name).map(\.number)
        guard !versions.isEmpty else { throw .unknownApp(name) }
        let active = store.activeVersion(name) ?? versions.last!
        guard let previous = versions.last(where: { $0 < active }) else {
            throw .storage("app \(name) has no version before \(active) to roll back to")
        }
        return previous
    }

    static func moduleName(_ app: String, _ version: Int) -> String {
        let base = app.split(separator: "-").map { $0.prefix(1).uppercased() + $0.dropFirst() }.joined()
        return "App\(base)V\(version)"
    }

    /// A digest of the app's sources, assets and manifest, recorded with each version.
    static func digest(folder: String, manifest: AppManifest) -> String {
        var hasher = SourceHasher()
        for path in (try? AppCompiler.sources(in: folder, shared: manifest.sharedSources ?? [])) ?? [] {
            hasher.add(path)
            hasher.add(FileManager.default.contents(atPath: path) ?? Data())
        }
        if let assets = manifest.assets {
            for file in (try? AssetFolder.files(in: folder + "/" + assets)) ?? [] {
                hasher.add("asset:" + file.relative)
                hasher.add(FileManager.default.contents(atPath: file.absolute) ?? Data())
            }
        }
        hasher.add(FileManager.default.contents(atPath: folder + "/" + AppManifest.fileName) ?? Data())
        return hasher.hex
    }
}


/// SHA-256 over a sequence of strings and blobs.
struct SourceHasher {
    private var bytes: [UInt8] = []
    mutating func add(_ text: String) { bytes += Array(text.utf8) + [0] }
    mutating func add(_ data: Data) { bytes += Array(data) + [0] }
    var hex: String { Hex.encode(Digest.sha256(bytes)) }
}
