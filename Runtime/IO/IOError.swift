import CURing
#if canImport(Glibc)
import Glibc
#endif

/// A failed system call or io_uring operation, naming the call so a person can act on it.
public struct IOError: Error, CustomStringConvertible, Equatable {
    /// The positive errno value.
    public var errno: Int32
    /// What was being done, e.g. "bind 127.0.0.1:8787".
    public var operation: String

    public init(errno: Int32, _ operation: String) {
        self.errno = errno
        self.operation = operation
    }

    public var description: String {
        "\(operation): \(String(cString: strerror(errno))) (errno \(errno))"
    }
}

/// Runs a system call that reports failure as -1 + errno, retrying EINTR.
@discardableResult
func syscallRetrying(_ operation: @autoclosure () -> String, _ call: () -> Int32) throws(IOError) -> Int32 {
    while true {
        let result = call()
        if result >= 0 { return result }
        let code = Glibc.errno
        if code == EINTR { continue }
        throw IOError(errno: code, operation())
    }
}
