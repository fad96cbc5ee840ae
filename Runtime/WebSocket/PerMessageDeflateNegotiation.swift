/// The parameters of one permessage-deflate element, offer or response, checked against RFC 7692 §7.1: only
/// the four defined names, each at most once, the two `no_context_takeover`s without a value and the window
/// sizes as 8 through 15.
struct PerMessageDeflateElement: Sendable, Equatable {
    /// Why an element breaks those rules, in words.
    struct Invalid: Error, Equatable {
        var reason: String
    }

    typealias Name = PerMessageDeflateParameters.Name

    var serverNoContextTakeover = false
    var clientNoContextTakeover = false
    var serverMaxWindowBits: Int?
    /// Present at all: in an offer, "the client can limit its window if told to"; it may lack a value.
    var hasClientMaxWindowBits = false
    var clientMaxWindowBits: Int?

    init(_ element: WebSocketExtension) throws(Invalid) {
        var seen: Set<String> = []
        for parameter in element.parameters {
            let name = parameter.name.lowercased()
            guard seen.insert(name).inserted else { throw Invalid(reason: "\(name) appears twice") }
            switch name {
            case Name.serverNoContextTakeover:
                guard parameter.value == nil else { throw Invalid(reason: "\(name) takes no value") }
                serverNoContextTakeover = true
            case Name.clientNoContextTakeover:
                guard parameter.value == nil else { throw Invalid(reason: "\(name) takes no value") }
                clientNoContextTakeover = true
            case Name.serverMaxWindowBits:
                serverMaxWindowBits = try Self.windowBits(parameter)
            case Name.clientMaxWindowBits:
                hasClientMaxWindowBits = true
                clientMaxWindowBits = parameter.value == nil ? nil : try Self.windowBits(parameter)
            default:
                throw Invalid(reason: "unknown parameter \(parameter.name)")
            }
        }
    }

    /// "8" through "15", written without leading zeros (RFC 7692 §7.1.2.1).
    private static func windowBits(_ parameter: WebSocketExtension.Parameter) throws(Invalid) -> Int {
        guard let value = parameter.value, let bits = Int(value), String(bits) == value,
              PerMessageDeflateConfig.windowBitsRange.contains(bits) else {
            throw Invalid(reason: "\(parameter.name) must be 8 through 15, not \(parameter.value ?? "empty")")
        }
        return bits
    }
}

extension PerMessageDeflateConfig {
    /// Server side: the first of the client's offers (in the client's order of preference) this server can
    /// honour, as the parameters to answer with; nil declines them all, and the connection runs uncompressed.
    ///
    /// An offer is declined, and the next one tried, when it breaks RFC 7692's rules or when it limits the
    /// server's window to 8 bits, which zlib cannot compress with. Otherwise the answer carries:
    /// - `server_no_context_takeover` if the client asked for it or this policy compresses without takeover;
    /// - `client_no_context_takeover` if the client announced it or this policy asks for it;
    /// - `server_max_window_bits` only if the client limited it: the smaller of its limit and ours;
    /// - `client_max_window_bits` only if the client allows it to be set: the smaller of its value and
    ///   `incomingMaxWindowBits`, left out when that is the default 15 and the client named no value. A
    ///   client that cannot be limited is accepted anyway; the decompressor then keeps the full window.
    func accept(offers: [WebSocketExtension]) -> PerMessageDeflateParameters? {
        let name = PerMessageDeflateParameters.extensionName
        for element in offers where HeaderTokens.equalIgnoringCase(element.name, name) {
            guard let offer = try? PerMessageDeflateElement(element) else { continue }
            if let limit = offer.serverMaxWindowBits, limit < Self.minCompressorWindowBits { continue }
            var agreed = PerMessageDeflateParameters()
            agreed.serverNoContextTakeover = offer.serverNoContextTakeover || outgoingNoContextTakeover
            agreed.clientNoContextTakeover = offer.clientNoContextTakeover || incomingNoContextTakeover
            if let limit = offer.serverMaxWindowBits { agreed.serverMaxWindowBits = min(limit, outgoingMaxWindowBits) }
            if offer.hasClientMaxWindowBits {
                let limit = min(offer.clientMaxWindowBits ?? PerMessageDeflateParameters.defaultWindowBits,
                                incomingMaxWindowBits)
                if limit < PerMessageDeflateParameters.defaultWindowBits || offer.clientMaxWindowBits != nil {
                    agreed.clientMaxWindowBits = limit
                }
            }
            return agreed
        }
        return nil
    }

    /// Client side: the Sec-WebSocket-Extensions value offering permessage-deflate under this policy. It
    /// always includes `client_max_window_bits` (so a server may limit our window), with a value when
    /// `outgoingMaxWindowBits` is below 15.
    var offer: WebSocketExtension {
        var parameters: [WebSocketExtension.Parameter] = []
        typealias Name = PerMessageDeflateParameters.Name
        if incomingNoContextTakeover { parameters.append(.init(name: Name.serverNoContextTakeover, value: nil)) }
        if outgoingNoContextTakeover { parameters.append(.init(name: Name.clientNoContextTakeover, value: nil)) }
        if incomingMaxWindowBits < PerMessageDeflateParameters.defaultWindowBits {
            parameters.append(.init(name: Name.serverMaxWindowBits, value: "\(incomingMaxWindowBits)"))
        }
        let ownLimit = outgoingMaxWindowBits < PerMessageDeflateParameters.defaultWindowBits
            ? "\(outgoingMaxWindowBits)" : nil
        parameters.append(.init(name: Name.clientMaxWindowBits, value: ownLimit))
        return WebSocketExtension(name: PerMessageDeflateParameters.extensionName, parameters: parameters)
    }

    /// Client side: checks the server's answer to `offer` and returns what was agreed. The answer may add
    /// either `no_context_takeover` and may limit the server's window (no higher than we asked; we inflate
    /// with whatever it says, 15 when it says nothing);
    /// it must name a value for `client_max_window_bits`, no larger than the one offered, and not 8, which
    /// zlib cannot compress with.
    func acceptResponse(_ element: WebSocketExtension) throws(PerMessageDeflateElement.Invalid)
        -> PerMessageDeflateParameters {
        let answer = try PerMessageDeflateElement(element)
        if let bits = answer.serverMaxWindowBits, bits > incomingMaxWindowBits {
            throw .init(reason: "server_max_window_bits=\(bits) is above the \(incomingMaxWindowBits) asked for")
        }
        if answer.hasClientMaxWindowBits {
            guard let bits = answer.clientMaxWindowBits else {
                throw .init(reason: "client_max_window_bits needs a value in a response")
            }
            guard bits <= outgoingMaxWindowBits else {
                throw .init(reason: "client_max_window_bits=\(bits) is above the \(outgoingMaxWindowBits) offered")
            }
            guard bits >= Self.minCompressorWindowBits else {
                throw .init(reason: "client_max_window_bits=\(bits) is too small for zlib to compress with")
            }
        }
        return PerMessageDeflateParameters(
            serverNoContextTakeover: answer.serverNoContextTakeover,
            clientNoContextTakeover: answer.clientNoContextTakeover,
            serverMaxWindowBits: answer.serverMaxWindowBits, clientMaxWindowBits: answer.clientMaxWindowBits)
    }
}
