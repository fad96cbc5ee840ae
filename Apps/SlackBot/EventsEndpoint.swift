import RuntimeAPI

/// `POST /events`, the Slack Events API (reference §3): signature checked, `url_verification`
/// answered, each `event_id` handled once, and the work done after Slack got its 200 (Slack retries a
/// delivery it has no answer to within 3 seconds).
struct EventsEndpoint: Sendable {
    let env: Env
    let config: BotConfig
    let ctx: ExecutionContext

    func handle(_ request: Request) async throws -> Response {
        let slack = try SlackSignature.verifiedClient(for: request, config: config, bodyLimit: Limits.maxEventBodyBytes)
        let payload = try RequestBody.object(request.body)
        switch payload["type"]?.string {
        case "url_verification":
            guard let challenge = payload["challenge"]?.string, challenge.utf8.count <= Limits.maxChallengeBytes else {
                throw HTTPError(400, "challenge: expected a string of at most \(Limits.maxChallengeBytes) bytes")
            }
            return Reply.json(["challenge": .string(challenge)])
        case "event_callback":
            guard let eventID = payload["event_id"]?.string, Identifiers.isSlackID(eventID) else {
                throw HTTPError(400, "event_id: expected an event id")
            }
            guard let body = payload["event"], body.object != nil else { throw HTTPError(400, "event: expected an object") }
            let store = try BotStore(env)
            // Everything the work needs is checked before the event counts as seen.
            let work = try self.work(for: try SlackEvent(body), id: eventID, slack: slack, store: store)
            guard try await store.claimEvent(eventID) else {
                Log.info("event \(eventID) was handled already; ignoring the redelivery")
                return Reply.acknowledged()
            }
            if let work { ctx.waitUntil(work) }
            return Reply.acknowledged()
        case .some(let type):
            // Other envelopes (app_rate_limited, say) only need the acknowledgement.
            Log.info("Events API envelope \(type) acknowledged")
            return Reply.acknowledged()
        case .none:
            throw HTTPError(400, "type: expected a string")
        }
    }

    /// What handling `event` does after the acknowledgement; nil when it is ignored.
    private func work(for event: SlackEvent, id: String, slack: SlackAPI, store: BotStore) throws
        -> (@Sendable () async throws -> Void)? {
        switch event {
        case .ignored(let reason):
            Log.debug("event \(id) ignored: \(reason)")
            return nil
        case .mention(let mention):
            let flow = try MentionFlow(slack: slack, env: env, config: config)
            return {
                do {
                    try await flow.handle(mention)
                } catch {
                    Log.error("event \(id) (app_mention in \(mention.channel)) failed: \(error)")
                }
            }
        case .homeOpened(let user):
            let home = AppHome(slack: slack, store: store, config: config)
            return {
                do {
                    try await home.publish(user: user)
                } catch {
                    Log.error("event \(id) (app_home_opened by \(user)) failed: \(error)")
                }
            }
        }
    }
}
