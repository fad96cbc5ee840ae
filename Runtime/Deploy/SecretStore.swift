import Foundation
import RuntimeCrypto

/// Apps' secrets, encrypted at rest with AES-256-GCM under a key of the state directory
/// (`<state>/secrets.key`, 32 random bytes, mode 0600). Each app's secrets are one sealed box,
/// `<state>/apps/<name>/secrets.sealed`, bound to the app's name (associated data), so a box copied to
/// another app does not open.
///
/// Values are never printed or logged: `names` lists names only, and errors never carry values.
public struct SecretStore: Sendable {
    public let stateDirectory: String

    /// Longest secret value.
    public static let maxValueBytes = 64 * 1024
    /// Most secrets per app.
    public static let maxSecretsPerApp = 128

    public init(stateDirectory: String) { self.stateDirectory = stateDirectory }

    private var keyPath: String { stateDirectory + "/secrets.key" }
    private func boxPath(_ app: String) -> String { stateDirectory + "/apps/" + app + "/secrets.sealed" }

    /// The state directory's key, made on first use.
    func key() throws(DeployError) -> [UInt8] {
        if let data = FileManager.default.contents(atPath: keyPath) {
            guard data.count == AESGCM.keyBytes else { throw .storage("\(keyPath) is damaged (expected \(AESGCM.keyBytes) bytes)") }
            return Array(data)
        }
        let key = SecureRandom.bytes(AESGCM.keyBytes)
        try AppStore.writeAtomically(Data(key), to: keyPath)
        return key
    }

    /// All of an app's secrets (for its `env`).
    public func values(_ app: String) throws(DeployError) -> [String: String] {
        guard let sealed = FileManager.default.contents(atPath: boxPath(app)) else { return [:] }
        let plain: [UInt8]
        do {
            plain = try AESGCM.openBox(Array(sealed), key: try key(), associatedData: Array(app.utf8))
        } catch let error as DeployError {
            throw error
        } catch {
            throw .storage("the secrets of \(app) do not decrypt (wrong or replaced secrets.key?)")
        }
        guard let table = try? JSONDecoder().decode([String: String].self, from: Data(plain)) else {
            throw .storage("the secrets of \(app) are damaged")
        }
        return table
    }

    public func names(_ app: String) throws(DeployError) -> [String] { try values(app).keys.sorted() }

    public func put(_ app: String, name: String, value: String) throws(DeployError) {
        guard value.utf8.count <= Self.maxValueBytes else {
            throw .storage("secret \(name): value over \(Self.maxValueBytes) bytes")
        }
        var table = try values(app)
        table[name] = value
        guard table.count <= Self.maxSecretsPerApp else { throw .storage("at most \(Self.maxSecretsPerApp) secrets per app") }
        try write(app, table)
    }

    /// True if the secret existed.
    @discardableResult
    public func delete(_ app: String, name: String) throws(DeployError) -> Bool {
        var table = try values(app)
        guard table.removeValue(forKey: name) != nil else { return false }
        try write(app, table)
        return true
    }

    private func write(_ app: String, _ table: [String: String]) throws(DeployError) {
        let plain: Data
        do {
            plain = try JSONEncoder().encode(table)
        } catch {
            throw .storage("cannot encode secrets")
        }
        let sealed: [UInt8]
        do {
            sealed = try AESGCM.sealBox(Array(plain), key: try key(), associatedData: Array(app.utf8))
        } catch let error as DeployError {
            throw error
        } catch {
            throw .storage("cannot encrypt the secrets of \(app): \(error)")
        }
        do {
            try FileManager.default.createDirectory(atPath: stateDirectory + "/apps/" + app, withIntermediateDirectories: true,
                                                    attributes: [.posixPermissions: 0o700])
        } catch {
            throw .storage("cannot create the folder of \(app): \(error)")
        }
        try AppStore.writeAtomically(Data(sealed), to: boxPath(app))
    }
}
