import ArgumentParser
import Foundation
import RuntimeDeploy

/// `runtime deploy <app>`: compile and activate a new version.
struct Deploy: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Build an app and make the new version serve (live if a runtime runs on the state directory).",
        discussion: """
            <app> is a folder with an app.jsonc, or the name of one under Apps/ (its folder name, or the name in its \
            manifest). The new version serves at once in a running runtime (in-flight requests finish on the old \
            version; objects move to the new code at their next event; WebSockets stay open), or from the next \
            start. A manifest or module that is refused leaves the old version serving.
            """)

    @Argument(help: "The app folder, or the name of an app under Apps/.")
    var app: String

    @OptionGroup var state: StateOptions

    @Flag(help: "Compile without optimization (faster to build).")
    var debug = false

    @Option(name: .customLong("var"), help: ArgumentHelp(
        "Set a var for this version (repeatable), replacing the manifest's value of that name.", valueName: "NAME=VALUE"))
    var vars: [String] = []

    @Flag(help: "Do nothing when the active version was built from the same sources, manifest and vars.")
    var ifChanged = false

    func run() throws {
        var overrides: [String: String] = [:]
        for item in vars {
            guard let equals = item.firstIndex(of: "="), equals != item.startIndex else {
                throw CLIError("--var \(item): expected NAME=VALUE")
            }
            overrides[String(item[..<equals])] = String(item[item.index(after: equals)...])
        }
        let folder = try Deployer.locate(app)
        var compiler = try AppCompiler.locate(executable: CommandLine.arguments[0])
        if debug { compiler.optimize = false }
        let deployer = Deployer(stateDirectory: state.stateDir, compiler: compiler)
        do {
            let result = try deployer.deploy(folder: folder, vars: overrides, ifChanged: ifChanged) { status in
                printError("deploy: " + status)
            }
            if result.unchanged {
                print("\(result.name) version \(result.version) is up to date")
                return
            }
            let seconds = String(format: "%.2f", result.seconds)
            if result.live {
                print("deployed \(result.name) version \(result.version), serving (\(seconds) s)")
            } else {
                print("deployed \(result.name) version \(result.version); it serves when `runtime serve --state-dir \(state.stateDir)` starts (\(seconds) s)")
            }
        } catch {
            throw CLIError("deploy refused: \(error)")
        }
    }
}

/// `runtime versions <app>`.
struct Versions: ParsableCommand {
    static let configuration = CommandConfiguration(abstract: "List an app's versions; * marks the one that serves.")

    @Argument(help: "The app's name.")
    var app: String

    @OptionGroup var state: StateOptions

    func run() throws {
        let store = AppStore(stateDirectory: state.stateDir)
        let versions = store.versions(app)
        guard !versions.isEmpty else { throw CLIError("no app named \(app) is deployed in \(state.stateDir)") }
        let active = store.activeVersion(app)
        let formatter = ISO8601DateFormatter()
        for version in versions.reversed() {
            let marker = version.number == active ? "*" : " "
            let date = formatter.string(from: Date(timeIntervalSince1970: version.createdAt))
            print("\(marker) \(version.number)\t\(date)\t\(version.sourceDigest.prefix(12))\t\(version.sourceFolder)")
        }
    }
}

/// `runtime rollback <app> [VERSION]`.
struct Rollback: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Make an earlier version serve again (default: the one before the active one).")

    @Argument(help: "The app's name.")
    var app: String

    @Argument(help: "The version to serve (see `runtime versions`).")
    var version: Int?

    @OptionGroup var state: StateOptions

    func run() throws {
        let compiler = (try? AppCompiler.locate(executable: CommandLine.arguments[0]))
            ?? AppCompiler(swiftc: "swiftc", apiModulesDirectory: "")
        let deployer = Deployer(stateDirectory: state.stateDir, compiler: compiler)
        do {
            let target = try version ?? deployer.previousVersion(app)
            let live = try deployer.activate(app, version: target) { printError("rollback: " + $0) }
            print("\(app) version \(target) \(live ? "serving" : "serves from the next start")")
        } catch {
            throw CLIError("rollback refused: \(error)")
        }
    }
}

