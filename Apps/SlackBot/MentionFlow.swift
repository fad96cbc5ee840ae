import RuntimeAPI

/// What a mention of the bot does (reference §3, the `app_mention` flow): continue the thread's session,
/// or pick a repository (asking when unsure) and start one. Runs after Slack was answered.
struct MentionFlow: Sendable {
    let slack: SlackAPI
    let controlPlane: ControlPlaneClient
    let store: BotStore
    let config: BotConfig

    init(slack: SlackAPI, env: Env, config: BotConfig) throws {
        self.slack = slack
        controlPlane = try ControlPlaneClient(env, config: config)
        store = try BotStore(env)
        self.config = config
    }

    var starter: SessionStarter { SessionStarter(slack: slack, controlPlane: controlPlane, store: store, config: config) }

    func handle(_ mention: Mention) async throws {
        let text = MentionText.clean(mention.text)
        let thread = mention.conversationTs
        guard !text.isEmpty else {
            try await slack.postMessage(channel: mention.channel, threadTs: thread,
                                        text: "What should I work on? Mention me with a request, like \"fix the failing login test\".")
            return
        }
        if mention.threadTs != nil, try await continueSession(mention, text: text) { return }

        let context = await ConversationContext.gather(slack, channel: mention.channel, threadTs: mention.threadTs,
                                                       excludingTs: mention.ts)
        let request = SlackRequest(text: text, user: mention.user, channel: mention.channel, threadTs: thread,
                                   threadContext: context.threadText)
        let repos: [Repo]
        do {
            repos = try await RepoDirectory(controlPlane: controlPlane, kv: store.kv).list()
        } catch {
            try await slack.postMessage(channel: mention.channel, threadTs: thread,
                                        text: "I could not get the list of repositories from Dispatch, so I cannot start a session yet.")
            throw error
        }
        let classifier = RepoClassifier(llm: AnthropicClassifier(config))
        switch await classifier.classify(text, context: context, repos: repos) {
        case .noRepositories:
            try await slack.postMessage(channel: mention.channel, threadTs: thread,
                                        text: "I have no repositories to work on. Install the Dispatch GitHub App on a repository, then ask again.")
        case .clarify(let choices, let reasoning):
            try await askForRepository(request, choices: choices, reasoning: reasoning)
        case .selected(let repo, let reasoning):
            try await starter.start(request, repo: repo, note: reasoning.isEmpty ? "" : "_\(SlackText.escape(reasoning))_")
        }
    }

    /// A mention in a thread that has a session goes to that session (no second session). True when it
    /// did; false when the thread has none, or its session is gone (the mapping is then dropped).
    private func continueSession(_ mention: Mention, text: String) async throws -> Bool {
        guard let mapping = try await store.threadSession(channel: mention.channel, threadTs: mention.conversationTs) else {
            return false
        }
        let context = CallbackContext(channel: mention.channel, threadTs: mention.conversationTs,
                                      repoFullName: mapping.repoFullName, model: mapping.model)
        do {
            try await controlPlane.prompt(sessionID: mapping.sessionID, content: text, slackUser: mention.user, context: context)
        } catch let error as ControlPlaneError where error.sessionIsGone {
            Log.info("thread \(mention.channel)/\(mention.conversationTs): session \(mapping.sessionID) is gone (\(error)); starting anew")
            try await store.forgetThread(channel: mention.channel, threadTs: mention.conversationTs)
            return false
        } catch {
            await SlackAPI.bestEffort("reporting a failed follow-up") {
                try await slack.postMessage(channel: mention.channel, threadTs: mention.conversationTs,
                                            text: "I could not send that to the session: " + SlackText.escape("\(error)"))
            }
            throw error
        }
        await SlackAPI.bestEffort("acknowledging a follow-up") {
            try await slack.postMessage(channel: mention.channel, threadTs: mention.conversationTs,
                                        text: "Sent to the session on *\(SlackText.escape(mapping.repoFullName))*. "
                                            + "View progress: \(config.sessionURL(mapping.sessionID))")
        }
        return true
    }

    /// Keeps the request for an hour and asks which repository it is about.
    private func askForRepository(_ request: SlackRequest, choices: [Repo], reasoning: String) async throws {
        try await store.savePending(PendingRequest(message: request.text, userID: request.user, threadContext: request.threadContext),
                                    channel: request.channel, threadTs: request.threadTs)
        var question = "Which repository is this about?"
        if !reasoning.isEmpty { question += "\n_\(SlackText.escape(reasoning))_" }
        try await slack.postMessage(channel: request.channel, threadTs: request.threadTs, text: "Which repository is this about?",
                                    blocks: SlackBlocks.repoPicker(choices, question: question))
    }
}
