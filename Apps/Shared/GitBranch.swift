/// Which branch names the apps pass to git (a session's base branch): a safe subset of what `git
/// check-ref-format --branch` accepts, checked where the name arrives (the control plane) and again
/// where git sees it (the provider).
enum GitBranch {
    static let maxBytes = 200

    /// Why `name` is not an acceptable branch name, or nil when it is.
    static func problem(with name: String) -> String? {
        guard !name.isEmpty, name.utf8.count <= maxBytes else { return "a branch name has 1 to \(maxBytes) characters" }
        let allowed = name.utf8.allSatisfy { byte in
            (UInt8(ascii: "a")...UInt8(ascii: "z")).contains(byte) || (UInt8(ascii: "A")...UInt8(ascii: "Z")).contains(byte)
                || (UInt8(ascii: "0")...UInt8(ascii: "9")).contains(byte) || "._/-".utf8.contains(byte)
        }
        guard allowed else { return "\"\(name.prefix(80))\": letters, digits, '.', '_', '/' and '-' only" }
        guard !name.hasPrefix("-"), !name.hasPrefix("/"), !name.hasPrefix("."), !name.hasSuffix("/"), !name.hasSuffix("."),
              !name.hasSuffix(".lock"), !name.contains(".."), !name.contains("//"), !name.contains("/.") else {
            return "\"\(name.prefix(80))\" is not a valid branch name"
        }
        return nil
    }
}
