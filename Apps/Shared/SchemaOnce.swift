import RuntimeAPI
import Synchronization

/// The tables of a store on an SQL binding, created (`CREATE ... IF NOT EXISTS`) before the store's
/// first statement in this process and not again: the statements are idempotent, but running them
/// before every query would double its cost. Two first queries racing may both run them; that is
/// harmless for the same reason.
final class SchemaOnce: Sendable {
    private let statements: String
    private let applied = Mutex(false)

    init(_ statements: String) {
        self.statements = statements
    }

    func ensure(on database: any SQLDatabase) async throws {
        if applied.withLock({ $0 }) { return }
        _ = try await database.exec(statements, [])
        applied.withLock { $0 = true }
    }
}
