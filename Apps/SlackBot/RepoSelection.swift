import RuntimeAPI

/// The answer to "Which repository is this about?" (`select_repo`), the mention flow's second half:
/// the thread's pending request starts its session on the chosen repository, once; the menu is
/// replaced by the choice.
extension MentionFlow {
    func continueRequest(chosenBy user: String, repoID: String, channel: String, threadTs: String, menu: PostedMessage) async throws {
        guard let pending = try await store.takePending(channel: channel, threadTs: threadTs) else {
            try await slack.postMessage(channel: channel, threadTs: threadTs,
                                        text: "That request has expired or was answered already. Mention me again to start over.")
            return
        }
        guard let repo = try await RepoDirectory(controlPlane: controlPlane, kv: store.kv).find(repoID) else {
            // Kept, so a valid choice can still answer it.
            try await store.savePending(pending, channel: channel, threadTs: threadTs)
            try await slack.postMessage(channel: channel, threadTs: threadTs,
                                        text: "I do not know a repository called \(SlackText.escape(repoID)). Pick one from the list.")
            return
        }
        await SlackAPI.bestEffort("replacing the repository menu") {
            try await slack.update(menu, text: "<@\(user)> chose *\(SlackText.escape(repo.fullName))*.")
        }
        let request = SlackRequest(text: pending.message, user: pending.userID, channel: channel, threadTs: threadTs,
                                   threadContext: pending.threadContext)
        try await starter.start(request, repo: repo, note: "Chosen by <@\(user)>.")
    }
}
