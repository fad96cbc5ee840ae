/// The on-disk layout of a commit journal file.
///
/// A file starts with one header block, then records back to back:
///
/// ```
/// header (JournalFormat.headerBytes, zero-padded):  "RTJRNL01"  generation:u64  crc32c(first 16 bytes):u32
/// record:  magic:u32  payloadLength:u32  crc32c(payload):u32  zero:u32
///          payload = generation:u64  lsn:u64  pathLength:u16  path  operation*
/// operation:  kind:u8  then, by kind:
///          put     keyLength:u32 key valueLength:u32 value
///          delete  keyLength:u32 key
///          setAlarm time:i64            deleteAlarm (nothing)
///          changeset length:u32 bytes   (an SQLite session changeset of app tables)
/// ```
///
/// All integers are little-endian. A file is reused after it is retired, under a higher generation, so
/// a valid-looking record left over from an earlier use is told apart by its generation. Reading stops
/// at the first record that is not whole, not checksummed right, or not of the header's generation:
/// that is where the last write before a crash ended.
/// One step of a journaled transaction. Key-value and alarm writes are logged as what the runtime did
/// (cheaper than asking SQLite for a changeset); app SQL writes as a changeset of the app's tables.
public enum JournalOperation: Equatable, Sendable {
    case put(key: String, value: [UInt8])
    case delete(key: String)
    case setAlarm(Int64)
    case deleteAlarm
    case changeset([UInt8])
}

enum JournalFormat {
    static let headerMagic: [UInt8] = Array("RTJRNL01".utf8)
    static let recordMagic: UInt32 = 0x3143_5252  // "RRC1"
    /// The header takes a whole block, so records never share a block with it.
    static let headerBytes = 4096
    static let recordPrefixBytes = 16
    /// generation + lsn + path length.
    static let payloadFixedBytes = 18
    /// Largest record accepted when reading; anything claiming more is a torn length field.
    static let maxRecordBytes = 64 * 1024 * 1024

    /// One object's committed transaction, as journaled.
    struct Record: Equatable {
        /// The object's database, relative to the journal's root directory.
        var path: String
        /// The object's transaction number (its stored lsn after this transaction).
        var lsn: UInt64
        /// What the transaction did, in order.
        var operations: [JournalOperation]
    }

    enum Kind: UInt8 {
        case put = 1, delete = 2, setAlarm = 3, deleteAlarm = 4, changeset = 5
    }

    static func header(generation: UInt64) -> [UInt8] {
        var bytes = headerMagic
        append(generation, to: &bytes)
        append(CRC32C.checksum(bytes), to: &bytes)
        bytes += [UInt8](repeating: 0, count: headerBytes - bytes.count)
        return bytes
    }

    /// The generation a header block holds, or nil if it is not a valid header.
    static func generation(ofHeader bytes: UnsafeRawBufferPointer) -> UInt64? {
        guard bytes.count >= 20, Array(bytes[0..<8]) == headerMagic else { return nil }
        let crc = CRC32C.checksum(UnsafeRawBufferPointer(rebasing: bytes[0..<16]))
        guard read(UInt32.self, bytes, at: 16) == crc else { return nil }
        return read(UInt64.self, bytes, at: 8)
    }

    /// Appends one encoded record to `out`.
    static func encode(_ record: Record, generation: UInt64, into out: inout [UInt8]) {
        let path = Array(record.path.utf8)
        precondition(path.count <= Int(UInt16.max), "journal path too long")
        var payload: [UInt8] = []
        payload.reserveCapacity(encodedSize(of: record) - recordPrefixBytes)
        append(generation, to: &payload)
        append(record.lsn, to: &payload)
        append(UInt16(path.count), to: &payload)
        payload += path
        for operation in record.operations { encode(operation, into: &payload) }
        append(recordMagic, to: &out)
        append(UInt32(payload.count), to: &out)
        append(CRC32C.checksum(payload), to: &out)
        append(UInt32(0), to: &out)
        out += payload
    }

    static func encodedSize(of record: Record) -> Int {
        recordPrefixBytes + payloadFixedBytes + record.path.utf8.count
            + record.operations.reduce(0) { $0 + encodedSize(of: $1) }
    }

    static func encodedSize(of operation: JournalOperation) -> Int {
        switch operation {
        case .put(let key, let value): 9 + key.utf8.count + value.count
        case .delete(let key): 5 + key.utf8.count
        case .setAlarm: 9
        case .deleteAlarm: 1
        case .changeset(let bytes): 5 + bytes.count
        }
    }

