import Foundation

/// A Python fake of an outside service (Tests/Python/<script>), started for one test: it prints
/// "port N" once listening and stops when its stdin closes.
final class FakeService: @unchecked Sendable {
    let process = Process()
    let port: UInt16
    private let stdin = Pipe()

    init(script: String, arguments: [String] = []) throws {
        let path = RuntimeWorld.repoRoot() + "/Tests/Python/" + script
        process.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        process.arguments = ["python3", path] + arguments
        let output = Pipe()
        process.standardOutput = output
        process.standardInput = stdin
        try process.run()
        var line = ""
        while !line.contains("\n") {
            let data = output.fileHandleForReading.availableData
            if data.isEmpty { break }
            line += String(decoding: data, as: UTF8.self)
        }
        guard let range = line.range(of: "port "), let port = UInt16(line[range.upperBound...].prefix { $0.isNumber }) else {
            process.terminate()
            throw SessionSocket.Timeout(description: "\(script) did not start: \(line)")
        }
        self.port = port
    }

    var baseURL: String { "http://127.0.0.1:\(port)" }

    /// Killed outright: closing its stdin is not enough when another child inherited the pipe.
    func stop() {
        try? stdin.fileHandleForWriting.close()
        kill(process.processIdentifier, SIGKILL)
        process.waitUntilExit()
    }
}

/// Throwaway git repositories and keys made with the real tools.
enum Fixtures {
    /// Runs a tool to its end; its output comes back (or, with `quiet`, goes nowhere: for a daemon that
    /// outlives the call and would hold the pipe open).
    @discardableResult
    static func run(_ arguments: [String], in directory: String? = nil, quiet: Bool = false) throws -> String {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        process.arguments = arguments
        if let directory { process.currentDirectoryURL = URL(fileURLWithPath: directory) }
        var environment = ProcessInfo.processInfo.environment
        environment["GIT_AUTHOR_NAME"] = "Fixture"
        environment["GIT_AUTHOR_EMAIL"] = "fixture@example.com"
        environment["GIT_COMMITTER_NAME"] = "Fixture"
        environment["GIT_COMMITTER_EMAIL"] = "fixture@example.com"
        process.environment = environment
        let output = Pipe()
        process.standardOutput = quiet ? FileHandle.nullDevice : output
        process.standardError = quiet ? FileHandle.nullDevice : output
        try process.run()
        let data = quiet ? Data() : output.fileHandleForReading.readDataToEndOfFile()
        process.waitUntilExit()
        let text = String(decoding: data, as: UTF8.self)
        guard process.terminationStatus == 0 else {
            throw SessionSocket.Timeout(description: "\(arguments.joined(separator: " ")) failed: \(text)")
        }
        return text
    }

    /// `<root>/<owner>/<name>.git`, a bare repository whose `main` has one commit with README.md.
    @discardableResult
    static func bareRepository(root: String, owner: String, name: String) throws -> String {
        let bare = "\(root)/\(owner)/\(name).git"
        let work = "\(root)/work-\(name)"
        try FileManager.default.createDirectory(atPath: bare, withIntermediateDirectories: true)
        try run(["git", "init", "--bare", "--initial-branch=main", bare])
        try run(["git", "init", "--initial-branch=main", work])
        try "# \(name)\n".write(toFile: work + "/README.md", atomically: true, encoding: .utf8)
        try run(["git", "add", "README.md"], in: work)
        try run(["git", "commit", "-m", "first"], in: work)
        try run(["git", "push", bare, "main"], in: work)
        return bare
    }

    /// A 2048-bit RSA key as PKCS#8 PEM and its public key PEM file.
    static func rsaKey(in directory: String) throws -> (privatePEM: String, publicPath: String) {
        let privatePath = directory + "/app-key.pem", publicPath = directory + "/app-key.pub.pem"
        try run(["openssl", "genpkey", "-algorithm", "RSA", "-pkeyopt", "rsa_keygen_bits:2048", "-out", privatePath])
        try run(["openssl", "pkey", "-in", privatePath, "-pubout", "-out", publicPath])
        return (try String(contentsOfFile: privatePath, encoding: .utf8), publicPath)
    }
}

