/// Slack's message formatting (https://api.slack.com/reference/surfaces/formatting), both ways.
enum MentionText {
    /// The request in a mention: user mentions (`<@U123>`, `<@U123|name>`) removed, links and channel
    /// references turned into plain text, `&amp;` `&lt;` `&gt;` decoded, whitespace trimmed.
    static func clean(_ text: String) -> String {
        var out = ""
        var rest = Substring(text)
        while let open = rest.firstIndex(of: "<") {
            out += rest[..<open]
            guard let close = rest[open...].firstIndex(of: ">") else {
                out += rest[open...]
                rest = ""
                break
            }
            let token = rest[rest.index(after: open)..<close]
            out += plain(token)
            rest = rest[rest.index(after: close)...]
        }
        out += rest
        return decodeEntities(out).trimmedSpaces
    }

    /// One `<…>` token as text: nothing for a user mention, `#name` for a channel, the label or URL of a link.
    private static func plain(_ token: Substring) -> String {
        if token.hasPrefix("@") { return "" }
        let parts = token.split(separator: "|", maxSplits: 1)
        if token.hasPrefix("#") { return parts.count > 1 ? "#" + parts[1] : String(token) }
        if token.hasPrefix("!") { return parts.count > 1 ? String(parts[1]) : "" }
        if parts.count > 1, parts[0] != parts[1] { return "\(parts[1]) (\(parts[0]))" }
        return String(parts.first ?? token)
    }

    private static func decodeEntities(_ text: String) -> String {
        text.replacing("&lt;", with: "<").replacing("&gt;", with: ">").replacing("&amp;", with: "&")
    }
}

/// Text going into Slack `mrkdwn`: the three characters Slack reserves escaped.
enum SlackText {
    static func escape(_ text: String) -> String {
        text.replacing("&", with: "&amp;").replacing("<", with: "&lt;").replacing(">", with: "&gt;")
    }

    /// `text` cut to `limit` characters, ending in "…" when cut.
    static func prefix(_ text: String, _ limit: Int) -> String {
        text.count <= limit ? text : String(text.prefix(max(limit - 1, 0))) + "…"
    }
}
