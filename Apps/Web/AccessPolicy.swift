import Foundation

/// Who may sign in (reference §4, checked at every sign-in rather than only when a user is first
/// created): comma-separated GitHub logins, email domains and GitHub organizations, compared
/// lowercased. All lists empty lets everyone in; otherwise a login on the user list, any verified
/// email in a listed domain, or membership of a listed organization does.
struct AccessPolicy: Sendable, Equatable {
    let users: Set<String>
    let emailDomains: Set<String>
    let organizations: Set<String>

    init(users: String, emailDomains: String, organizations: String = "") {
        self.users = Self.list(users)
        self.emailDomains = Set(Self.list(emailDomains).map { $0.hasPrefix("@") ? String($0.dropFirst()) : $0 })
        self.organizations = Self.list(organizations)
    }

    static func list(_ text: String) -> Set<String> {
        Set(text.split(separator: ",").map { String($0).trimmingCharacters(in: .whitespacesAndNewlines).lowercased() }.filter { !$0.isEmpty })
    }

    var isOpen: Bool { users.isEmpty && emailDomains.isEmpty && organizations.isEmpty }

    /// `organizations`: the logins of the user's GitHub organizations (only read when the policy lists any).
    func allows(login: String, emails: [String], organizations memberOf: [String] = []) -> Bool {
        if isOpen { return true }
        if users.contains(login.lowercased()) { return true }
        if memberOf.contains(where: { organizations.contains($0.lowercased()) }) { return true }
        return emails.contains { email in
            guard let at = email.lastIndex(of: "@") else { return false }
            return emailDomains.contains(email[email.index(after: at)...].lowercased())
        }
    }
}
