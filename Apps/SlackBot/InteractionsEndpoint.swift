import RuntimeAPI

/// `POST /interactions`: Block Kit actions (reference §3), a form body whose `payload` field is the
/// JSON. Signed like events; the work runs after Slack got its 200.
///
/// - `select_repo`: the user picked the repository of a pending request; its session starts.
/// - `select_model`: the App Home model picker; the choice is saved and the home view republished.
/// - `view_session`: a link button; Slack opens the URL itself, nothing to do.
struct InteractionsEndpoint: Sendable {
    let env: Env
    let config: BotConfig
    let ctx: ExecutionContext

    /// Longest `payload` field accepted (the body's own limit bounds it too).
    static let maxPayloadBytes = 256 * 1024
    /// Longest selected value accepted (`owner/name` or a model id).
    static let maxValueBytes = 256

    func handle(_ request: Request) async throws -> Response {
        let slack = try SlackSignature.verifiedClient(for: request, config: config, bodyLimit: Limits.maxInteractionBodyBytes)
        guard let text = RequestBody.form(request.body)["payload"] else { throw HTTPError(400, "payload: missing form field") }
        guard text.utf8.count <= Self.maxPayloadBytes else { throw HTTPError(413, "payload over \(Self.maxPayloadBytes) bytes") }
        let payload = try RequestBody.object(Array(text.utf8))
        guard payload["type"]?.string == "block_actions" else { return Reply.acknowledged() }
        guard let user = payload["user"]?["id"]?.string, Identifiers.isSlackID(user) else { throw HTTPError(400, "user.id: expected a user id") }
        guard let action = payload["actions"]?.array?.first, let actionID = action["action_id"]?.string else {
            throw HTTPError(400, "actions: expected at least one action with an action_id")
        }
        let store = try BotStore(env)
        switch actionID {
        case "select_model":
            let model = try Self.selectedValue(action)
            guard Models.isChoice(model) else { throw HTTPError(400, "select_model: unknown model \(model)") }
            let home = AppHome(slack: slack, store: store, config: config)
            ctx.waitUntil {
                do {
                    try await home.selectModel(user: user, model: model)
                } catch {
                    Log.error("select_model by \(user) failed: \(error)")
                }
            }
        case "select_repo":
            let repo = try Self.selectedValue(action)
            guard let channel = (payload["channel"]?["id"] ?? payload["container"]?["channel_id"])?.string, Identifiers.isSlackID(channel) else {
                throw HTTPError(400, "channel.id: expected a channel id")
            }
            let message = payload["message"] ?? [:], container = payload["container"] ?? [:]
            guard let menuTs = (message["ts"] ?? container["message_ts"])?.string, Identifiers.isSlackID(menuTs) else {
                throw HTTPError(400, "message.ts: expected a timestamp")
            }
            let threadTs = (message["thread_ts"] ?? container["thread_ts"])?.string ?? menuTs
            guard Identifiers.isSlackID(threadTs) else { throw HTTPError(400, "message.thread_ts: expected a timestamp") }
            let selection = try MentionFlow(slack: slack, env: env, config: config)
            let menu = PostedMessage(channel: channel, ts: menuTs)
            ctx.waitUntil {
                do {
                    try await selection.continueRequest(chosenBy: user, repoID: repo, channel: channel, threadTs: threadTs, menu: menu)
                } catch {
                    Log.error("select_repo by \(user) in \(channel) failed: \(error)")
                }
            }
        case "view_session":
            break
        default:
            Log.info("interaction \(actionID) ignored")
        }
        return Reply.acknowledged()
    }

    /// The chosen option's value of a `static_select`.
    static func selectedValue(_ action: JSON) throws -> String {
        guard let value = action["selected_option"]?["value"]?.string, !value.isEmpty, value.utf8.count <= maxValueBytes else {
            throw HTTPError(400, "selected_option.value: expected a string of at most \(maxValueBytes) bytes")
        }
        return value
    }
}
