import Foundation
import RuntimeAPI
import RuntimeCrypto

/// An app's assets folder (manifest field `assets`): checked against the limits and copied into each
/// version at deploy, read back into memory when the version is activated.
public enum AssetFolder {
    /// The folder's files as (path relative to the folder, absolute path), sorted; hidden files and
    /// folders are skipped. Throws when the folder is missing or past a limit.
    public static func files(in folder: String) throws(DeployError) -> [(relative: String, absolute: String)] {
        var isFolder: ObjCBool = false
        guard FileManager.default.fileExists(atPath: folder, isDirectory: &isFolder), isFolder.boolValue,
              let walker = FileManager.default.enumerator(atPath: folder) else {
            throw .unreadable(path: folder, reason: "assets: no such folder")
        }
        var found: [(relative: String, absolute: String)] = []
        var total = 0
        while let item = walker.nextObject() as? String {
            if item.split(separator: "/").contains(where: { $0.hasPrefix(".") }) { continue }
            let absolute = folder + "/" + item
            guard let attributes = try? FileManager.default.attributesOfItem(atPath: absolute),
                  attributes[.type] as? FileAttributeType == .typeRegular else { continue }
            let size = (attributes[.size] as? Int) ?? 0
            guard size <= AppManifest.Limits.maxAssetFileBytes else {
                throw .unreadable(path: absolute, reason: "assets: \(size) bytes; at most \(AppManifest.Limits.maxAssetFileBytes) per file")
            }
            total += size
            found.append((item, absolute))
        }
        guard found.count <= AppManifest.Limits.maxAssetFiles else {
            throw .unreadable(path: folder, reason: "assets: \(found.count) files; at most \(AppManifest.Limits.maxAssetFiles)")
        }
        guard total <= AppManifest.Limits.maxAssetTotalBytes else {
            throw .unreadable(path: folder, reason: "assets: \(total) bytes in all; at most \(AppManifest.Limits.maxAssetTotalBytes)")
        }
        return found.sorted { $0.relative < $1.relative }
    }

    /// Copies the folder's files to `destination` (created), keeping their relative paths.
    public static func copy(from folder: String, to destination: String) throws(DeployError) {
        for file in try files(in: folder) {
            let target = destination + "/" + file.relative
            do {
                try FileManager.default.createDirectory(atPath: (target as NSString).deletingLastPathComponent,
                                                        withIntermediateDirectories: true)
                if FileManager.default.fileExists(atPath: target) { try FileManager.default.removeItem(atPath: target) }
                try FileManager.default.copyItem(atPath: file.absolute, toPath: target)
            } catch {
                throw .storage("cannot copy asset \(file.relative): \(error)")
            }
        }
    }

    /// The files under `folder` as the app sees them; empty when the folder does not exist.
    public static func load(from folder: String) throws(DeployError) -> AppAssets {
        guard FileManager.default.fileExists(atPath: folder) else { return AppAssets() }
        var loaded: [String: AppAssets.File] = [:]
        for file in try files(in: folder) {
            guard let data = FileManager.default.contents(atPath: file.absolute) else {
                throw .unreadable(path: file.absolute, reason: "cannot read the asset")
            }
            let bytes = Array(data)
            loaded[file.relative] = AppAssets.File(bytes: bytes, contentType: AppAssets.contentType(forPath: file.relative),
                                                   etag: "\"" + Hex.encode(Array(Digest.sha256(bytes).prefix(16))) + "\"")
        }
        return AppAssets(files: loaded)
    }
}
