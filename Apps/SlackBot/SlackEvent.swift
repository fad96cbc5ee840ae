import RuntimeAPI

/// A mention of the bot (`app_mention`).
struct Mention: Sendable, Equatable {
    var user: String
    var channel: String
    var text: String
    var ts: String
    /// Set when the mention is a reply in a thread.
    var threadTs: String?

    /// The thread replies go to: the mention's own when it is not in one.
    var conversationTs: String { threadTs ?? ts }
}

/// An Events API `event` the bot acts on, checked before Slack is answered: a malformed one is a 400
/// with nothing done.
enum SlackEvent: Sendable, Equatable {
    case mention(Mention)
    case homeOpened(user: String)
    case ignored(reason: String)

    init(_ event: JSON) throws {
        guard let type = event["type"]?.string else { throw HTTPError(400, "event.type: expected a string") }
        switch type {
        case "app_mention":
            // Bots (this one included) do not start sessions.
            if event["bot_id"] != nil || event["subtype"]?.string == "bot_message" {
                self = .ignored(reason: "a bot's message")
                return
            }
            guard let user = event["user"]?.string, Identifiers.isSlackID(user) else { throw HTTPError(400, "event.user: expected a user id") }
            guard let channel = event["channel"]?.string, Identifiers.isSlackID(channel) else {
                throw HTTPError(400, "event.channel: expected a channel id")
            }
            guard let ts = event["ts"]?.string, Identifiers.isSlackID(ts) else { throw HTTPError(400, "event.ts: expected a timestamp") }
            guard let text = event["text"]?.string else { throw HTTPError(400, "event.text: expected a string") }
            var threadTs: String?
            if let field = event["thread_ts"], !field.isNull {
                guard let value = field.string, Identifiers.isSlackID(value) else { throw HTTPError(400, "event.thread_ts: expected a timestamp") }
                threadTs = value
            }
            self = .mention(Mention(user: user, channel: channel, text: text, ts: ts, threadTs: threadTs))
        case "app_home_opened":
            guard event["tab"]?.string == "home" else {
                self = .ignored(reason: "an App Home tab other than home")
                return
            }
            guard let user = event["user"]?.string, Identifiers.isSlackID(user) else { throw HTTPError(400, "event.user: expected a user id") }
            self = .homeOpened(user: user)
        default:
            self = .ignored(reason: "event type \(type)")
        }
    }
}
