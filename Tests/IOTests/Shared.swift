import Synchronization

/// A value several threads of a test read and write.
final class Shared<Value>: @unchecked Sendable {
    private let mutex: Mutex<Void> = Mutex(())
    private var value: Value
    init(_ value: Value) { self.value = value }
    func withLock<T>(_ body: (inout Value) -> T) -> T {
        mutex.withLock { _ in body(&value) }
    }
}
