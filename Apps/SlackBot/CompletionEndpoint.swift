import RuntimeAPI

/// `POST /callbacks/complete`: the control plane (over its SLACK_BOT service binding) says a prompt
/// sent from Slack finished. The callback is verified (timestamp window, then the HMAC in constant
/// time), the prompt's events and the session's artifacts are read, and the completion message is
/// posted in the thread before the answer, so a failure answers 502 and the control plane's retry
/// can post it. A callback handled once is not posted again.
struct CompletionEndpoint: Sendable {
    let env: Env
    let config: BotConfig

    func handle(_ request: Request) async throws -> Response {
        guard let secret = config.internalSecret else { throw HTTPError(503, BotConfig.internalSecretMissing) }
        try RequestBody.requireSize(request, limit: Limits.maxCallbackBodyBytes)
        let callback = try CompletionCallback(try RequestBody.object(request.body))
        do {
            try callback.verify(secret: secret)
        } catch {
            throw HTTPError(401, "unauthorized: \(error)")
        }
        guard let channel = callback.channel, let threadTs = callback.threadTs else {
            throw HTTPError(400, "context: expected channel and threadTs")
        }
        guard let slack = SlackAPI(config) else { throw HTTPError(503, BotConfig.slackNotConfigured) }
        let store = try BotStore(env)
        guard try await store.claimCallback(sessionID: callback.sessionID, messageID: callback.messageID) else {
            Log.info("completion of \(callback.sessionID)/\(callback.messageID) was posted already")
            return Reply.json(["ok": true, "duplicate": true])
        }
        do {
            let controlPlane = try ControlPlaneClient(env, config: config)
            let events = try await controlPlane.events(sessionID: callback.sessionID, messageID: callback.messageID)
            let artifacts = try await controlPlane.artifacts(sessionID: callback.sessionID)
            let message = CompletionMessage(report: CompletionReport(messageID: callback.messageID, events: events, artifacts: artifacts), success: callback.success,
                                            model: callback.model, repoFullName: callback.repoFullName,
                                            sessionURL: config.sessionURL(callback.sessionID))
            try await slack.postMessage(channel: channel, threadTs: threadTs, text: message.fallbackText, blocks: message.blocks)
        } catch {
            try? await store.releaseCallback(sessionID: callback.sessionID, messageID: callback.messageID)
            Log.error("completion of \(callback.sessionID)/\(callback.messageID) not posted: \(error)")
            throw HTTPError(502, "the completion could not be posted: \(error)")
        }
        return Reply.acknowledged()
    }
}
