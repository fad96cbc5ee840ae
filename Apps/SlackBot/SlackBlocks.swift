/// Block Kit pieces the bot's messages are made of (https://api.slack.com/block-kit). Text given here
/// is mrkdwn the caller has escaped where it came from outside.
enum SlackBlocks {
    /// Slack's limit on a section's text.
    static let maxSectionCharacters = 3000
    /// Slack's limit on an option's or a button's plain text.
    static let maxPlainTextCharacters = 75

    static func section(_ mrkdwn: String) -> JSON {
        ["type": "section", "text": ["type": "mrkdwn", "text": .string(SlackText.prefix(mrkdwn, maxSectionCharacters))]]
    }

    static func context(_ mrkdwn: String) -> JSON {
        ["type": "context", "elements": [["type": "mrkdwn", "text": .string(SlackText.prefix(mrkdwn, maxSectionCharacters))]]]
    }

    static func plainText(_ text: String) -> JSON {
        ["type": "plain_text", "text": .string(SlackText.prefix(text, maxPlainTextCharacters)), "emoji": true]
    }

    /// The "View Session" link button (`action_id: view_session`; its click needs no handling).
    static func viewSessionButton(_ url: String) -> JSON {
        ["type": "actions", "elements": [[
            "type": "button", "text": plainText("View Session"), "url": .string(url), "action_id": "view_session",
        ]]]
    }

    static func option(_ label: String, value: String) -> JSON {
        ["text": plainText(label), "value": .string(value)]
    }

    /// "Which repository?": a `static_select` (`action_id: select_repo`) whose values are `owner/name`.
    static func repoPicker(_ choices: [Repo], question: String) -> [JSON] {
        let options = choices.map { option($0.fullName, value: $0.fullName) }
        return [
            ["type": "section", "text": ["type": "mrkdwn", "text": .string(SlackText.prefix(question, maxSectionCharacters))],
             "accessory": ["type": "static_select", "action_id": "select_repo", "placeholder": plainText("Choose a repository"),
                           "options": .array(options)]],
        ]
    }
}
