import Foundation
import RuntimeCrypto

/// The files through which the CLI finds and authenticates to a running runtime's admin API:
/// `<state>/admin.token` (random, mode 0600, kept across restarts) and `<state>/admin.json` (the URL and
/// pid of the runtime serving now).
public enum AdminCredentials {
    public struct Info: Codable, Sendable {
        public var url: String
        public var pid: Int32
    }

    public static func loadOrCreateToken(stateDirectory: String) throws(DeployError) -> String {
        let path = stateDirectory + "/admin.token"
        if let data = FileManager.default.contents(atPath: path) {
            let token = String(decoding: data, as: UTF8.self).trimmingCharacters(in: .whitespacesAndNewlines)
            guard token.count >= 32 else { throw .storage("\(path) is damaged; delete it to make a new token") }
            return token
        }
        let token = Hex.encode(SecureRandom.bytes(32))
        try AppStore.writeAtomically(Data(token.utf8), to: path)
        return token
    }

    public static func writeInfo(stateDirectory: String, url: String, pid: Int32) throws(DeployError) {
        let data: Data
        do {
            data = try JSONEncoder().encode(Info(url: url, pid: pid))
        } catch {
            throw .storage("cannot encode admin info")
        }
        try AppStore.writeAtomically(data, to: stateDirectory + "/admin.json")
    }

    /// The running runtime's admin API, or nil when none runs on this state directory (no info file, or
    /// its process is gone).
    public static func running(stateDirectory: String) -> (info: Info, token: String)? {
        guard let data = FileManager.default.contents(atPath: stateDirectory + "/admin.json"),
              let info = try? JSONDecoder().decode(Info.self, from: data),
              kill(info.pid, 0) == 0 || errno == EPERM,
              let token = try? loadOrCreateToken(stateDirectory: stateDirectory) else { return nil }
        return (info, token)
    }
}
