import RuntimeAPI

/// The channel a request came from.
struct ChannelInfo: Sendable, Equatable {
    var id: String
    var name: String?
    var topic: String?
    var purpose: String?
}

/// What surrounds a request (reference §3 step 3): the channel's name, topic and purpose, and in a
/// thread its earlier messages as `[Bot] …` / `[User] …`. Gathering never fails the request: a Slack
/// error (a missing scope, say) is logged and leaves that part out.
struct ConversationContext: Sendable, Equatable {
    var channel: ChannelInfo
    var threadMessages: [String]

    /// The thread's earlier messages as lines, or nil outside a thread.
    var threadText: String? { threadMessages.isEmpty ? nil : threadMessages.joined(separator: "\n") }

    static func gather(_ slack: SlackAPI, channel: String, threadTs: String?, excludingTs: String) async -> ConversationContext {
        var info = ChannelInfo(id: channel)
        do {
            let found = try await slack.channelInfo(channel)
            info.name = found["name"]?.string
            info.topic = found["topic"]?["value"]?.string.flatMap { $0.isEmpty ? nil : $0 }
            info.purpose = found["purpose"]?["value"]?.string.flatMap { $0.isEmpty ? nil : $0 }
        } catch {
            Log.warn("conversations.info for \(channel): \(error)")
        }
        var lines: [String] = []
        if let threadTs {
            do {
                let replies = try await slack.threadReplies(channel: channel, threadTs: threadTs, limit: Limits.threadContextMessages)
                for reply in replies where reply["ts"]?.string != excludingTs {
                    guard let text = reply["text"]?.string, !text.isEmpty else { continue }
                    let who = reply["bot_id"] != nil ? "[Bot]" : "[User]"
                    lines.append(who + " " + String(MentionText.clean(text).prefix(Limits.maxContextMessageCharacters)))
                }
            } catch {
                Log.warn("conversations.replies for \(channel) \(threadTs): \(error)")
            }
        }
        return ConversationContext(channel: info, threadMessages: lines)
    }
}
