import Foundation
import RuntimeAPI

/// The provider's own work on a sandbox's files: the git clone and branch of a fresh sandbox, and the
/// tar archives of snapshots. Every function here blocks for as long as git or tar runs: call them
/// through `OffLoop.run`, never on a runtime loop.
enum Workspace {
    /// Longest a clone may take.
    static let cloneTimeout: Duration = .seconds(600)
    /// Longest a branch checkout or config step may take.
    static let gitStepTimeout: Duration = .seconds(60)
    /// Longest archiving or unpacking a workspace may take.
    static let archiveTimeout: Duration = .seconds(900)
    /// `git clone --depth`, as the original's supervisor cloned.
    static let cloneDepth = 1
    /// Where the provider finds git and tar.
    static let toolPath = "/usr/local/bin:/usr/bin:/bin"

    /// The clone URL for a repository.
    static func cloneURL(template: String, owner: String, name: String) -> String {
        template.replacingOccurrences(of: "{owner}", with: owner).replacingOccurrences(of: "{name}", with: name)
    }

    /// Clones `branch` (nil: the default branch) into `paths.workspace`, checks out `dispatch/<session>`
    /// from it and sets the git identity when
    /// given. Throws with git's own words (never the URL's credentials, should the template carry any).
    static func prepareClone(_ paths: SandboxPaths, url: String, sessionID: String, branch: String? = nil, gitUserName: String?,
                             gitUserEmail: String?) throws {
        try makeFolders(paths)
        let pick = branch.map { ["--branch", $0] } ?? []
        let clone = try git(["clone", "--depth", String(cloneDepth), "--quiet"] + pick + ["--", url, paths.workspace], paths: paths,
                            timeout: cloneTimeout)
        guard clone.succeeded else { throw ChildProcess.Failure("git clone failed: " + describe(clone, hiding: url)) }
        let branch = try git(["-C", paths.workspace, "checkout", "--quiet", "-b", "dispatch/" + sessionID], paths: paths,
                             timeout: gitStepTimeout)
        guard branch.succeeded else { throw ChildProcess.Failure("git checkout -b dispatch/\(sessionID) failed: " + describe(branch)) }
        for (key, value) in [("user.name", gitUserName), ("user.email", gitUserEmail)] {
            guard let value else { continue }
            let set = try git(["-C", paths.workspace, "config", "--local", key, value], paths: paths, timeout: gitStepTimeout)
            guard set.succeeded else { throw ChildProcess.Failure("git config \(key) failed: " + describe(set)) }
        }
    }

    /// Unpacks a snapshot archive into a new sandbox folder.
    static func prepareRestore(_ paths: SandboxPaths, archive: String) throws {
        try makeFolders(paths)
        let unpack = try ChildProcess.run(["/usr/bin/env", "tar", "-xzf", archive, "-C", paths.directory, "--no-same-owner"],
                                          environment: toolEnvironment(paths), timeout: archiveTimeout)
        guard unpack.succeeded else { throw ChildProcess.Failure("unpacking the snapshot failed: " + describe(unpack)) }
        guard FileManager.default.fileExists(atPath: paths.workspace) else {
            throw ChildProcess.Failure("the snapshot archive holds no workspace")
        }
        try? FileManager.default.createDirectory(atPath: paths.tmp, withIntermediateDirectories: true)
    }

    /// Archives the workspace and the sandbox's /tmp into `output` (tar.gz). Files changing while tar
    /// reads them (the agent may be running) are archived as tar found them.
    static func archive(_ paths: SandboxPaths, to output: String) throws {
        let present = SandboxPaths.archived.filter { FileManager.default.fileExists(atPath: paths.directory + "/" + $0) }
        let pack = try ChildProcess.run(["/usr/bin/env", "tar", "-czf", output, "-C", paths.directory] + present,
                                        environment: toolEnvironment(paths), timeout: archiveTimeout)
        // GNU tar exits 1 when a file changed while it was read: the archive is still whole.
        guard !pack.timedOut, pack.exitStatus == 0 || pack.exitStatus == 1 else {
            throw ChildProcess.Failure("archiving the workspace failed: " + describe(pack))
        }
    }

    private static func makeFolders(_ paths: SandboxPaths) throws {
        for folder in [paths.directory, paths.tmp, paths.home] {
            try FileManager.default.createDirectory(atPath: folder, withIntermediateDirectories: true,
                                                    attributes: [.posixPermissions: 0o700])
        }
        // The sandbox's /tmp is world-writable with the sticky bit, like any /tmp.
        chmod(paths.tmp, 0o1777)
    }

    private static func git(_ arguments: [String], paths: SandboxPaths, timeout: Duration) throws -> ChildProcess.Outcome {
        try ChildProcess.run(["/usr/bin/env", "git"] + arguments, environment: toolEnvironment(paths), timeout: timeout)
    }

    /// A small, fixed environment for git and tar: no runtime secrets, no terminal prompts.
    private static func toolEnvironment(_ paths: SandboxPaths) -> [String: String] {
        ["PATH": toolPath, "HOME": paths.home, "LC_ALL": "C", "GIT_TERMINAL_PROMPT": "0", "GIT_ASKPASS": "/bin/false"]
    }

    private static func describe(_ outcome: ChildProcess.Outcome, hiding secret: String? = nil) -> String {
        var text = outcome.output.trimmingCharacters(in: .whitespacesAndNewlines)
        if let secret, !secret.isEmpty { text = text.replacingOccurrences(of: secret, with: "<repository>") }
        if outcome.timedOut { return "timed out" + (text.isEmpty ? "" : ": " + text) }
        let how = outcome.exitStatus.map { "exit status \($0)" } ?? "signal \(outcome.signal ?? 0)"
        return text.isEmpty ? how : text + " (" + how + ")"
    }
}

/// Snapshot archives: `<root>/snapshots/snap-<hex>.tar.gz`, with a small JSON beside each.
enum SnapshotStore {
    static let prefix = "snap-"
    static let idHexBytes = 16

    static func newImageID() -> String { prefix + Encoding.hex(Crypto.randomBytes(idHexBytes)) }

    static func isImageID(_ text: String) -> Bool {
        guard text.hasPrefix(prefix) else { return false }
        let hex = text.dropFirst(prefix.count)
        return hex.utf8.count == idHexBytes * 2 && hex.utf8.allSatisfy { ($0 >= 0x30 && $0 <= 0x39) || ($0 >= 0x61 && $0 <= 0x66) }
    }

    static func archivePath(_ config: ProviderConfig, _ imageID: String) -> String {
        precondition(isImageID(imageID), "archives are named by image id")
        return config.snapshotsDirectory + "/" + imageID + ".tar.gz"
    }

    /// Archives the sandbox and records who it came from. Returns nothing: the id was chosen by the caller.
    static func save(_ config: ProviderConfig, paths: SandboxPaths, imageID: String, about: JSON) throws {
        try FileManager.default.createDirectory(atPath: config.snapshotsDirectory, withIntermediateDirectories: true,
                                                attributes: [.posixPermissions: 0o700])
        let final = archivePath(config, imageID)
        let partial = final + ".partial"
        defer { unlink(partial) }
        try Workspace.archive(paths, to: partial)
        guard FileManager.default.createFile(atPath: config.snapshotsDirectory + "/" + imageID + ".json", contents: Data(about.bytes),
                                             attributes: [.posixPermissions: 0o600]) else {
            throw ChildProcess.Failure("cannot write the snapshot's metadata")
        }
        guard rename(partial, final) == 0 else { throw ChildProcess.Failure("cannot store the snapshot: \(String(cString: strerror(errno)))") }
    }
}
