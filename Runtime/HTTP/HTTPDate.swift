#if canImport(Glibc)
import Glibc
#endif

/// The `Date` header value (RFC 9110 §5.6.7, IMF-fixdate), formatted at most once per second.
///
/// Threading: one instance per loop; not shared.
public final class HTTPDate {
    private var cachedSecond = -1
    private var cached: [UInt8] = []

    public init() {}

    /// "Sun, 06 Nov 1994 08:49:37 GMT" for the current second, as bytes.
    public func current() -> [UInt8] {
        let second = time(nil)
        if second != cachedSecond {
            cachedSecond = second
            cached = Array(Self.format(second).utf8)
        }
        return cached
    }

    static let days = ["Sun", "Mon", "Tue", "Wed", "Thu", "Fri", "Sat"]
    static let months = ["Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"]

    public static func format(_ second: time_t) -> String {
        var seconds = second
        var parts = tm()
        gmtime_r(&seconds, &parts)
        func two(_ value: Int32) -> String { value < 10 ? "0\(value)" : "\(value)" }
        return "\(days[Int(parts.tm_wday)]), \(two(parts.tm_mday)) \(months[Int(parts.tm_mon)]) \(1900 + parts.tm_year) "
            + "\(two(parts.tm_hour)):\(two(parts.tm_min)):\(two(parts.tm_sec)) GMT"
    }
}
