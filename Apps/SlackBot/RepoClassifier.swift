import RuntimeAPI

/// How sure a classification is.
enum Confidence: String, Sendable {
    case high, medium, low
}

/// What the classifier concluded about a request.
enum RepoDecision: Sendable, Equatable {
    /// There is nothing to choose from.
    case noRepositories
    case selected(Repo, reasoning: String)
    /// The user must pick: these are the likely ones (never empty).
    case clarify(choices: [Repo], reasoning: String)
}

/// A verdict with a confidence, from the LLM or from keyword scoring, turned into a decision the same
/// way for both (reference §3 step 4): ask when there is no match, when confidence is low, or when it
/// is medium and there are alternatives.
struct ClassifierVerdict: Sendable, Equatable {
    var repo: Repo?
    var confidence: Confidence
    var reasoning: String
    var alternatives: [Repo]

    func decision(among repos: [Repo]) -> RepoDecision {
        if let repo, confidence == .high || (confidence == .medium && alternatives.isEmpty) {
            return .selected(repo, reasoning: reasoning)
        }
        var choices = (repo.map { [$0] } ?? []) + alternatives.filter { $0 != repo }
        if choices.isEmpty { choices = Array(repos.prefix(Limits.maxRepoChoices)) }
        return .clarify(choices: Array(choices.prefix(Limits.maxRepoChoices)), reasoning: reasoning)
    }
}

/// Picks the repository a request is about (reference §3 step 4): the only one; the only one associated
/// with the channel; else the LLM when ANTHROPIC_API_KEY is set; else, or when the LLM fails or answers
/// something unusable, keyword scoring.
struct RepoClassifier: Sendable {
    let llm: AnthropicClassifier?

    func classify(_ request: String, context: ConversationContext, repos: [Repo]) async -> RepoDecision {
        guard let only = repos.first else { return .noRepositories }
        if repos.count == 1 { return .selected(only, reasoning: "It is the only repository available.") }
        let associated = repos.filter { $0.isAssociated(with: context.channel) }
        if associated.count == 1 {
            return .selected(associated[0], reasoning: "This channel is associated with \(associated[0].fullName).")
        }
        if let llm {
            do {
                return try await llm.verdict(request, context: context, repos: repos).decision(among: repos)
            } catch {
                Log.warn("LLM classifier failed, using keyword scoring: \(error)")
            }
        }
        return KeywordScorer.verdict(request, context: context, repos: repos).decision(among: repos)
    }
}
