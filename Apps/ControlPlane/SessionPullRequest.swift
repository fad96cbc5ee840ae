import RuntimeAPI

/// Pull requests (reference §1.13): the sandbox pushes its branch with an installation token, then the
/// PR is opened with the prompting user's own token, so the human is its author.
extension SessionObject {
    /// The branch the sandbox is asked to push (`generateBranchName`).
    var suggestedBranch: String { "dispatch/" + sessionName }

    /// Opens the pull request for the prompt that is running. When its author has no usable GitHub
    /// token (a Slack user who never signed in to the web app, or a token that expired), the branch is
    /// still pushed and a `branch` artifact links GitHub's compare page, where a person opens the PR:
    /// the agent's work is never stranded in the sandbox.
    func createPullRequest(title: String, body: String, baseBranch: String?) async throws -> JSON {
        guard let session = try session else { throw HTTPError(404, "no such session") }
        let running = try sql("""
            SELECT m.id AS running_message_id, p.* FROM messages m JOIN participants p ON p.id = m.author_id
            WHERE m.status = 'processing' ORDER BY m.started_at DESC LIMIT 1
            """).rows.first
        guard let running, let messageID = running["running_message_id"]?.string else {
            throw HTTPError(400, "no prompt is running, so there is no author for the pull request")
        }
        let userToken: String?
        let noTokenReason: String?
        if let sealed = running["github_access_token_encrypted"]?.string {
            if let expires = running["github_token_expires_at"]?.int, Int64(expires) - 60_000 < WallClock.milliseconds() {
                (userToken, noTokenReason) = (nil, "the prompting user's GitHub token expired")
            } else {
                (userToken, noTokenReason) = (try TokenCipher(env).open(sealed, for: .githubToken(userID: running["user_id"]?.string ?? "")), nil)
            }
        } else {
            (userToken, noTokenReason) = (nil, "the prompting user has no GitHub token")
        }
        let owner = session["repo_owner"]?.string ?? "", name = session["repo_name"]?.string ?? ""
        let github = GitHubAPI(baseURL: config.githubAPIURL)
        var installationToken: String?
        func appToken() async throws -> String {
            if let installationToken { return installationToken }
            let token = try await github.installationToken(env)
            installationToken = token
            return token
        }
        let readToken: String
        if let userToken { readToken = userToken } else { readToken = try await appToken() }
        let repository = try await github.call("GET", "/repos/\(owner)/\(name)", token: readToken)
        let base = baseBranch ?? session["base_branch"]?.string ?? repository["default_branch"]?.string ?? "main"

        var head = suggestedBranch
        if let socket = sandboxSocket() {
            Self.send(socket, ["type": "push", "branchName": .string(head), "repoOwner": .string(owner),
                               "repoName": .string(name), "githubToken": .string(try await appToken())])
            switch await waitForPush() {
            case .success(let branch): head = branch
            case .failure(let failure): throw HTTPError(502, "push failed: \(failure.description)")
            }
        }
        guard let userToken else {
            let page = repository["html_url"]?.string ?? "https://github.com/\(owner)/\(name)"
            let compare = "\(page)/compare/\(Self.pathEscaped(base))...\(Self.pathEscaped(head))?expand=1"
            let reason = noTokenReason ?? "no GitHub token"
            try recordArtifact(type: "branch", url: compare, metadata: ["head": .string(head), "base": .string(base), "reason": .string(reason)],
                               messageID: messageID, branch: head)
            return ["prUrl": .null, "compareUrl": .string(compare), "branchName": .string(head), "state": "manual",
                    "message": .string("\(reason), so the pull request was not opened. The branch \(head) is pushed; open it at \(compare)")]
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
        try recordArtifact(type: "pr", url: url, metadata: ["number": .int(number), "state": created["state"] ?? "open",
                                                           "head": .string(head), "base": .string(base)],
                           messageID: messageID, branch: head)
        return ["prNumber": .int(number), "prUrl": .string(url), "state": created["state"] ?? "open"]
    }

    /// Stores an artifact of the running prompt, notes the branch on the session, and tells every client.
    private func recordArtifact(type: String, url: String, metadata: JSON, messageID: String, branch: String) throws {
        let id = IDs.make()
        let now = WallClock.milliseconds()
        try sql("INSERT INTO artifacts (id, type, url, metadata, created_at, message_id) VALUES (?, ?, ?, ?, ?, ?)",
                .text(id), .text(type), .text(url), .text(metadata.text), .integer(now), .text(messageID))
        try sql("UPDATE session SET branch_name = ?, updated_at = ?", .text(branch), .integer(now))
        broadcast(["type": "artifact_created", "artifact": Self.artifactMessage(["id": .string(id), "type": .string(type), "url": .string(url),
                                                                                "metadata": metadata, "messageId": .string(messageID)])])
    }

    /// A branch name in a compare URL (slashes kept, as GitHub writes them).
    static func pathEscaped(_ branch: String) -> String { PercentEncoding.encode(branch, keepingSlashes: true) }

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