/// `runtime secret put|list|delete <app> NAME`.
struct Secret: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Manage an app's secrets (encrypted at rest; values are never printed).",
        subcommands: [Put.self, List.self, Delete.self])

    struct Put: ParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Set a secret; its value is read from standard input.")
        @Argument var app: String
        @Argument var name: String
        @OptionGroup var state: StateOptions

        func run() throws {
            let input = FileHandle.standardInput.readDataToEndOfFile()
            var value = String(decoding: input, as: UTF8.self)
            if value.hasSuffix("\n") { value.removeLast() }
            guard !value.isEmpty else { throw CLIError("secret \(name): no value on standard input") }
            try SecretStore(stateDirectory: state.stateDir).put(app, name: name, value: value)
            try notifyRuntime(app, state: state)
            print("secret \(name) of \(app) set")
        }
    }

    struct List: ParsableCommand {
        static let configuration = CommandConfiguration(abstract: "List the names of an app's secrets.")
        @Argument var app: String
        @OptionGroup var state: StateOptions

        func run() throws {
            for name in try SecretStore(stateDirectory: state.stateDir).names(app) { print(name) }
        }
    }

    struct Delete: ParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Remove a secret.")
        @Argument var app: String
        @Argument var name: String
        @OptionGroup var state: StateOptions

        func run() throws {
            guard try SecretStore(stateDirectory: state.stateDir).delete(app, name: name) else {
                throw CLIError("app \(app) has no secret \(name)")
            }
            try notifyRuntime(app, state: state)
            print("secret \(name) of \(app) deleted")
        }
    }

    /// A running runtime picks up the change at once; otherwise it reads secrets at its next start.
    static func notifyRuntime(_ app: String, state: StateOptions) throws {
        guard let (info, token) = AdminCredentials.running(stateDirectory: state.stateDir) else { return }
        let reply = try AdminClient(info: info, token: token).call("POST", "/v1/apps/\(app)/secrets/reload")
        if reply.status == 404 { return }  // not deployed yet: read at activation
        guard reply.status == 200 else { throw CLIError("the runtime did not reload the secrets: \(reply.errorText)") }
    }
}

extension Secret.Put {
    func notifyRuntime(_ app: String, state: StateOptions) throws { try Secret.notifyRuntime(app, state: state) }
}

extension Secret.Delete {
    func notifyRuntime(_ app: String, state: StateOptions) throws { try Secret.notifyRuntime(app, state: state) }
}

/// `runtime tail <app>`.
struct Tail: ParsableCommand {
    static let configuration = CommandConfiguration(abstract: "Follow an app's requests and log lines, live.")

    @Argument(help: "The app's name (or \"builtin\").")
    var app: String

    @Flag(help: "Print the JSON lines as they come instead of a readable form.")
    var json = false

    @OptionGroup var state: StateOptions

    func run() throws {
        guard let (info, token) = AdminCredentials.running(stateDirectory: state.stateDir) else {
            throw CLIError("no runtime is running on \(state.stateDir)")
        }
        let client = try AdminClient(info: info, token: token)
        try client.stream("/v1/apps/\(app)/tail") { line in
            // Unbuffered, so a piped tail shows each line as it comes.
            FileHandle.standardOutput.write(Data(((json ? line : Self.readable(line)) + "\n").utf8))
            return true
        }
    }

    static func readable(_ line: String) -> String {
        guard let object = try? JSONSerialization.jsonObject(with: Data(line.utf8)) as? [String: Any] else { return line }
        if let tail = object["tail"] as? String { return "tailing \(tail) (Ctrl-C to stop)" }
        let time = (object["time"] as? String) ?? ""
        if let method = object["method"] as? String {
            let status = object["status"].map { "\($0)" } ?? "?"
            let ms = object["ms"].map { "\($0)" } ?? "?"
            return "\(time) \(method) \(object["target"] ?? "") \(status) \(ms) ms" + ((object["error"] as? String).map { "  \($0)" } ?? "")
        }
        return "\(time) [\(object["level"] ?? "info")] \(object["msg"] ?? "")"
    }
}

struct CLIError: Error, CustomStringConvertible {
    let description: String
    init(_ description: String) { self.description = description }
}

func printError(_ line: String) {
    FileHandle.standardError.write(Data((line + "\n").utf8))
}
