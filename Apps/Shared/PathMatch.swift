import RuntimeAPI

/// Paths such as `/sessions/:id/...` matched segment by segment (the apps' routers).
struct PathMatch {
    let segments: [Substring]

    init(_ path: String) {
        segments = path.split(separator: "/", omittingEmptySubsequences: true)
    }

    /// Matches `pattern` (such as "sessions/:id/events"); returns the `:name` captures, percent-decoded.
    func match(_ pattern: String) -> [String: String]? {
        let parts = pattern.split(separator: "/")
        guard parts.count == segments.count else { return nil }
        var captures: [String: String] = [:]
        for (part, segment) in zip(parts, segments) {
            if part.hasPrefix(":") {
                captures[String(part.dropFirst())] = PercentDecoding.decode(segment)
            } else if part != segment {
                return nil
            }
        }
        return captures
    }
}
