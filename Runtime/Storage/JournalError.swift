/// A commit journal could not be written, read or replayed. Says which file or object, and why.
public struct JournalError: Error, CustomStringConvertible {
    public let description: String
    public init(_ description: String) { self.description = description }
}