    static func encode(_ operation: JournalOperation, into out: inout [UInt8]) {
        switch operation {
        case .put(let key, let value):
            out.append(Kind.put.rawValue)
            appendBytes(Array(key.utf8), to: &out)
            appendBytes(value, to: &out)
        case .delete(let key):
            out.append(Kind.delete.rawValue)
            appendBytes(Array(key.utf8), to: &out)
        case .setAlarm(let time):
            out.append(Kind.setAlarm.rawValue)
            append(time, to: &out)
        case .deleteAlarm:
            out.append(Kind.deleteAlarm.rawValue)
        case .changeset(let bytes):
            out.append(Kind.changeset.rawValue)
            appendBytes(bytes, to: &out)
        }
    }

    /// The operations of a record's payload after its path, or nil if they do not parse.
    static func decodeOperations(_ bytes: UnsafeRawBufferPointer) -> [JournalOperation]? {
        var operations: [JournalOperation] = []
        var offset = 0
        func bytesField() -> [UInt8]? {
            guard offset + 4 <= bytes.count else { return nil }
            let length = Int(read(UInt32.self, bytes, at: offset))
            guard offset + 4 + length <= bytes.count else { return nil }
            defer { offset += 4 + length }
            return Array(bytes[(offset + 4)..<(offset + 4 + length)])
        }
        while offset < bytes.count {
            guard let kind = Kind(rawValue: bytes[offset]) else { return nil }
            offset += 1
            switch kind {
            case .put:
                guard let key = bytesField(), let value = bytesField() else { return nil }
                operations.append(.put(key: String(decoding: key, as: UTF8.self), value: value))
            case .delete:
                guard let key = bytesField() else { return nil }
                operations.append(.delete(key: String(decoding: key, as: UTF8.self)))
            case .setAlarm:
                guard offset + 8 <= bytes.count else { return nil }
                operations.append(.setAlarm(read(Int64.self, bytes, at: offset)))
                offset += 8
            case .deleteAlarm:
                operations.append(.deleteAlarm)
            case .changeset:
                guard let changeset = bytesField() else { return nil }
                operations.append(.changeset(changeset))
            }
        }
        return operations
    }

    /// Decodes the records of one file's contents (header included), stopping at the first that is not
    /// valid for the header's generation. Returns nil if the header itself is not valid.
    static func decode(file bytes: [UInt8]) -> (generation: UInt64, records: [Record])? {
        bytes.withUnsafeBytes { raw -> (UInt64, [Record])? in
            guard raw.count >= headerBytes, let generation = generation(ofHeader: raw) else { return nil }
            var records: [Record] = []
            var offset = headerBytes
            while offset + recordPrefixBytes <= raw.count {
                guard read(UInt32.self, raw, at: offset) == recordMagic else { break }
                let length = Int(read(UInt32.self, raw, at: offset + 4))
                let start = offset + recordPrefixBytes
                guard length >= payloadFixedBytes, length <= maxRecordBytes, start + length <= raw.count else { break }
                let payload = UnsafeRawBufferPointer(rebasing: raw[start..<(start + length)])
                guard CRC32C.checksum(payload) == read(UInt32.self, raw, at: offset + 8),
                      read(UInt64.self, payload, at: 0) == generation else { break }
                let lsn = read(UInt64.self, payload, at: 8)
                let pathLength = Int(read(UInt16.self, payload, at: 16))
                guard payloadFixedBytes + pathLength <= length else { break }
                let path = String(decoding: payload[payloadFixedBytes..<(payloadFixedBytes + pathLength)], as: UTF8.self)
                guard let operations = decodeOperations(UnsafeRawBufferPointer(rebasing: payload[(payloadFixedBytes + pathLength)...])) else { break }
                records.append(Record(path: path, lsn: lsn, operations: operations))
                offset = start + length
            }
            return (generation, records)
        }
    }

    private static func appendBytes(_ field: [UInt8], to bytes: inout [UInt8]) {
        append(UInt32(field.count), to: &bytes)
        bytes += field
    }

    private static func append<T: FixedWidthInteger>(_ value: T, to bytes: inout [UInt8]) {
        withUnsafeBytes(of: value.littleEndian) { bytes += $0 }
    }

    private static func read<T: FixedWidthInteger>(_: T.Type, _ bytes: UnsafeRawBufferPointer, at offset: Int) -> T {
        var value: T = 0
        withUnsafeMutableBytes(of: &value) { $0.copyMemory(from: UnsafeRawBufferPointer(rebasing: bytes[offset..<(offset + MemoryLayout<T>.size)])) }
        return T(littleEndian: value)
    }
}
