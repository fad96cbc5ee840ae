/// The completion message posted in the thread (reference §3): the agent's summary, the pull
/// requests under "Created:", branches pushed without one under "Branch pushed", up to five key actions, a footer with ✅/⚠️ · model · repository, and a
/// View Session button.
struct CompletionMessage: Sendable {
    let report: CompletionReport
    let success: Bool
    let model: String?
    let repoFullName: String?
    let sessionURL: String

    var statusLine: String { success ? "✅ Completed" : "⚠️ Finished with errors" }

    /// The notification text (and what clients without blocks show).
    var fallbackText: String {
        SlackText.prefix(report.summary ?? statusLine, Limits.fallbackTextCharacters)
    }

    var blocks: [JSON] {
        var blocks: [JSON] = []
        if let summary = report.summary {
            blocks.append(SlackBlocks.section(SlackText.escape(summary)))
        } else {
            blocks.append(SlackBlocks.section(success ? "The agent finished without a written reply." : "The agent stopped without a written reply."))
        }
        if !success, let error = report.error, !error.isEmpty {
            blocks.append(SlackBlocks.section("*Error:* " + SlackText.escape(SlackText.prefix(error, Limits.maxSummaryCharacters))))
        }
        if !report.pullRequests.isEmpty {
            let lines = report.pullRequests.map { pull in
                "• <\(pull.url)|" + (pull.number.map { "Pull request #\($0)" } ?? "Pull request") + ">"
            }
            blocks.append(SlackBlocks.section("*Created:*\n" + lines.joined(separator: "\n")))
        }
        if !report.pushedBranches.isEmpty {
            let lines = report.pushedBranches.map { "• <\($0)|Open a pull request>" }
            blocks.append(SlackBlocks.section("*Branch pushed*, the pull request is yours to open (the agent had no GitHub token of yours):\n"
                                              + lines.joined(separator: "\n")))
        }
        if !report.actions.isEmpty {
            var lines = report.actions.map { "• " + $0 }
            if report.moreActions > 0 { lines.append("• …and \(report.moreActions) more") }
            blocks.append(SlackBlocks.section("*Key actions:*\n" + lines.joined(separator: "\n")))
        }
        let footer = [statusLine, model, repoFullName].compactMap { $0.map(SlackText.escape) }.joined(separator: " · ")
        blocks.append(SlackBlocks.context(footer))
        blocks.append(SlackBlocks.viewSessionButton(sessionURL))
        return blocks
    }
}