/// The built `dispatch-bridge`, beside the test bundle (`swift build` builds it with the tests).
enum DispatchBinaries {
    static func bridge() throws -> String {
        if let explicit = ProcessInfo.processInfo.environment["DISPATCH_BRIDGE_BIN"] { return explicit }
        let bundle = Bundle.main.bundleURL.deletingLastPathComponent().path
        let candidates = [bundle + "/dispatch-bridge", Bundle.main.bundleURL.path + "/dispatch-bridge",
                          RuntimeWorld.repoRoot() + "/.build/debug/dispatch-bridge"]
        guard let found = candidates.first(where: { FileManager.default.isExecutableFile(atPath: $0) }) else {
            throw SessionSocket.Timeout(description: "dispatch-bridge not built (swift build); looked in \(candidates)")
        }
        return found
    }
}

/// A WebSocket held open by a separate process (Tests/Python/hold_socket.py), so killing the process
/// drops the connection without a close frame.
final class HeldSocket: @unchecked Sendable {
    let process = Process()

    init(url: String, headers: [String: String]) throws {
        process.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        process.arguments = ["python3", RuntimeWorld.repoRoot() + "/Tests/Python/hold_socket.py", url]
            + headers.map { "\($0.key): \($0.value)" }
        let output = Pipe()
        process.standardOutput = output
        try process.run()
        var text = ""
        while !text.contains("connected") {
            let data = output.fileHandleForReading.availableData
            if data.isEmpty { throw SessionSocket.Timeout(description: "hold_socket.py did not connect") }
            text += String(decoding: data, as: UTF8.self)
        }
    }

    func kill() {
        Foundation.kill(process.processIdentifier, SIGKILL)
        process.waitUntilExit()
    }
}

/// `git daemon` serving bare repositories over git:// with push enabled: how a sandbox (which sees
/// only its own workspace) reaches the test's repositories over the shared network.
final class GitDaemon: @unchecked Sendable {
    let port: UInt16
    let pidFile: String

    /// Detached (`--detach`), so stopping it is a kill by pid, not a wait on a child.
    init(root: String) throws {
        port = try Self.freePort()
        pidFile = root + "/git-daemon.pid"
        // Through a shell with every descriptor redirected, so nothing of the daemon holds our pipes.
        let command = ["git", "daemon", "--detach", "--pid-file=\(pidFile)", "--reuseaddr", "--listen=127.0.0.1",
                       "--port=\(port)", "--base-path=\(root)", "--export-all", "--enable=receive-pack", root]
            .map { "'" + $0 + "'" }.joined(separator: " ")
        // posix_spawn and waitpid directly: Foundation's Process.waitUntilExit never returns for a child
        // whose own child (the detached daemon) lives on.
        var pid: pid_t = 0
        let argv = ["/bin/sh", "-c", command + " </dev/null >/dev/null 2>&1"]
        var cArguments = argv.map { strdup($0) } + [nil]
        defer { for pointer in cArguments { free(pointer) } }
        guard posix_spawn(&pid, "/bin/sh", nil, nil, &cArguments, environ) == 0 else {
            throw SessionSocket.Timeout(description: "cannot start git daemon")
        }
        var status: Int32 = 0
        _ = waitpid(pid, &status, 0)
        let deadline = Date().addingTimeInterval(10)
        while !Self.accepts(port) {
            guard Date() < deadline else { throw SessionSocket.Timeout(description: "git daemon did not start") }
            usleep(20_000)
        }
    }

    /// `git://127.0.0.1:<port>/{owner}/{name}.git`.
    var urlTemplate: String { "git://127.0.0.1:\(port)/{owner}/{name}.git" }

    func stop() {
        if let text = try? String(contentsOfFile: pidFile, encoding: .utf8), let pid = Int32(text.trimmingCharacters(in: .whitespacesAndNewlines)) {
            kill(pid, SIGKILL)
        }
    }

    private static func freePort() throws -> UInt16 {
        let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        defer { close(fd) }
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_addr.s_addr = inet_addr("127.0.0.1")
        var length = socklen_t(MemoryLayout<sockaddr_in>.size)
        let bound = withUnsafeMutablePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(fd, $0, length) == 0 && getsockname(fd, $0, &length) == 0 }
        }
        guard bound else { throw SessionSocket.Timeout(description: "no free port") }
        return UInt16(bigEndian: address.sin_port)
    }

    private static func accepts(_ port: UInt16) -> Bool {
        let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        defer { close(fd) }
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_addr.s_addr = inet_addr("127.0.0.1")
        address.sin_port = port.bigEndian
        return withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { connect(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) == 0 }
        }
    }
}
