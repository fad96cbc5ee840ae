import RuntimeAPI

/// Everything a request needs once its repository is known.
struct SlackRequest: Sendable, Equatable {
    /// The request's text, mentions removed.
    var text: String
    var user: String
    var channel: String
    /// The thread the conversation lives in (the mention's own ts when it started one).
    var threadTs: String
    /// Earlier messages of the thread, for the prompt.
    var threadContext: String?

    /// The prompt the session gets: the request, and the thread it was asked in when there is one.
    var prompt: String {
        var prompt = text
        if let threadContext { prompt += "\n\nEarlier in the Slack thread:\n" + threadContext }
        // A character is at most 4 UTF-8 bytes, so this many always fit.
        return prompt.utf8.count <= Limits.maxPromptBytes ? prompt : String(prompt.prefix(Limits.maxPromptBytes / 4))
    }
}

/// Starts a session for a request (reference §3 step 6): "Working on *owner/repo*…", the session
/// created with the user's model and the thread mapped to it, the acknowledgement updated with a View
/// Session button and a "Session started" message with the link, then the prompt sent. The links go
/// out before the prompt: a quick sandbox can finish it (and the completion reach the thread) before
/// the prompt call returns, which waits for the sandbox to be spawned.
struct SessionStarter: Sendable {
    let slack: SlackAPI
    let controlPlane: ControlPlaneClient
    let store: BotStore
    let config: BotConfig

    /// `note` (mrkdwn, escaped by the caller) says why this repository: the classifier's reasoning.
    func start(_ request: SlackRequest, repo: Repo, note: String) async throws {
        let repoName = "*\(SlackText.escape(repo.fullName))*"
        let working = "Working on \(repoName)…"
        var blocks = [SlackBlocks.section(working)]
        if !note.isEmpty { blocks.append(SlackBlocks.context(note)) }
        let acknowledgement = try await slack.postMessage(channel: request.channel, threadTs: request.threadTs, text: working,
                                                          blocks: blocks)
        let model = try await store.modelPreference(user: request.user) ?? config.defaultModel
        let sessionID: String
        do {
            sessionID = try await controlPlane.createSession(
                repoOwner: repo.owner, repoName: repo.name, title: String(request.text.prefix(Limits.maxTitleCharacters)),
                model: model, userID: "slack:" + request.user)
            try await store.saveThreadSession(ThreadSession(sessionID: sessionID, repoFullName: repo.fullName, model: model),
                                              channel: request.channel, threadTs: request.threadTs)
        } catch {
            await SlackAPI.bestEffort("reporting a failed session start") {
                try await slack.update(acknowledgement, text: "I could not start a session on \(repoName): " + SlackText.escape("\(error)"))
            }
            throw error
        }
        let url = config.sessionURL(sessionID)
        await SlackAPI.bestEffort("adding the View Session button") {
            try await slack.update(acknowledgement, text: working, blocks: blocks + [SlackBlocks.viewSessionButton(url)])
        }
        await SlackAPI.bestEffort("posting the session link") {
            let text = "Session started on \(repoName) with \(Models.name(model)). View progress: \(url)"
            try await slack.postMessage(channel: request.channel, threadTs: request.threadTs, text: text)
        }

        let context = CallbackContext(channel: request.channel, threadTs: request.threadTs, repoFullName: repo.fullName, model: model)
        do {
            try await controlPlane.prompt(sessionID: sessionID, content: request.prompt, slackUser: request.user, context: context)
        } catch {
            // The session and the thread's mapping stay: a reply in the thread sends the request again.
            await SlackAPI.bestEffort("reporting a failed prompt") {
                try await slack.postMessage(channel: request.channel, threadTs: request.threadTs,
                                            text: "The session started, but I could not send it your request: "
                                                + SlackText.escape("\(error)") + ". Reply here to try again.")
            }
            throw error
        }
        Log.info("session \(sessionID) started on \(repo.fullName) for slack:\(request.user) in \(request.channel)")
    }
}
