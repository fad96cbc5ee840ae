import Foundation

/// An app's manifest (`app.jsonc` in its folder): what it is called, where it answers, and what it is
/// bound to. JSON with comments, in the spirit of wrangler.jsonc:
///
/// ```jsonc
/// {
///   "name": "chat",                      // lowercase letters, digits, '-'
///   "main": "ChatWorker",                // the type conforming to Worker (with init())
///   "routes": ["/chat/*", "chat.example.com/*"],
///   "vars": { "GREETING": "hello" },
///   "secrets": ["API_KEY"],              // names only; values: `runtime secret put`
///   "durable_objects": [{ "binding": "ROOM", "class_name": "ChatRoom" }],
///   "sql_databases": [{ "binding": "INDEX" }],
///   "kv_namespaces": [{ "binding": "CACHE" }],
///   "services": [{ "binding": "AUTH", "service": "auth" }],
///   "shared_sources": ["../Shared"],      // more source folders, relative to the app's folder
///   "assets": "assets"                    // a folder of files shipped with each version (env.assets)
/// }
/// ```
public struct AppManifest: Sendable, Equatable, Codable {
    public var name: String
    public var main: String
    public var routes: [RoutePattern]
    public var vars: [String: String]
    public var secrets: [String]
    public var durableObjects: [ObjectBinding]
    public var sqlDatabases: [String]
    public var kvNamespaces: [String]
    public var services: [ServiceBinding]
    public var compatibilityDate: String?
    /// Folders (relative to the app's folder) whose Swift files are compiled into the app too: code that
    /// several apps share. Nil in manifests recorded before the field existed.
    public var sharedSources: [String]?
    /// A folder (relative to the app's folder) whose files are copied into each version and handed to
    /// the app as `env.assets`: templates, stylesheets, scripts. Nil when the app has none.
    public var assets: String?

    public struct ObjectBinding: Sendable, Equatable, Codable {
        public var binding: String
        public var className: String
    }

    public struct ServiceBinding: Sendable, Equatable, Codable {
        public var binding: String
        public var service: String
    }

    /// Limits on what a manifest may declare.
    public enum Limits {
        public static let maxNameBytes = 63
        public static let maxRoutes = 100
        public static let maxVars = 128
        public static let maxVarValueBytes = 5 * 1024
        public static let maxBindings = 64
        public static let maxBindingNameBytes = 64
        public static let maxSharedSources = 16
        /// Files in an app's assets folder, each file's size, and their total.
        public static let maxAssetFiles = 512
        public static let maxAssetFileBytes = 4 * 1024 * 1024
        public static let maxAssetTotalBytes = 32 * 1024 * 1024
    }

    /// The file a manifest lives in, in the app's folder.
    public static let fileName = "app.jsonc"

    static let knownFields: Set<String> = [
        "name", "main", "routes", "vars", "secrets", "durable_objects", "sql_databases", "kv_namespaces", "services",
        "compatibility_date", "shared_sources", "assets",
    ]

