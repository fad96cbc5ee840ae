import RuntimeAPI

/// The bot's responses: JSON bodies, errors as `{"error": "..."}`.
enum Reply {
    static func json(_ value: JSON, status: Int = 200) -> Response {
        Response(status: status, headers: ["Content-Type": "application/json"], body: .bytes(value.bytes))
    }

    static func error(_ status: Int, _ message: String) -> Response { json(["error": .string(message)], status: status) }

    /// The acknowledgement Slack waits for (it retries anything but a 2xx within 3 seconds).
    static func acknowledged() -> Response { json(["ok": true]) }
}

/// Request bodies, checked against their limit before anything reads them.
enum RequestBody {
    /// 413 naming the limit when `request` is larger.
    static func requireSize(_ request: Request, limit: Int) throws {
        guard request.body.count <= limit else { throw HTTPError(413, "request body over \(limit) bytes") }
    }

    /// A JSON object, or 400 saying what is wrong.
    static func object(_ bytes: [UInt8]) throws -> JSON {
        let value: JSON
        do {
            value = try JSON.parse(bytes)
        } catch {
            throw HTTPError(400, "invalid JSON: \(error)")
        }
        guard value.object != nil else { throw HTTPError(400, "expected a JSON object") }
        return value
    }

    /// `application/x-www-form-urlencoded` fields (the first of repeated names wins).
    static func form(_ bytes: [UInt8]) -> [String: String] {
        var fields: [String: String] = [:]
        for item in String(decoding: bytes, as: UTF8.self).split(separator: "&", omittingEmptySubsequences: true) {
            let pair = item.split(separator: "=", maxSplits: 1, omittingEmptySubsequences: false)
            let name = PercentDecoding.decode(pair[0], plusIsSpace: true)
            if fields[name] == nil { fields[name] = pair.count > 1 ? PercentDecoding.decode(pair[1], plusIsSpace: true) : "" }
        }
        return fields
    }
}

/// Checks on ids that end up in KV keys, URLs and paths.
enum Identifiers {
    /// A Slack id (`U…`, `C…`, `Ev…`) or message timestamp (`1700000000.000100`): letters, digits, '.',
    /// '_' and '-', at most `Limits.maxSlackIDBytes`.
    static func isSlackID(_ text: String) -> Bool {
        !text.isEmpty && text.utf8.count <= Limits.maxSlackIDBytes && text.utf8.allSatisfy { byte in
            (byte >= 0x30 && byte <= 0x39) || (byte >= 0x41 && byte <= 0x5a) || (byte >= 0x61 && byte <= 0x7a)
                || byte == 0x2e || byte == 0x5f || byte == 0x2d
        }
    }

    /// A control plane session or message id: lowercase letters, digits, '-' and '_' (its own rule).
    static func isSessionID(_ text: String) -> Bool {
        !text.isEmpty && text.utf8.count <= Limits.maxSessionIDBytes && text.utf8.allSatisfy { byte in
            (byte >= 0x30 && byte <= 0x39) || (byte >= 0x61 && byte <= 0x7a) || byte == 0x2d || byte == 0x5f
        }
    }

    /// `text` percent-encoded for a query value (unreserved characters kept).
    static func queryEncoded(_ text: String) -> String {
        let hex = Array("0123456789ABCDEF".utf8)
        var out: [UInt8] = []
        for byte in text.utf8 {
            switch byte {
            case 0x30...0x39, 0x41...0x5a, 0x61...0x7a, 0x2d, 0x2e, 0x5f, 0x7e: out.append(byte)
            default: out += [0x25, hex[Int(byte >> 4)], hex[Int(byte & 0x0f)]]
            }
        }
        return String(decoding: out, as: UTF8.self)
    }
}
