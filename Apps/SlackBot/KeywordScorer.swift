/// The classifier without an LLM (reference §3 step 4): each repository scores points for the words of
/// the request that name it, and the best score sets the confidence.
enum KeywordScorer {
    static let nameWeight = 10
    static let ownerWeight = 5
    static let aliasWeight = 8
    static let keywordWeight = 3
    static let channelWeight = 15
    /// Scores at or above these are high / medium confidence.
    static let highConfidenceScore = 10
    static let mediumConfidenceScore = 5

    static func verdict(_ request: String, context: ConversationContext, repos: [Repo]) -> ClassifierVerdict {
        let words = Words(request + "\n" + (context.threadText ?? ""))
        let scored = repos.map { (repo: $0, score: score($0, words: words, channel: context.channel)) }
            .filter { $0.score > 0 }
            .sorted { $0.score > $1.score }
        guard let best = scored.first else {
            return ClassifierVerdict(repo: nil, confidence: .low, reasoning: "No repository is named in the request.", alternatives: [])
        }
        // A tie at the top is no pick: the user decides between them.
        let tied = scored.dropFirst().first?.score == best.score
        let confidence: Confidence = tied ? .low
            : best.score >= highConfidenceScore ? .high : best.score >= mediumConfidenceScore ? .medium : .low
        return ClassifierVerdict(repo: best.repo, confidence: confidence,
                                 reasoning: "The request mentions \(best.repo.fullName) (keyword score \(best.score)).",
                                 alternatives: scored.dropFirst().map(\.repo))
    }

    static func score(_ repo: Repo, words: Words, channel: ChannelInfo) -> Int {
        var total = 0
        if words.contains(repo.name) { total += nameWeight }
        if words.contains(repo.owner) { total += ownerWeight }
        total += repo.aliases.filter { words.contains($0) }.count * aliasWeight
        total += repo.keywords.filter { words.contains($0) }.count * keywordWeight
        if repo.isAssociated(with: channel) { total += channelWeight }
        return total
    }

    /// Text matched as whole words, case-insensitively: "widgets" matches "the widgets page" and
    /// "widgets." but not "widgetsmith". Letters, digits, '-' and '_' make up a word.
    struct Words {
        let text: [Character]

        init(_ text: String) { self.text = Array(text.lowercased()) }

        func contains(_ term: String) -> Bool {
            let needle = Array(term.lowercased().trimmedSpaces)
            guard !needle.isEmpty, needle.count <= text.count else { return false }
            var start = 0
            while start + needle.count <= text.count {
                if text[start] == needle[0], text[start..<(start + needle.count)].elementsEqual(needle),
                   start == 0 || !Self.isWordCharacter(text[start - 1]),
                   start + needle.count == text.count || !Self.isWordCharacter(text[start + needle.count]) {
                    return true
                }
                start += 1
            }
            return false
        }

        static func isWordCharacter(_ character: Character) -> Bool {
            character.isLetter || character.isNumber || character == "-" || character == "_"
        }
    }
}