    /// Reads and checks a manifest. Every error names the field and the problem.
    public static func parse(_ text: String) throws(ManifestError) -> AppManifest {
        let root: Any
        do {
            root = try JSONC.parse(text)
        } catch {
            throw .syntax("\(error)")
        }
        guard let object = root as? [String: Any] else { throw .syntax("the top level must be an object") }
        for key in object.keys where !knownFields.contains(key) {
            throw .unknownField(key)
        }
        let name = try string(object, "name", required: true)!
        guard Self.isAppName(name) else {
            throw .badValue(field: "name", reason: "use 1 to \(Limits.maxNameBytes) lowercase letters, digits and '-', starting with a letter")
        }
        let main = try string(object, "main", required: true)!
        guard isSwiftIdentifier(main) else { throw .badValue(field: "main", reason: "\"\(main)\" is not a Swift type name") }

        var routes: [RoutePattern] = []
        if let list = object["routes"] {
            guard let items = list as? [Any] else { throw .badType(field: "routes", expected: "an array of strings") }
            guard items.count <= Limits.maxRoutes else { throw .badValue(field: "routes", reason: "at most \(Limits.maxRoutes)") }
            for (index, item) in items.enumerated() {
                guard let text = item as? String else { throw .badType(field: "routes[\(index)]", expected: "a string") }
                do {
                    routes.append(try RoutePattern(text))
                } catch {
                    throw .badRoute(pattern: text, reason: error.reason)
                }
            }
        }

        var vars: [String: String] = [:]
        if let table = object["vars"] {
            guard let entries = table as? [String: Any] else { throw .badType(field: "vars", expected: "an object of strings") }
            guard entries.count <= Limits.maxVars else { throw .badValue(field: "vars", reason: "at most \(Limits.maxVars)") }
            for (key, value) in entries {
                try checkBindingName(key, field: "vars")
                guard let text = value as? String else { throw .badType(field: "vars.\(key)", expected: "a string") }
                guard text.utf8.count <= Limits.maxVarValueBytes else {
                    throw .badValue(field: "vars.\(key)", reason: "at most \(Limits.maxVarValueBytes) bytes")
                }
                vars[key] = text
            }
        }

        var secrets: [String] = []
        if let list = object["secrets"] {
            guard let items = list as? [Any] else { throw .badType(field: "secrets", expected: "an array of names") }
            for (index, item) in items.enumerated() {
                guard let name = item as? String else { throw .badType(field: "secrets[\(index)]", expected: "a string") }
                try checkBindingName(name, field: "secrets[\(index)]")
                secrets.append(name)
            }
        }

        let durableObjects = try objectList(object, "durable_objects") { (entry, field) throws(ManifestError) in
            let binding = try bindingName(entry, field: field)
            let className = try string(entry, "class_name", required: true, prefix: field)!
            guard isSwiftIdentifier(className) else {
                throw .badValue(field: field + ".class_name", reason: "\"\(className)\" is not a Swift type name")
            }
            return ObjectBinding(binding: binding, className: className)
        }
        let sqlDatabases = try objectList(object, "sql_databases") { (entry, field) throws(ManifestError) in
            try bindingName(entry, field: field)
        }
        let kvNamespaces = try objectList(object, "kv_namespaces") { (entry, field) throws(ManifestError) in
            try bindingName(entry, field: field)
        }
        let services = try objectList(object, "services") { (entry, field) throws(ManifestError) in
            let binding = try bindingName(entry, field: field)
            let service = try string(entry, "service", required: true, prefix: field)!
            guard isAppName(service) else { throw .badValue(field: field + ".service", reason: "\"\(service)\" is not an app name") }
            return ServiceBinding(binding: binding, service: service)
        }
        var sharedSources: [String] = []
        if let list = object["shared_sources"] {
            guard let items = list as? [Any] else { throw .badType(field: "shared_sources", expected: "an array of folder paths") }
            guard items.count <= Limits.maxSharedSources else {
                throw .badValue(field: "shared_sources", reason: "at most \(Limits.maxSharedSources) folders")
            }
            for (index, item) in items.enumerated() {
                guard let path = item as? String, !path.isEmpty else {
                    throw .badType(field: "shared_sources[\(index)]", expected: "a folder path")
                }
                guard !path.hasPrefix("/") else {
                    throw .badValue(field: "shared_sources[\(index)]", reason: "\"\(path)\" must be relative to the app's folder")
                }
                sharedSources.append(path)
            }
        }
        var assets: String?
        if let field = object["assets"] {
            guard let path = field as? String, !path.isEmpty else { throw .badType(field: "assets", expected: "a folder path") }
            guard !path.hasPrefix("/") else { throw .badValue(field: "assets", reason: "\"\(path)\" must be relative to the app's folder") }
            assets = path
        }
        var manifest = AppManifest(
            name: name, main: main, routes: routes, vars: vars, secrets: secrets, durableObjects: durableObjects,
            sqlDatabases: sqlDatabases, kvNamespaces: kvNamespaces, services: services,
            compatibilityDate: try string(object, "compatibility_date", required: false),
            sharedSources: sharedSources.isEmpty ? nil : sharedSources)
        manifest.assets = assets
        try manifest.checkUniqueBindings()
        return manifest
    }

    /// Replaces or adds `vars` (from `runtime deploy --var`), with the same checks as the manifest's own.
    public mutating func overrideVars(_ overrides: [String: String]) throws(ManifestError) {
        for (key, value) in overrides.sorted(by: { $0.key < $1.key }) {
            try Self.checkBindingName(key, field: "vars.\(key)")
            guard value.utf8.count <= Limits.maxVarValueBytes else {
                throw .badValue(field: "vars.\(key)", reason: "at most \(Limits.maxVarValueBytes) bytes")
            }
            vars[key] = value
        }
        guard vars.count <= Limits.maxVars else { throw .badValue(field: "vars", reason: "at most \(Limits.maxVars) vars") }
        try checkUniqueBindings()
    }

