import RuntimeAPI

/// Pull requests (reference §1.13): the sandbox pushes its branch with an installation token, then the
/// PR is opened with the prompting user's own token, so the human is its author.
extension SessionObject {
    /// The branch the sandbox is asked to push (`generateBranchName`).
    var suggestedBranch: String { "dispatch/" + sessionName }

    func createPullRequest(title: String, body: String, baseBranch: String?) async throws -> JSON {
        guard let session = try session else { throw HTTPError(404, "no such session") }
        let author = try sql("""
            SELECT p.* FROM messages m JOIN participants p ON p.id = m.author_id
            WHERE m.status = 'processing' ORDER BY m.started_at DESC LIMIT 1
            """).rows.first
        guard let author else { throw HTTPError(400, "no prompt is running, so there is no author for the pull request") }
        guard let sealed = author["github_access_token_encrypted"]?.string else {
            throw HTTPError(401, "the prompting user has no GitHub token; sign in again to re-authenticate")
        }
        if let expires = author["github_token_expires_at"]?.int, Int64(expires) - 60_000 < WallClock.milliseconds() {
            throw HTTPError(401, "the prompting user's GitHub token expired; sign in again to re-authenticate")
        }
        let userToken = try TokenCipher(env).open(sealed)
        let owner = session["repo_owner"]?.string ?? "", name = session["repo_name"]?.string ?? ""
        let github = GitHubAPI(baseURL: config.githubAPIURL)
        let repository = try await github.call("GET", "/repos/\(owner)/\(name)", token: userToken)
        let base = baseBranch ?? repository["default_branch"]?.string ?? "main"

        var head = suggestedBranch
        if let socket = sandboxSocket() {
            let installationToken = try await github.installationToken(env)
            Self.send(socket, ["type": "push", "branchName": .string(head), "repoOwner": .string(owner),
                               "repoName": .string(name), "githubToken": .string(installationToken)])
            switch await waitForPush() {
            case .success(let branch): head = branch
            case .failure(let failure): throw HTTPError(502, "push failed: \(failure.description)")
            }
        }
        let footer = "\n\n---\n*Created with [Dispatch](\(config.webAppURL)/session/\(sessionName))*"
        let created: JSON
        do {
            created = try await github.call("POST", "/repos/\(owner)/\(name)/pulls", token: userToken, body: [
                "title": .string(title), "body": .string(body + footer), "head": .string(head), "base": .string(base),
            ])
        } catch let failure as GitHubAPI.Failure {
            throw HTTPError(failure.status == 422 ? 409 : 502, "GitHub refused the pull request: \(failure.message)")
        }
        guard let number = created["number"]?.int, let url = created["html_url"]?.string else {
            throw HTTPError(502, "GitHub's answer had no pull request number or URL")
        }
        let id = IDs.make()
        let metadata: JSON = ["number": .int(number), "state": created["state"] ?? "open", "head": .string(head), "base": .string(base)]
        try sql("INSERT INTO artifacts (id, type, url, metadata, created_at) VALUES (?, 'pr', ?, ?, ?)",
                .text(id), .text(url), .text(metadata.text), .integer(WallClock.milliseconds()))
        try sql("UPDATE session SET branch_name = ?, updated_at = ?", .text(head), .integer(WallClock.milliseconds()))
        broadcast(["type": "artifact_created", "artifact": ["id": .string(id), "type": "pr", "url": .string(url), "prNumber": .int(number)]])
        return ["prNumber": .int(number), "prUrl": .string(url), "state": created["state"] ?? "open"]
    }

    /// Waits for the sandbox's answer to `push`, at most `Timing.pushTimeoutMs`.
    private func waitForPush() async -> Result<String, PushFailure> {
        if let earlier = pendingPush {
            pendingPush = nil
            earlier.resume(returning: .failure(PushFailure(description: "superseded by a newer push")))
        }
        let timeout = Task { [weak self] in
            try await Task.sleep(for: .milliseconds(Timing.pushTimeoutMs))
            await self?.settlePush(["type": "push_error", "error": .string("the sandbox did not push within \(Timing.pushTimeoutMs / 1000) s")])
        }
        defer { timeout.cancel() }
        return await withCheckedContinuation { continuation in pendingPush = continuation }
    }

    /// `push_complete {branchName}` or `push_error {error}` from the bridge.
    func settlePush(_ event: JSON) {
        guard let continuation = pendingPush else { return }
        pendingPush = nil
        if event["type"]?.string == "push_complete" {
            continuation.resume(returning: .success(event["branchName"]?.string ?? suggestedBranch))
        } else {
            continuation.resume(returning: .failure(PushFailure(description: event["error"]?.string ?? "push failed")))
        }
    }
}
