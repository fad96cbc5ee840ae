import Foundation
import Synchronization

/// The OpenCode session the bridge talks to, kept in a file so it survives a restart of the bridge and a
/// snapshot restore (the conversation then continues): beside the workspace (its parent directory, which
/// the sandbox's snapshot holds), else in the temporary directory. The file is named after the Dispatch
/// session, so sandboxes that share a parent directory do not share OpenCode sessions.
///
/// Threading: any thread.
final class OpenCodeSessionStore: Sendable {
    /// Where the id is written, preferred first; read from the first that has one.
    let paths: [String]

    private struct State {
        var id: String?
        /// OpenCode confirmed the id during this process's life (`GET /session/{id}`, or it made it).
        var confirmed = false
    }

    private let state: Mutex<State>

    init(config: BridgeConfig) {
        let name = ".dispatch-opencode-session-" + String(config.sessionID.map { character -> Character in
            character.isASCII && (character.isLetter || character.isNumber || "-_.".contains(character)) ? character : "_"
        })
        let parent = (config.workspace as NSString).deletingLastPathComponent
        paths = [(parent as NSString).appendingPathComponent(name), config.temporaryDirectory + "/" + name]
        var found: String?
        for path in paths {
            if let text = try? String(contentsOfFile: path, encoding: .utf8) {
                let id = text.trimmingCharacters(in: .whitespacesAndNewlines)
                if !id.isEmpty {
                    found = id
                    break
                }
            }
        }
        state = Mutex(State(id: found))
    }

    var current: String? { state.withLock { $0.id } }
    /// The id, if OpenCode confirmed it since the bridge started.
    var confirmed: String? { state.withLock { $0.confirmed ? $0.id : nil } }

    func confirm() { state.withLock { $0.confirmed = true } }

    /// OpenCode no longer knows the session: the next prompt makes a new one.
    func forget() { state.withLock { $0 = State() } }

    /// Keeps a session OpenCode just made.
    func save(_ id: String) {
        state.withLock { $0 = State(id: id, confirmed: true) }
        for path in paths {
            do {
                try (id + "\n").write(toFile: path, atomically: true, encoding: .utf8)
                return
            } catch {
                BridgeLog.warn("cannot keep the OpenCode session id in \(path): \(error)")
            }
        }
    }
}
