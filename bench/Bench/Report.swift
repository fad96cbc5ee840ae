import Foundation
import Histogram

/// What one measured segment (one target, one round) produced.
struct SegmentResult: Sendable {
    var histogram: Histogram<UInt64>
    var requests: Int
    var errors: Int
    var non2xx: Int
    var nanoseconds: UInt64
    var lastError: String?

    static func empty(nanoseconds: UInt64) -> SegmentResult {
        SegmentResult(histogram: Histogram<UInt64>(highestTrackableValue: 60_000_000, numberOfSignificantValueDigits: .three),
                      requests: 0, errors: 0, non2xx: 0, nanoseconds: nanoseconds, lastError: nil)
    }

    /// Combines two loops' parts of the same segment (same wall time).
    func merged(_ other: SegmentResult) -> SegmentResult {
        var result = self
        result.histogram.add(other.histogram)
        result.requests += other.requests
        result.errors += other.errors
        result.non2xx += other.non2xx
        result.lastError = other.lastError ?? lastError
        return result
    }
}

/// All rounds of one target.
struct TargetResult {
    let name: String
    var histogram = Histogram<UInt64>(highestTrackableValue: 60_000_000, numberOfSignificantValueDigits: .three)
    var requests = 0
    var errors = 0
    var non2xx = 0
    var nanoseconds: UInt64 = 0
    var lastError: String?

    init(name: String) { self.name = name }

    mutating func add(_ segment: SegmentResult) {
        histogram.add(segment.histogram)
        requests += segment.requests
        errors += segment.errors
        non2xx += segment.non2xx
        nanoseconds += segment.nanoseconds
        lastError = segment.lastError ?? lastError
    }

    var requestsPerSecond: Double { nanoseconds == 0 ? 0 : Double(requests) / (Double(nanoseconds) / 1e9) }
    func percentile(_ value: Double) -> Double { Double(histogram.valueAtPercentile(value)) / 1000 }
    var maxMilliseconds: Double { Double(histogram.max) / 1000 }
}

/// The printed table and the JSON file.
struct Report {
    /// What one counted event is called in the table and the JSON, and whether HTTP statuses apply.
    struct Unit {
        let column: String
        let countKey: String
        let rateKey: String
        let showsNon2xx: Bool

        static let requests = Unit(column: "req/s", countKey: "requests", rateKey: "requests_per_second",
                                   showsNon2xx: true)
    }

    let results: [TargetResult]
    let connections: Int
    let threads: Int
    let duration: String
    let arguments: [String]
    var unit = Unit.requests
    /// More top-level JSON fields (the message size of `bench ws`, say).
    var extraFields: [String: Any] = [:]
    /// More JSON fields per target, by target index.
    var extraTargetFields: [[String: Any]] = []

    func table() -> String {
        var lines = ["", pad("target", 40) + pad(unit.column, 14) + pad("errors", 8)
            + (unit.showsNon2xx ? pad("non-2xx", 9) : "")
            + pad("p50 ms", 9) + pad("p90 ms", 9) + pad("p99 ms", 9) + "max ms"]
        for result in results {
            lines.append(pad(result.name, 40) + pad(String(Int(result.requestsPerSecond)), 14)
                + pad(String(result.errors), 8) + (unit.showsNon2xx ? pad(String(result.non2xx), 9) : "")
                + pad(ms(result.percentile(50)), 9) + pad(ms(result.percentile(90)), 9)
                + pad(ms(result.percentile(99)), 9) + ms(result.maxMilliseconds))
            if let error = result.lastError { lines.append("  last error: \(error)") }
        }
        if results.count == 2, results[1].requestsPerSecond > 0 {
            let ratio = results[0].requestsPerSecond / results[1].requestsPerSecond
            let p99 = results[1].percentile(99) > 0 ? results[0].percentile(99) / results[1].percentile(99) : 0
            lines.append("")
            lines.append("ratio \(results[0].name) / \(results[1].name): \(unit.column) \(String(format: "%.2f", ratio))x, "
                + "p99 \(String(format: "%.2f", p99))x")
        }
        return lines.joined(separator: "\n")
    }

    func writeJSON(to path: String) throws {
        let targets: [[String: Any]] = results.enumerated().map { index, result in
            var fields: [String: Any] = [
                "name": result.name, unit.countKey: result.requests, "errors": result.errors,
                "seconds": Double(result.nanoseconds) / 1e9,
                unit.rateKey: (result.requestsPerSecond * 10).rounded() / 10,
                "latency_ms": ["p50": result.percentile(50), "p90": result.percentile(90),
                               "p99": result.percentile(99), "max": result.maxMilliseconds],
            ]
            if unit.showsNon2xx { fields["non2xx"] = result.non2xx }
            if index < extraTargetFields.count { fields.merge(extraTargetFields[index]) { $1 } }
            return fields
        }
        var document: [String: Any] = [
            "date": ISO8601DateFormatter().string(from: Date()),
            "command": arguments.joined(separator: " "),
            "connections": connections, "threads": threads, "duration": duration, "targets": targets,
        ]
        document.merge(extraFields) { $1 }
        if results.count == 2, results[1].requestsPerSecond > 0 {
            document["ratio_\(unit.rateKey)"] = results[0].requestsPerSecond / results[1].requestsPerSecond
        }
        let data = try JSONSerialization.data(withJSONObject: document, options: [.prettyPrinted, .sortedKeys])
        try data.write(to: URL(fileURLWithPath: path))
    }

    private func pad(_ text: String, _ width: Int) -> String {
        text.count >= width ? text + " " : text + String(repeating: " ", count: width - text.count)
    }

    private func ms(_ value: Double) -> String { String(format: "%.3f", value) }
}
