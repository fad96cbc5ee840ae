import Foundation

/// A small blocking HTTP/1.1 client for the CLI's calls to a running runtime's admin API (loopback).
/// Never used inside the runtime (loops do their own I/O).
public struct AdminClient: Sendable {
    public let url: String
    let token: String
    let host: String
    let port: UInt16

    /// Largest admin response body read.
    public static let maxResponseBytes = 4 * 1024 * 1024
    /// Seconds a call may take (an activation compiles nothing, but loads a module).
    public static let timeoutSeconds = 120

    public init(info: AdminCredentials.Info, token: String) throws(DeployError) {
        url = info.url
        self.token = token
        guard info.url.hasPrefix("http://") else { throw .admin("admin URL \(info.url) is not http://") }
        let authority = info.url.dropFirst("http://".count)
        guard let colon = authority.lastIndex(of: ":"), let port = UInt16(authority[authority.index(after: colon)...]) else {
            throw .admin("admin URL \(info.url) has no port")
        }
        host = String(authority[..<colon])
        self.port = port
    }

    public struct Reply: Sendable {
        public let status: Int
        public let body: [UInt8]
        public var json: [String: Any]? { try? JSONSerialization.jsonObject(with: Data(body)) as? [String: Any] }
        public var errorText: String { (json?["error"] as? String) ?? String(decoding: body, as: UTF8.self) }
    }

    public func call(_ method: String, _ path: String, json: [String: Any]? = nil) throws(DeployError) -> Reply {
        let fd = try connect()
        defer { close(fd) }
        let body = json.flatMap { try? JSONSerialization.data(withJSONObject: $0) } ?? Data()
        try send(fd, method: method, path: path, body: Array(body))
        var received: [UInt8] = []
        var buffer = [UInt8](repeating: 0, count: 16 * 1024)
        while received.count <= Self.maxResponseBytes {
            let count = buffer.withUnsafeMutableBytes { read(fd, $0.baseAddress, $0.count) }
            if count < 0, errno == EINTR { continue }
            if count <= 0 { break }
            received += buffer[0..<count]
            if let reply = Self.parse(received) { return reply }
        }
        guard let reply = Self.parse(received, complete: true) else { throw .admin("no answer from the runtime at \(url)") }
        return reply
    }

    /// Streams a chunked response line by line until it ends or `onLine` returns false.
    public func stream(_ path: String, onLine: (String) -> Bool) throws(DeployError) {
        let fd = try connect(timeout: false)
        defer { close(fd) }
        try send(fd, method: "GET", path: path, body: [])
        var pending: [UInt8] = []
        var headDone = false
        var buffer = [UInt8](repeating: 0, count: 16 * 1024)
        var decoder = ChunkedLines()
        while true {
            let count = buffer.withUnsafeMutableBytes { read(fd, $0.baseAddress, $0.count) }
            if count < 0, errno == EINTR { continue }
            if count <= 0 { return }
            pending += buffer[0..<count]
            if !headDone {
                guard let end = Self.headEnd(pending) else { continue }
                let head = String(decoding: pending[..<end], as: UTF8.self)
                let status = Int(head.split(separator: " ").dropFirst().first ?? "") ?? 0
                guard status == 200 else {
                    throw .admin("tail refused (\(status)): \(String(decoding: pending[(end + 4)...], as: UTF8.self))")
                }
                pending = Array(pending[(end + 4)...])
                headDone = true
            }
            for line in decoder.feed(&pending) where !onLine(line) { return }
        }
    }

    private func connect(timeout: Bool = true) throws(DeployError) -> Int32 {
        let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        guard fd >= 0 else { throw .admin("socket: \(String(cString: strerror(errno)))") }
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_port = port.bigEndian
        address.sin_addr.s_addr = inet_addr(host)
        let result = withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { Glibc.connect(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) }
        }
        guard result == 0 else {
            close(fd)
            throw .admin("cannot reach the runtime's admin API at \(url): \(String(cString: strerror(errno)))")
        }
        if timeout {
            var limit = timeval(tv_sec: Self.timeoutSeconds, tv_usec: 0)
            setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &limit, socklen_t(MemoryLayout<timeval>.size))
        }
        return fd
    }

    private func send(_ fd: Int32, method: String, path: String, body: [UInt8]) throws(DeployError) {
        var request = "\(method) \(path) HTTP/1.1\r\nHost: \(host)\r\nAuthorization: Bearer \(token)\r\n"
        request += "Content-Length: \(body.count)\r\nConnection: close\r\n"
        if !body.isEmpty { request += "Content-Type: application/json\r\n" }
        let bytes = Array((request + "\r\n").utf8) + body
        var sent = 0
        while sent < bytes.count {
            let count = bytes.withUnsafeBytes { write(fd, $0.baseAddress! + sent, $0.count - sent) }
            if count < 0, errno == EINTR { continue }
            guard count > 0 else { throw .admin("cannot send to the runtime: \(String(cString: strerror(errno)))") }
            sent += count
        }
    }

    static func headEnd(_ bytes: [UInt8]) -> Int? {
        guard bytes.count >= 4 else { return nil }
        for index in 0...(bytes.count - 4) where bytes[index] == 13 && bytes[index + 1] == 10 && bytes[index + 2] == 13
            && bytes[index + 3] == 10 {
            return index
        }
        return nil
    }

    /// A whole response (Content-Length bodies; or everything once the connection closed).
    static func parse(_ bytes: [UInt8], complete: Bool = false) -> Reply? {
        guard let end = headEnd(bytes) else { return nil }
        let head = String(decoding: bytes[..<end], as: UTF8.self)
        let lines = head.split(separator: "\r\n")
        guard let status = lines.first.flatMap({ Int($0.split(separator: " ").dropFirst().first ?? "") }) else { return nil }
        let body = Array(bytes[(end + 4)...])
        let length = lines.dropFirst().compactMap { line -> Int? in
            let parts = line.split(separator: ":", maxSplits: 1)
            guard parts.count == 2, parts[0].lowercased() == "content-length" else { return nil }
            return Int(parts[1].trimmingCharacters(in: .whitespaces))
        }.first
        if let length {
            guard body.count >= length else { return nil }
            return Reply(status: status, body: Array(body.prefix(length)))
        }
        return complete ? Reply(status: status, body: body) : nil
    }
}

/// Splits a chunked body into text lines as the chunks arrive.
struct ChunkedLines {
    private var text: [UInt8] = []

    mutating func feed(_ pending: inout [UInt8]) -> [String] {
        while let lineEnd = Self.crlf(pending) {
            guard let size = Int(String(decoding: pending[..<lineEnd], as: UTF8.self), radix: 16) else { break }
            guard pending.count >= lineEnd + 2 + size + 2 else { break }
            text += pending[(lineEnd + 2)..<(lineEnd + 2 + size)]
            pending.removeFirst(lineEnd + 2 + size + 2)
            if size == 0 { break }
        }
        var lines: [String] = []
        while let newline = text.firstIndex(of: 10) {
            lines.append(String(decoding: text[..<newline], as: UTF8.self))
            text.removeFirst(newline + 1)
        }
        return lines
    }

    static func crlf(_ bytes: [UInt8]) -> Int? {
        guard bytes.count >= 2 else { return nil }
        for index in 0..<(bytes.count - 1) where bytes[index] == 13 && bytes[index + 1] == 10 { return index }
        return nil
    }
}
