/// The identity of a Durable Object: 32 bytes, shown as 64 lowercase hex digits. Made by a namespace
/// (`idFromName`, `newUniqueId`, `idFromString`), which also checks that an id given back as text was
/// made by that same namespace.
public struct ObjectID: Hashable, Sendable, CustomStringConvertible {
    /// The 32 bytes: 16 bytes of identity, then 16 bytes of MAC binding them to the namespace.
    public let bytes: [UInt8]
    /// The name it was derived from, for `idFromName` ids.
    public let name: String?

    /// Made by the runtime's namespaces; apps get ids from a namespace.
    public init(bytes: [UInt8], name: String?) {
        precondition(bytes.count == 32, "an object id is 32 bytes")
        self.bytes = bytes
        self.name = name
    }

    /// 64 lowercase hex digits.
    public var hex: String {
        let digits = Array("0123456789abcdef".utf8)
        var out = [UInt8]()
        out.reserveCapacity(64)
        for byte in bytes {
            out.append(digits[Int(byte >> 4)])
            out.append(digits[Int(byte & 0x0F)])
        }
        return String(decoding: out, as: UTF8.self)
    }

    public var description: String { hex }

    public static func == (a: ObjectID, b: ObjectID) -> Bool { a.bytes == b.bytes }
    public func hash(into hasher: inout Hasher) { hasher.combine(bytes) }
}
