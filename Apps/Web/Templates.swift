import Foundation
import RuntimeAPI

/// HTML templates kept as files under `assets/templates/`. A template is HTML with two kinds of
/// placeholders: `{{name}}` is replaced by the value HTML-escaped, `{{{name}}}` by the value as is
/// (for fragments this app rendered itself). A placeholder with no value is an error, so a typo shows
/// up in the first test rather than as a silent blank.
struct Templates: Sendable {
    let assets: AppAssets

    struct Missing: Error, CustomStringConvertible {
        let description: String
    }

    func render(_ name: String, _ values: [String: String]) throws -> String {
        let path = "templates/" + name + ".html"
        guard let source = assets.text(path) else { throw Missing(description: "no template \(path) in the app's assets") }
        return try Self.fill(source, values, name: name)
    }

    static func fill(_ source: String, _ values: [String: String], name: String) throws -> String {
        var out = ""
        out.reserveCapacity(source.utf8.count + 256)
        var rest = Substring(source)
        while let open = rest.range(of: "{{") {
            out += rest[..<open.lowerBound]
            let raw = rest[open.upperBound...].hasPrefix("{")
            let start = raw ? rest.index(after: open.upperBound) : open.upperBound
            let closing = raw ? "}}}" : "}}"
            guard let close = rest[start...].range(of: closing) else {
                throw Missing(description: "template \(name): unclosed placeholder")
            }
            let key = String(rest[start..<close.lowerBound]).trimmingCharacters(in: .whitespaces)
            guard let value = values[key] else { throw Missing(description: "template \(name): no value for \(key)") }
            out += raw ? value : HTML.escape(value)
            rest = rest[close.upperBound...]
        }
        out += rest
        return out
    }
}
