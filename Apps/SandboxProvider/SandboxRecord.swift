import Foundation
import RuntimeAPI

/// What the provider keeps on disk about one sandbox, in `<root>/sandboxes/<handle>/sandbox.json`:
/// enough to find and kill its processes after the runtime restarted (or a new version of this app
/// loaded), without trusting a pid that may have been reused since.
///
/// Layout of a sandbox's folder:
///
/// ```
/// <root>/sandboxes/local-<hex>/
///   sandbox.json   this record
///   workspace/     the repository checkout (the bridge's working directory; /workspace under bubblewrap)
///   tmp/           the sandbox's private /tmp under bubblewrap
///   home/          HOME for the provider's own git commands (never visible to the sandbox)
///   bridge.log     the bridge's stdout and stderr
/// ```
struct SandboxRecord: Codable, Sendable {
    /// `modal_object_id`: `local-<hex>`.
    var handle: String
    var sandboxID: String
    var sessionID: String
    var repoOwner: String
    var repoName: String
    var createdAt: Int64
    /// Wall-clock milliseconds after which the sandbox is killed.
    var deadline: Int64
    /// The runtime process that started it.
    var owner: ProcessIdentity
    /// The sandbox's leader (bwrap, or the bridge itself), once started. Its pid is also the process
    /// group and session id.
    var leader: ProcessIdentity?
    var restoredFrom: String?

    static let fileName = "sandbox.json"
    static let handlePrefix = "local-"
    static let handleHexBytes = 8

    static func newHandle() -> String { handlePrefix + Encoding.hex(Crypto.randomBytes(handleHexBytes)) }

    static func isHandle(_ text: String) -> Bool {
        guard text.hasPrefix(handlePrefix) else { return false }
        let hex = text.dropFirst(handlePrefix.count)
        return hex.utf8.count == handleHexBytes * 2 && hex.utf8.allSatisfy { ($0 >= 0x30 && $0 <= 0x39) || ($0 >= 0x61 && $0 <= 0x66) }
    }

    /// The environment marker every process of the sandbox inherits (the bridge's environment is fixed
    /// by the contract, so the sandbox id itself serves): used to find stragglers of a dead leader.
    var environmentMarker: String { "SANDBOX_ID=" + sandboxID }
}

/// Paths of one sandbox's folder.
struct SandboxPaths: Sendable {
    let directory: String

    init(config: ProviderConfig, handle: String) {
        precondition(SandboxRecord.isHandle(handle), "sandbox folders are named by handle")
        directory = config.sandboxesDirectory + "/" + handle
    }

    var record: String { directory + "/" + SandboxRecord.fileName }
    var workspace: String { directory + "/workspace" }
    var tmp: String { directory + "/tmp" }
    var home: String { directory + "/home" }
    var bridgeLog: String { directory + "/bridge.log" }

    /// Folders the archive of a snapshot holds, relative to `directory`.
    static let archived = ["workspace", "tmp"]

    func write(_ record: SandboxRecord) throws {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys, .prettyPrinted]
        let data = try encoder.encode(record)
        let temporary = self.record + ".tmp"
        guard FileManager.default.createFile(atPath: temporary, contents: data, attributes: [.posixPermissions: 0o600]) else {
            throw ChildProcess.Failure("cannot write \(temporary)")
        }
        guard rename(temporary, self.record) == 0 else {
            throw ChildProcess.Failure("cannot rename \(temporary): \(String(cString: strerror(errno)))")
        }
    }

    static func read(_ path: String) -> SandboxRecord? {
        guard let data = FileManager.default.contents(atPath: path) else { return nil }
        return try? JSONDecoder().decode(SandboxRecord.self, from: data)
    }
}
