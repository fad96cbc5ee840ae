import Foundation
import Testing
@testable import RuntimeStorage
import RuntimeAPI
import RuntimeIO

/// One test's storage world: a fresh temporary directory, the loop's `GroupCommit`, and an
/// `ObjectStorage` on a database file in that directory.
///
/// Threading: loop-bound. `withStorage` makes it on the loop and runs the test body there; nothing of it
/// leaves the loop.
final class StorageBench {
    let loop: Loop
    let groupCommit: GroupCommit
    let directory: String
    let path: String
    private(set) var storage: ObjectStorage

    init(loop: Loop, directory: String) throws {
        loop.preconditionOnLoop()
        self.loop = loop
        self.directory = directory
        path = directory + "/object.sqlite"
        groupCommit = GroupCommit(loop: loop)
        storage = try ObjectStorage(path: path, groupCommit: groupCommit)
    }

    /// Closes the database and opens the same file with a new `ObjectStorage`, as a restarted object
    /// would. Call only once everything written is durable (or the storage is broken).
    @discardableResult
    func reopen() throws -> ObjectStorage {
        storage.close()
        storage = try ObjectStorage(path: path, groupCommit: groupCommit)
        return storage
    }

    /// Lets the current loop turn end (and so its group commit run) before continuing. The loop runs
    /// end-of-turn handlers in the order they asked; the group commit asked at the turn's first write,
    /// so it has committed by the time `ResumeNextTurn` resumes this task, which then runs next turn.
    func nextTurn() async throws {
        await withCheckedContinuation { continuation in
            loop.atEndOfTurn(ResumeNextTurn(continuation))
        }
    }

    func close() { storage.close() }
}

/// Resumes a waiting test at the end of the loop turn.
private final class ResumeNextTurn: EndOfTurnHandler {
    let continuation: CheckedContinuation<Void, Never>
    init(_ continuation: CheckedContinuation<Void, Never>) { self.continuation = continuation }
    func endOfTurn() { continuation.resume() }
}

/// Runs `body` on a new one-loop group with fresh storage in a new directory under /tmp, then closes
/// the database, stops the loop and removes the directory, whatever the body did.
func withStorage<T: Sendable>(_ body: @escaping @Sendable (StorageBench) async throws -> T) async throws -> T {
    let directory = try makeTemporaryDirectory()
    defer { try? FileManager.default.removeItem(atPath: directory) }
    let group = try LoopGroup(count: 1, namePrefix: "storage-test")
    defer { group.stop(); group.join() }
    let loop = group.loops[0]
    return try await Task(executorPreference: loop.taskExecutor) {
        await loop.hopHere()
        let bench = try StorageBench(loop: loop, directory: directory)
        defer { bench.close() }
        return try await body(bench)
    }.value
}

/// A new, empty directory under /tmp (mkdtemp).
func makeTemporaryDirectory() throws -> String {
    var template = Array("/tmp/storage-tests-XXXXXX".utf8CString)
    let made = template.withUnsafeMutableBufferPointer { mkdtemp($0.baseAddress!) }
    guard let made else { throw POSIXError(POSIXErrorCode(rawValue: errno) ?? .EIO) }
    return String(cString: made)
}

/// The StorageError `body` throws, or nil (recording an issue) when it throws nothing or something else.
func storageError(_ body: () throws -> Void, sourceLocation: SourceLocation = #_sourceLocation) -> StorageError? {
    do {
        try body()
        Issue.record("expected a StorageError, nothing was thrown", sourceLocation: sourceLocation)
        return nil
    } catch let error as StorageError {
        return error
    } catch {
        Issue.record("expected a StorageError, got \(error)", sourceLocation: sourceLocation)
        return nil
    }
}

extension StorageError {
    /// The case, without its payload, for tables of expected errors.
    var kind: String {
        switch self {
        case .keyTooLarge: "keyTooLarge"
        case .valueTooLarge: "valueTooLarge"
        case .tooManyKeys: "tooManyKeys"
        case .statementTooLarge: "statementTooLarge"
        case .sql: "sql"
        case .notAuthorized: "notAuthorized"
        case .invalidArgument: "invalidArgument"
        case .objectReset: "objectReset"
        }
    }
}

extension ObjectStorage {
    /// Every key-value entry, in list order.
    func allKeys() throws -> [String] { try list().map(\.key) }

    /// Names of the app's tables, views, indexes and triggers (everything but SQLite's and the runtime's).
    func appSchema() throws -> [String] {
        try database.query("""
            SELECT name FROM sqlite_master
            WHERE name NOT LIKE 'sqlite\\_%' ESCAPE '\\' AND name NOT LIKE '\\_rt\\_%' ESCAPE '\\' ORDER BY name
            """).compactMap { $0[0].string }
    }
}

/// An error of the test's own, to throw out of transaction bodies.
struct Abort: Error, Equatable {
    let marker: Int
}
