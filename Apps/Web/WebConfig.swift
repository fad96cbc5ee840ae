import Foundation
import RuntimeAPI

/// The web app's settings, from its vars and secrets (see app.jsonc), read per request.
struct WebConfig: Sendable {
    let githubURL: String
    let githubAPIURL: String
    let publicURL: String?
    let controlPlaneWebSocketURL: String?
    let allowlist: AccessPolicy
    let devSignInAllowed: Bool
    let defaultModel: String
    let oauthClientID: String?
    let oauthClientSecret: String?
    let internalSecret: String?

    init(_ env: Env) {
        func trimmedSlash(_ text: String) -> String { text.hasSuffix("/") ? String(text.dropLast()) : text }
        func nonEmpty(_ text: String?) -> String? {
            guard let text = text?.trimmingCharacters(in: .whitespacesAndNewlines), !text.isEmpty else { return nil }
            return text
        }
        githubURL = trimmedSlash(nonEmpty(env.vars["GITHUB_URL"]) ?? "https://github.com")
        githubAPIURL = trimmedSlash(nonEmpty(env.vars["GITHUB_API_URL"]) ?? "https://api.github.com")
        publicURL = nonEmpty(env.vars["PUBLIC_URL"]).map(trimmedSlash)
        controlPlaneWebSocketURL = nonEmpty(env.vars["CONTROL_PLANE_WS_URL"]).map(trimmedSlash)
        allowlist = AccessPolicy(users: env.vars["ALLOWED_USERS"] ?? "", emailDomains: env.vars["ALLOWED_EMAIL_DOMAINS"] ?? "",
                                 organizations: env.vars["ALLOWED_ORGS"] ?? "")
        oauthClientID = nonEmpty(env.secrets["GITHUB_CLIENT_ID"])
        oauthClientSecret = nonEmpty(env.secrets["GITHUB_CLIENT_SECRET"])
        internalSecret = nonEmpty(env.secrets["INTERNAL_CALLBACK_SECRET"])
        let devMode = (nonEmpty(env.vars["DEV_SIGN_IN"]) ?? "auto").lowercased()
        devSignInAllowed = devMode != "off" && oauthClientID == nil
        defaultModel = nonEmpty(env.vars["DEFAULT_MODEL"]) ?? "claude-haiku-4-5"
    }

    /// GitHub OAuth is usable: both halves of the OAuth app are set.
    var oauthConfigured: Bool { oauthClientID != nil && oauthClientSecret != nil }

    /// This app's origin as browsers see it (`https://dispatch.example.com`).
    func origin(for request: Request) -> String {
        if let publicURL { return publicURL }
        let host = request.headers["host"] ?? request.url.host
        return request.url.scheme + "://" + host
    }

    /// Whether cookies must be `Secure`: the request came over TLS or the public URL is https.
    func isSecure(_ request: Request) -> Bool {
        request.url.scheme == "https" || (publicURL?.hasPrefix("https://") ?? false)
    }

    /// The control plane's WebSocket base for browsers (`ws://host/api`).
    func webSocketBase(for request: Request) -> String {
        if let controlPlaneWebSocketURL { return controlPlaneWebSocketURL }
        let origin = origin(for: request)
        if origin.hasPrefix("https://") { return "wss://" + origin.dropFirst("https://".count) + "/api" }
        return "ws://" + origin.dropFirst(origin.hasPrefix("http://") ? "http://".count : 0) + "/api"
    }
}
