/// Why a deploy (or a deploy command) could not go ahead. Says what to do where it can.
public enum DeployError: Error, CustomStringConvertible, Equatable {
    case manifest(ManifestError)
    case unreadable(path: String, reason: String)
    case toolMissing(String)
    case compileFailed(app: String, output: String)
    case loadFailed(path: String, reason: String)
    case unknownApp(String)
    case unknownVersion(app: String, version: Int)
    case storage(String)
    case admin(String)

    public var description: String {
        switch self {
        case .manifest(let error): error.description
        case .unreadable(let path, let reason): "cannot read \(path): \(reason)"
        case .toolMissing(let what): what
        case .compileFailed(let app, let output): "app \(app) does not compile:\n\(output)"
        case .loadFailed(let path, let reason): "cannot load \(path): \(reason)"
        case .unknownApp(let name): "no app named \(name) is deployed"
        case .unknownVersion(let app, let version): "app \(app) has no version \(version)"
        case .storage(let reason): reason
        case .admin(let reason): reason
        }
    }
}
