import RuntimeAPI

/// The page frame (templates/layout.html): header with the user menu, the session sidebar when signed
/// in, and the page's own body.
struct Layout: Sendable {
    let web: WebContext

    func page(title: String, body: String, session: AuthStore.Session?, sidebar: String = "", bodyClass: String = "") throws -> String {
        var user = ""
        if let session {
            user = try web.templates.render("user-menu", [
                "name": session.user.name, "login": session.user.login, "csrf": session.csrfToken,
                "avatar": try Avatar.html(name: session.user.name, url: session.user.avatarURL, templates: web.templates),
            ])
        }
        return try web.templates.render("layout", [
            "title": title, "body": body, "user": user, "sidebar": sidebar,
            "csrf": session?.csrfToken ?? "", "bodyClass": bodyClass + (sidebar.isEmpty ? "" : " with-sidebar"),
        ])
    }
}

/// A user's picture, or their initial on a colour of their own when there is none.
enum Avatar {
    static func html(name: String, url: String?, templates: Templates) throws -> String {
        if let url, url.hasPrefix("https://") || url.hasPrefix("http://") {
            return try templates.render("avatar-image", ["url": url, "name": name])
        }
        let initial = name.first.map { String($0).uppercased() } ?? "?"
        let hue = name.unicodeScalars.reduce(0) { ($0 &* 31 &+ Int($1.value)) & 0xffff } % 360
        return try templates.render("avatar-initial", ["initial": initial, "name": name, "hue": String(hue)])
    }
}

/// One entry of the control plane's session list.
struct SessionSummary: Sendable {
    let id: String
    let title: String
    let repoOwner: String
    let repoName: String
    let status: String
    let updatedAt: Int64

    init?(_ value: JSON) {
        guard let id = value["id"]?.string else { return nil }
        self.id = id
        title = value["title"]?.string ?? "Untitled session"
        repoOwner = value["repoOwner"]?.string ?? ""
        repoName = value["repoName"]?.string ?? ""
        status = value["status"]?.string ?? "created"
        updatedAt = value["updatedAt"]?.int ?? 0
    }

    var repository: String { repoOwner + "/" + repoName }
    var isArchived: Bool { status == "archived" }

    /// Newest first, as the control plane pages them; at most `limit`.
    static func load(_ client: ControlPlaneClient, limit: Int = 200) async throws -> [SessionSummary] {
        let answer = try await client.call("GET", "/sessions?limit=\(limit)")
        return (answer["sessions"]?.array ?? []).compactMap(SessionSummary.init)
    }

    /// Active sessions grouped by repository (groups ordered by their newest session), then archived.
    static func grouped(_ sessions: [SessionSummary]) -> (active: [(repository: String, sessions: [SessionSummary])], archived: [SessionSummary]) {
        var order: [String] = []
        var groups: [String: [SessionSummary]] = [:]
        for session in sessions where !session.isArchived {
            if groups[session.repository] == nil { order.append(session.repository) }
            groups[session.repository, default: []].append(session)
        }
        return (order.map { ($0, groups[$0]!) }, sessions.filter(\.isArchived))
    }
}

/// The session list as the sidebar and the `/sessions` page show it.
struct SessionListView: Sendable {
    let templates: Templates
    let csrf: String
    /// The session being viewed, highlighted.
    var current: String? = nil

    func render(_ sessions: [SessionSummary], withActions: Bool) throws -> String {
        let (active, archived) = SessionSummary.grouped(sessions)
        var groups = ""
        for group in active {
            let rows = try group.sessions.map { try row($0, withActions: withActions) }.joined()
            groups += try templates.render("session-group", ["repository": group.repository, "rows": rows,
                                                            "count": String(group.sessions.count), "csrf": csrf])
        }
        if active.isEmpty { groups = try templates.render("session-list-empty", [:]) }
        let archivedRows = try archived.map { try row($0, withActions: withActions) }.joined()
        return try templates.render("session-list", [
            "groups": groups, "archivedRows": archivedRows, "archivedCount": String(archived.count),
            "archivedHidden": archived.isEmpty ? "hidden" : "",
        ])
    }

    private func row(_ session: SessionSummary, withActions: Bool) throws -> String {
        var actions = ""
        if withActions {
            let toggle = session.isArchived ? "unarchive" : "archive"
            actions = try templates.render("session-actions", [
                "id": session.id, "csrf": csrf, "toggle": toggle, "toggleLabel": session.isArchived ? "Unarchive" : "Archive",
            ])
        }
        return try templates.render("session-row", [
            "id": session.id, "title": session.title, "status": session.status, "repository": session.repository,
            "updated": RelativeTime.describe(milliseconds: session.updatedAt), "actions": actions,
            "current": session.id == current ? "current" : "",
        ])
    }
}

/// "3 min ago", for list rows.
enum RelativeTime {
    static func describe(milliseconds: Int64, now: Int64 = WallClock.milliseconds()) -> String {
        let seconds = max(0, (now - milliseconds) / 1000)
        switch seconds {
        case ..<60: return "just now"
        case ..<3600: return "\(seconds / 60) min ago"
        case ..<86400: return "\(seconds / 3600) h ago"
        default: return "\(seconds / 86400) d ago"
        }
    }
}
