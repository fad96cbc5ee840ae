import RuntimeAPI

/// The App Home tab (reference §3): which model sessions started from Slack use, picked with a
/// `static_select` (`action_id: select_model`) and kept in KV `user_prefs:{user}`.
struct AppHome: Sendable {
    let slack: SlackAPI
    let store: BotStore
    let config: BotConfig

    /// `views.publish` of the user's home view, showing their current model.
    func publish(user: String) async throws {
        let current = try await store.modelPreference(user: user) ?? config.defaultModel
        try await slack.publishHome(user: user, view: Self.view(currentModel: current))
    }

    /// `select_model`: saves the choice and shows it.
    func selectModel(user: String, model: String) async throws {
        try await store.saveModelPreference(user: user, model: model)
        try await publish(user: user)
    }

    static func view(currentModel: String) -> JSON {
        let options = Models.choices.map { SlackBlocks.option($0.name, value: $0.id) }
        var picker: JSON = ["type": "static_select", "action_id": "select_model", "placeholder": SlackBlocks.plainText("Choose a model"),
                            "options": .array(options)]
        if Models.isChoice(currentModel) { picker[set: "initial_option"] = SlackBlocks.option(Models.name(currentModel), value: currentModel) }
        return ["type": "home", "blocks": [
            ["type": "header", "text": SlackBlocks.plainText("Dispatch")],
            SlackBlocks.section("Mention me in a channel with a request and I start a coding session on the right repository."),
            ["type": "section", "text": ["type": "mrkdwn", "text": "*Model for your sessions*"], "accessory": picker],
            SlackBlocks.context("Current model: *\(SlackText.escape(Models.name(currentModel)))*"),
        ]]
    }
}
