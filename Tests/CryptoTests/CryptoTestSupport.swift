import Foundation
@testable import RuntimeCrypto

// Shared parts of the crypto tests: hex literals for published vectors, and the `openssl` command line as an
// independent implementation to make keys with and to check our signatures against.

/// The bytes of a hex literal from a published vector; a typo in the literal is a test bug, so it traps.
func bytes(hex: String) -> [UInt8] {
    guard let decoded = Hex.decode(hex) else { preconditionFailure("not hex: \(hex)") }
    return decoded
}

struct ToolError: Error, CustomStringConvertible {
    let description: String
}

/// What a finished command printed, and how it exited.
struct ToolResult {
    let status: Int32
    let output: String
}

/// Runs `arguments` (a program on PATH and its arguments) with stdin on /dev/null, so nothing it does can wait
/// for a terminal, and returns its exit status and its stdout and stderr together.
@discardableResult
func runTool(_ arguments: [String]) throws -> ToolResult {
    let process = Process()
    process.executableURL = URL(fileURLWithPath: "/usr/bin/env")
    process.arguments = arguments
    process.standardInput = FileHandle.nullDevice
    let output = Pipe()
    process.standardOutput = output
    process.standardError = output
    try process.run()
    let text = String(decoding: output.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
    process.waitUntilExit()
    return ToolResult(status: process.terminationStatus, output: text)
}

/// Runs `openssl` with `arguments` and throws unless it exits 0.
func openssl(_ arguments: String...) throws {
    let result = try runTool(["openssl"] + arguments)
    guard result.status == 0 else {
        let command = "openssl " + arguments.joined(separator: " ")
        throw ToolError(description: "\(command) exited \(result.status): \(result.output)")
    }
}

/// A fresh directory under the system temporary directory; `remove()` deletes it and everything in it.
/// Keys made for a test live here and nowhere else.
struct ScratchDirectory {
    let path: String

    init() throws {
        path = NSTemporaryDirectory() + "crypto-test-" + UUID().uuidString
        try FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: true)
    }

    func file(_ name: String) -> String { path + "/" + name }

    func read(_ name: String) throws -> String { try String(contentsOfFile: file(name), encoding: .utf8) }

    func write(_ name: String, _ bytes: [UInt8]) throws {
        try Data(bytes).write(to: URL(fileURLWithPath: file(name)))
    }

    func remove() { try? FileManager.default.removeItem(atPath: path) }
}
