/// One extension of a Sec-WebSocket-Extensions list (RFC 6455 §9.1) with its parameters, in order.
struct WebSocketExtension: Sendable, Equatable {
    struct Parameter: Sendable, Equatable {
        var name: String
        /// nil when the parameter had no "=value"; quoted values are unquoted.
        var value: String?
    }

    var name: String
    var parameters: [Parameter]

    /// "permessage-deflate; client_max_window_bits=10".
    var headerValue: String {
        ([name] + parameters.map { parameter in parameter.value.map { "\(parameter.name)=\($0)" } ?? parameter.name })
            .joined(separator: "; ")
    }
}

/// A Sec-WebSocket-Extensions value that breaks the grammar; `reason` says where.
struct WebSocketExtensionSyntaxError: Error, Equatable {
    var reason: String
}

/// Parses Sec-WebSocket-Extensions (RFC 6455 §9.1):
///
///     extension-list  = 1#extension
///     extension       = extension-token *( ";" extension-param )
///     extension-param = token [ "=" (token / quoted-string) ]
///
/// Several header fields form one list, in order. A quoted value must unquote to a token.
enum WebSocketExtensionHeader {
    static func parse(_ values: [String]) throws(WebSocketExtensionSyntaxError) -> [WebSocketExtension] {
        var extensions: [WebSocketExtension] = []
        for value in values {
            var scanner = Scanner(Array(value.utf8))
            try scanner.parseList(into: &extensions)
        }
        return extensions
    }

    private struct Scanner {
        let bytes: [UInt8]
        var index = 0

        init(_ bytes: [UInt8]) { self.bytes = bytes }

        private var current: UInt8? { index < bytes.count ? bytes[index] : nil }

        mutating func parseList(into extensions: inout [WebSocketExtension]) throws(WebSocketExtensionSyntaxError) {
            while true {
                skipWhitespace()
                guard let byte = current else { return }
                if byte == UInt8(ascii: ",") {
                    index += 1
                    continue
                }
                extensions.append(try parseExtension())
                skipWhitespace()
                guard let next = current else { return }
                guard next == UInt8(ascii: ",") else { throw failure("expected \",\" between extensions") }
            }
        }

        private mutating func parseExtension() throws(WebSocketExtensionSyntaxError) -> WebSocketExtension {
            let name = try token("an extension name")
            var parameters: [WebSocketExtension.Parameter] = []
            while true {
                skipWhitespace()
                guard current == UInt8(ascii: ";") else { break }
                index += 1
                skipWhitespace()
                let parameter = try token("a parameter name")
                skipWhitespace()
                var value: String?
                if current == UInt8(ascii: "=") {
                    index += 1
                    skipWhitespace()
                    value = current == UInt8(ascii: "\"") ? try quotedToken() : try token("a parameter value")
                }
                parameters.append(.init(name: parameter, value: value))
            }
            return WebSocketExtension(name: name, parameters: parameters)
        }

        private mutating func token(_ what: String) throws(WebSocketExtensionSyntaxError) -> String {
            let start = index
            while let byte = current, HeaderTokens.isTokenByte(byte) { index += 1 }
            guard index > start else { throw failure("expected \(what)") }
            return String(decoding: bytes[start..<index], as: UTF8.self)
        }

        private mutating func quotedToken() throws(WebSocketExtensionSyntaxError) -> String {
            index += 1
            var unquoted: [UInt8] = []
            while true {
                guard let byte = current else { throw failure("unterminated quoted string") }
                index += 1
                if byte == UInt8(ascii: "\"") { break }
                if byte == UInt8(ascii: "\\") {
                    guard let escaped = current else { throw failure("unterminated quoted string") }
                    index += 1
                    unquoted.append(escaped)
                } else {
                    unquoted.append(byte)
                }
            }
            guard !unquoted.isEmpty, unquoted.allSatisfy(HeaderTokens.isTokenByte) else {
                throw failure("a quoted parameter value must be a token")
            }
            return String(decoding: unquoted, as: UTF8.self)
        }

        private mutating func skipWhitespace() {
            while let byte = current, HeaderTokens.isOptionalWhitespace(byte) { index += 1 }
        }

        private func failure(_ reason: String) -> WebSocketExtensionSyntaxError {
            let value = String(decoding: bytes, as: UTF8.self)
            return WebSocketExtensionSyntaxError(reason: "\(reason) at byte \(index) of \"\(value)\"")
        }
    }
}
