import Foundation

/// The git work the bridge does itself, in the workspace: the per-prompt identity and `push`. Every
/// command runs without a terminal prompt or credential helper, so a bad token fails instead of hanging
/// or being stored.
struct Git: Sendable {
    let config: BridgeConfig

    private var environment: [String: String] {
        var environment = config.childEnvironment
        environment["GIT_TERMINAL_PROMPT"] = "0"
        environment["GIT_ASKPASS"] = "/bin/true"
        environment["SSH_ASKPASS"] = "/bin/true"
        return environment
    }

    private func git(_ arguments: [String], timeout: Duration = BridgeLimits.gitCommandTimeout,
                     standardError: Subprocess.StandardError = .merged) async throws -> Subprocess.Completed {
        try await Subprocess.run(["git", "-c", "credential.helper="] + arguments, environment: environment,
                                 standardError: standardError, timeout: timeout)
    }

    /// `git config --local user.name/user.email`; failures are logged, not fatal.
    func setIdentity(name: String, email: String) async {
        for (key, value) in [("user.name", name), ("user.email", email)] {
            do {
                let result = try await git(["config", "--local", key, value])
                if !result.succeeded {
                    BridgeLog.warn("git config \(key) failed (\(result.status.map { "\($0)" } ?? "timed out")): \(result.output)")
                }
            } catch {
                BridgeLog.warn("git config \(key): \(error)")
            }
        }
    }

    /// The checked-out branch, or nil when HEAD is detached or this is not a repository.
    func currentBranch() async -> String? {
        guard let result = try? await git(["rev-parse", "--abbrev-ref", "HEAD"], standardError: .discarded),
              result.succeeded else { return nil }
        let branch = result.output.trimmingCharacters(in: .whitespacesAndNewlines)
        return branch.isEmpty || branch == "HEAD" ? nil : branch
    }

    /// Handles a `push {branchName, repoOwner, repoName, githubToken}`: pushes HEAD to the current branch
    /// (the command's branch when HEAD is detached) of the URL `GIT_PUSH_URL_TEMPLATE` makes, with `-f`.
    /// The event never carries the token: git's output is quoted only with the token and any URL
    /// credentials blanked out.
    func push(_ command: JSONValue) async -> BridgeEvent {
        let requested = command["branchName"]?.nonEmptyString
        let owner = command["repoOwner"]?.nonEmptyString ?? config.repoOwner
        let name = command["repoName"]?.nonEmptyString ?? config.repoName
        let token = command["githubToken"]?.nonEmptyString
        let current = await currentBranch()
        guard let branch = current ?? requested else {
            return .pushError(branchName: "", error: "no branch to push: HEAD is detached and the command named none")
        }
        let reported = requested ?? branch
        if config.pushURLTemplate.contains("{token}"), token == nil {
            return .pushError(branchName: reported, error: "push needs a githubToken and the command had none")
        }
        let url = config.pushURLTemplate
            .replacingOccurrences(of: "{token}", with: token ?? "")
            .replacingOccurrences(of: "{owner}", with: owner)
            .replacingOccurrences(of: "{name}", with: name)
        let secrets = [token, url].compactMap { $0 }.filter { !$0.isEmpty }
        do {
            let result = try await git(["push", "-f", url, "HEAD:refs/heads/\(branch)"], timeout: BridgeLimits.pushTimeout)
            if result.succeeded {
                BridgeLog.info("pushed HEAD to \(branch)")
                return .pushComplete(branchName: reported)
            }
            let detail = Self.redact(result.output, secrets: secrets)
            let quoted = String(decoding: Array(detail.utf8).suffix(BridgeLimits.maxPushErrorDetailBytes), as: UTF8.self)
                .trimmingCharacters(in: .whitespacesAndNewlines)
            let reason = result.status.map { "git push failed (\($0))" } ?? "git push timed out after \(BridgeLimits.pushTimeout.readable)"
            BridgeLog.warn("\(reason): \(detail)")
            return .pushError(branchName: reported, error: quoted.isEmpty ? reason : "\(reason): \(quoted)")
        } catch {
            return .pushError(branchName: reported, error: "cannot run git: \(Self.redact("\(error)", secrets: secrets))")
        }
    }

    /// `text` with every secret (and its percent-encoded form) and the user-info part of any URL replaced
    /// by `***`.
    static func redact(_ text: String, secrets: [String]) -> String {
        var redacted = text
        for secret in secrets.sorted(by: { $0.count > $1.count }) {
            redacted = redacted.replacingOccurrences(of: secret, with: "***")
            if let encoded = secret.addingPercentEncoding(withAllowedCharacters: .alphanumerics), encoded != secret {
                redacted = redacted.replacingOccurrences(of: encoded, with: "***")
            }
        }
        // scheme://user:password@host → scheme://***@host
        var result = ""
        var rest = Substring(redacted)
        while let scheme = rest.range(of: "://") {
            result += rest[..<scheme.upperBound]
            rest = rest[scheme.upperBound...]
            let authorityEnd = rest.firstIndex(where: { $0 == "/" || $0 == " " || $0 == "\n" || $0 == "'" || $0 == "\"" })
                ?? rest.endIndex
            if let at = rest[..<authorityEnd].lastIndex(of: "@") {
                result += "***"
                rest = rest[at...]
            }
        }
        return result + rest
    }
}
