#if canImport(Glibc)
import Glibc
#endif

/// Why a /proc read failed.
enum ProcessStatusError: Error, CustomStringConvertible {
    case unreadable(path: String, errno: Int32)
    case missingField(path: String, field: String)

    var description: String {
        switch self {
        case .unreadable(let path, let code): "cannot read \(path): \(String(cString: strerror(code)))"
        case .missingField(let path, let field): "\(path) has no \(field) line"
        }
    }
}

/// What /proc says about a process (its resident memory, its descriptor limit and use), and raising our own
/// descriptor limit. Linux only; `bench ws idle` reads it off the server under test and off itself.
enum ProcessStatus {
    /// Longest /proc file read; status and limits are a few KiB.
    static let maxProcFileBytes = 64 * 1024

    /// Resident set size in bytes: the VmRSS line of /proc/PID/status (given there in kB).
    static func residentBytes(pid: Int32) throws(ProcessStatusError) -> Int {
        let path = "/proc/\(pid)/status"
        let text = try read(path)
        for line in text.split(separator: "\n") where line.hasPrefix("VmRSS:") {
            let fields = line.split(separator: " ", omittingEmptySubsequences: true)
            if fields.count >= 2, let kilobytes = Int(fields[1]) { return kilobytes * 1024 }
        }
        throw .missingField(path: path, field: "VmRSS")
    }

    /// The "Max open files" line of /proc/PID/limits: soft and hard, as written ("1024", "unlimited").
    static func openFileLimit(pid: Int32) throws(ProcessStatusError) -> (soft: String, hard: String) {
        let path = "/proc/\(pid)/limits"
        let text = try read(path)
        for line in text.split(separator: "\n") where line.hasPrefix("Max open files") {
            let fields = line.dropFirst("Max open files".count).split(separator: " ", omittingEmptySubsequences: true)
            if fields.count >= 2 { return (String(fields[0]), String(fields[1])) }
        }
        throw .missingField(path: path, field: "Max open files")
    }

    /// CPU time the process has used, user plus system, in seconds: fields 14 and 15 of /proc/PID/stat
    /// (clock ticks), counted after the command name, which may itself hold spaces.
    static func cpuSeconds(pid: Int32) throws(ProcessStatusError) -> Double {
        let path = "/proc/\(pid)/stat"
        let text = try read(path)
        guard let close = text.lastIndex(of: ")") else { throw .missingField(path: path, field: "comm") }
        // After "pid (comm) " come state (field 3) onwards; utime and stime are fields 14 and 15.
        let fields = text[text.index(after: close)...].split(separator: " ", omittingEmptySubsequences: true)
        guard fields.count > 12, let user = Double(fields[11]), let system = Double(fields[12]) else {
            throw .missingField(path: path, field: "utime/stime")
        }
        return (user + system) / Double(sysconf(Int32(_SC_CLK_TCK)))
    }

    /// How many descriptors the process has open (entries of /proc/PID/fd), or nil when that is not readable.
    static func openDescriptors(pid: Int32) -> Int? {
        guard let directory = opendir("/proc/\(pid)/fd") else { return nil }
        defer { closedir(directory) }
        var count = 0
        while let entry = readdir(directory) {
            let name = withUnsafeBytes(of: entry.pointee.d_name) { String(decoding: $0.prefix { $0 != 0 }, as: UTF8.self) }
            if name != ".", name != ".." { count += 1 }
        }
        return count
    }

    /// Descriptors `holdSpareDescriptors` keeps: enough for the /proc reads, the /proc/PID/fd listing and
    /// the JSON file after the connections have used up every other descriptor.
    static let spareDescriptors = 8

    /// Holds `spareDescriptors` descriptors (on /dev/null) so the reads after a run that hit our own
    /// descriptor limit still work; give them back with `releaseSpareDescriptors` just before those reads.
    static func holdSpareDescriptors() -> [Int32] {
        (0..<spareDescriptors).map { _ in open("/dev/null", O_RDONLY | O_CLOEXEC) }.filter { $0 >= 0 }
    }

    static func releaseSpareDescriptors(_ descriptors: [Int32]) {
        for descriptor in descriptors { close(descriptor) }
    }

    /// Reads a /proc file with read(2): they report a size of 0, so a stat-sized read would get nothing.
    private static func read(_ path: String) throws(ProcessStatusError) -> String {
        let fd = open(path, O_RDONLY | O_CLOEXEC)
        guard fd >= 0 else { throw .unreadable(path: path, errno: errno) }
        defer { close(fd) }
        var bytes: [UInt8] = []
        var chunk = [UInt8](repeating: 0, count: 4096)
        while bytes.count < maxProcFileBytes {
            let count = chunk.withUnsafeMutableBytes { Glibc.read(fd, $0.baseAddress, $0.count) }
            if count < 0, errno == EINTR { continue }
            guard count >= 0 else { throw .unreadable(path: path, errno: errno) }
            if count == 0 { break }
            bytes.append(contentsOf: chunk[..<count])
        }
        return String(decoding: bytes, as: UTF8.self)
    }
}
