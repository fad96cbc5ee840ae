import RuntimeAPI

/// The smallest Durable Object: a counter whose value lives in the object's storage.
///
/// - `GET /`            the value
/// - `POST /increment`  adds the body's number (default 1) and returns the new value
public actor Counter: DurableObject {
    let state: DurableObjectState
    public nonisolated var unownedExecutor: UnownedSerialExecutor { state.executor }

    public init(state: DurableObjectState, env: Env) { self.state = state }

    public func fetch(_ request: Request) async throws -> Response {
        switch (request.method, request.url.path) {
        case ("GET", "/"):
            return Response(text: "\(try value())\n")
        case ("POST", "/increment"):
            let amount = Int(request.text.trimmingCharacters(in: .whitespaces)) ?? 1
            return Response(text: "\(try increment(by: amount))\n")
        default:
            throw HTTPError(404, "counter: no route for \(request.method) \(request.url.path)")
        }
    }

    /// Read and write with no `await` between them: no other event can interleave.
    public func increment(by amount: Int) throws -> Int {
        let next = try value() + amount
        try state.storage.put("count", int: next)
        return next
    }

    public func value() throws -> Int { try state.storage.getInt("count") ?? 0 }
}

extension String {
    fileprivate func trimmingCharacters(in set: CharacterSetLite) -> String {
        var text = Substring(self)
        while let first = text.first, set.contains(first) { text.removeFirst() }
        while let last = text.last, set.contains(last) { text.removeLast() }
        return String(text)
    }
}

/// The characters `trimmingCharacters` removes (keeps the app free of Foundation).
struct CharacterSetLite {
    static let whitespaces = CharacterSetLite()
    func contains(_ character: Character) -> Bool { character.isWhitespace }
}