    /// Every binding name (vars, secrets, objects, databases, KV, services) is unique in `env`.
    private func checkUniqueBindings() throws(ManifestError) {
        var seen: [String: String] = [:]
        let all: [(String, String)] = vars.keys.map { ($0, "vars") } + secrets.map { ($0, "secrets") }
            + durableObjects.map { ($0.binding, "durable_objects") } + sqlDatabases.map { ($0, "sql_databases") }
            + kvNamespaces.map { ($0, "kv_namespaces") } + services.map { ($0.binding, "services") }
        guard all.count <= Limits.maxBindings + Limits.maxVars else {
            throw .badValue(field: "bindings", reason: "too many bindings")
        }
        for (name, field) in all {
            if let earlier = seen[name] {
                throw .duplicateBinding(name: name, fields: earlier == field ? [field] : [earlier, field])
            }
            seen[name] = field
        }
    }

    // MARK: Field helpers

    private static func string(_ object: [String: Any], _ key: String, required: Bool, prefix: String = "")
        throws(ManifestError) -> String? {
        let field = prefix.isEmpty ? key : prefix + "." + key
        guard let value = object[key] else {
            if required { throw .missingField(field) }
            return nil
        }
        guard let text = value as? String else { throw .badType(field: field, expected: "a string") }
        guard !text.isEmpty else { throw .badValue(field: field, reason: "must not be empty") }
        return text
    }

    private static func objectList<T>(_ object: [String: Any], _ key: String,
                                      _ make: ([String: Any], String) throws(ManifestError) -> T) throws(ManifestError) -> [T] {
        guard let list = object[key] else { return [] }
        guard let items = list as? [Any] else { throw .badType(field: key, expected: "an array of objects") }
        guard items.count <= Limits.maxBindings else { throw .badValue(field: key, reason: "at most \(Limits.maxBindings)") }
        var result: [T] = []
        for (index, item) in items.enumerated() {
            let field = "\(key)[\(index)]"
            guard let entry = item as? [String: Any] else { throw .badType(field: field, expected: "an object") }
            result.append(try make(entry, field))
        }
        return result
    }

    private static func bindingName(_ entry: [String: Any], field: String) throws(ManifestError) -> String {
        let name = try string(entry, "binding", required: true, prefix: field)!
        try checkBindingName(name, field: field + ".binding")
        return name
    }

    private static func checkBindingName(_ name: String, field: String) throws(ManifestError) {
        let valid = !name.isEmpty && name.utf8.count <= Limits.maxBindingNameBytes
            && name.utf8.allSatisfy { ($0 >= 0x30 && $0 <= 0x39) || ($0 >= 0x41 && $0 <= 0x5A) || ($0 >= 0x61 && $0 <= 0x7A) || $0 == 0x5F }
            && !(name.utf8.first! >= 0x30 && name.utf8.first! <= 0x39)
        guard valid else {
            throw .badValue(field: field, reason: "\"\(name)\": use letters, digits and _ (not starting with a digit), at most \(Limits.maxBindingNameBytes)")
        }
    }

    public static func isAppName(_ name: String) -> Bool {
        guard let first = name.utf8.first, first >= 0x61, first <= 0x7A, name.utf8.count <= Limits.maxNameBytes else {
            return false
        }
        return name.utf8.allSatisfy { ($0 >= 0x61 && $0 <= 0x7A) || ($0 >= 0x30 && $0 <= 0x39) || $0 == 0x2D }
    }

    static func isSwiftIdentifier(_ name: String) -> Bool {
        guard let first = name.unicodeScalars.first, first == "_" || first.properties.isAlphabetic else { return false }
        return name.unicodeScalars.allSatisfy { $0 == "_" || $0.properties.isAlphabetic || ("0"..."9").contains($0) }
    }
}

/// Why a manifest was refused: which field, and what is wrong with it.
public enum ManifestError: Error, CustomStringConvertible, Equatable {
    case syntax(String)
    case unknownField(String)
    case missingField(String)
    case badType(field: String, expected: String)
    case badValue(field: String, reason: String)
    case badRoute(pattern: String, reason: String)
    case duplicateBinding(name: String, fields: [String])
    case unreadable(path: String, reason: String)

    public var description: String {
        switch self {
        case .syntax(let reason): "manifest: \(reason)"
        case .unknownField(let field): "manifest: unknown field \"\(field)\" (known: \(AppManifest.knownFields.sorted().joined(separator: ", ")))"
        case .missingField(let field): "manifest: \"\(field)\" is required"
        case .badType(let field, let expected): "manifest: \"\(field)\" must be \(expected)"
        case .badValue(let field, let reason): "manifest: \"\(field)\": \(reason)"
        case .badRoute(let pattern, let reason): "manifest: route \"\(pattern)\": \(reason)"
        case .duplicateBinding(let name, let fields):
            "manifest: binding name \"\(name)\" is used more than once (in \(fields.joined(separator: " and ")))"
        case .unreadable(let path, let reason): "manifest: cannot read \(path): \(reason)"
        }
    }
}
