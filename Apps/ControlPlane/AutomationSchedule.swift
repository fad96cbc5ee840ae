import RuntimeAPI

/// When an automation runs (upstream #293): every N minutes, or daily or on weekdays at a UTC time.
struct AutomationSchedule: Sendable, Equatable {
    enum Kind: String, Sendable {
        case interval, daily, weekdays
    }

    var kind: Kind
    /// For `interval`.
    var everyMinutes: Int = 0
    /// For `daily` and `weekdays`: minutes after 00:00 UTC.
    var minuteOfDay: Int = 0

    static let minIntervalMinutes = 5
    static let maxIntervalMinutes = 7 * 24 * 60
    static let dayMs: Int64 = 86_400_000
    static let minuteMs: Int64 = 60_000

    /// From the REST body: `{kind: "interval", everyMinutes}` or `{kind: "daily"|"weekdays", time: "HH:MM"}`.
    init(_ body: JSON) throws {
        guard let name = body["kind"]?.string, let kind = Kind(rawValue: name) else {
            throw HTTPError(400, "schedule.kind: interval, daily or weekdays")
        }
        self.kind = kind
        switch kind {
        case .interval:
            guard let every = body["everyMinutes"]?.int, every >= Self.minIntervalMinutes, every <= Self.maxIntervalMinutes else {
                throw HTTPError(400, "schedule.everyMinutes: \(Self.minIntervalMinutes) to \(Self.maxIntervalMinutes)")
            }
            everyMinutes = Int(every)
        case .daily, .weekdays:
            let parts = (body["time"]?.string ?? "").split(separator: ":")
            guard parts.count == 2, parts.allSatisfy({ $0.count == 2 }), let hour = Int(parts[0]), let minute = Int(parts[1]),
                  (0..<24).contains(hour), (0..<60).contains(minute) else {
                throw HTTPError(400, "schedule.time: HH:MM in UTC, like 09:30")
            }
            minuteOfDay = hour * 60 + minute
        }
    }

    init(kind: Kind, everyMinutes: Int = 0, minuteOfDay: Int = 0) {
        self.kind = kind
        self.everyMinutes = everyMinutes
        self.minuteOfDay = minuteOfDay
    }

    var json: JSON {
        switch kind {
        case .interval: ["kind": .string(kind.rawValue), "everyMinutes": .int(Int64(everyMinutes))]
        case .daily, .weekdays: ["kind": .string(kind.rawValue), "time": .string(time)]
        }
    }

    var time: String {
        let hour = minuteOfDay / 60, minute = minuteOfDay % 60
        return (hour < 10 ? "0" : "") + String(hour) + ":" + (minute < 10 ? "0" : "") + String(minute)
    }

    /// "every 30 minutes", "daily at 09:30 UTC", "weekdays at 09:30 UTC".
    var summary: String {
        switch kind {
        case .interval: "every \(everyMinutes) minutes"
        case .daily: "daily at \(time) UTC"
        case .weekdays: "weekdays at \(time) UTC"
        }
    }

    /// The run after the one due at `runAt`, handled at `now` (an alarm fires a little late, or much
    /// later after downtime). An interval keeps its cadence from `runAt` (no drift by the alarm's
    /// lateness) and skips the runs already missed, so a scheduler that slept through several runs
    /// runs once; a time of day is the first one after now.
    func next(afterRunAt runAt: Int64, now: Int64) -> Int64 {
        guard kind == .interval else { return next(after: max(now, runAt)) }
        let step = Int64(everyMinutes) * Self.minuteMs
        let next = runAt + step
        return next > now ? next : next + ((now - next) / step + 1) * step
    }

    /// The first run strictly after `after` (milliseconds since 1970).
    func next(after: Int64) -> Int64 {
        switch kind {
        case .interval:
            return after + Int64(everyMinutes) * Self.minuteMs
        case .daily, .weekdays:
            var day = after / Self.dayMs
            while true {
                let candidate = day * Self.dayMs + Int64(minuteOfDay) * Self.minuteMs
                // 1970-01-01 was a Thursday: (day + 4) % 7 is 0 on Sundays and 6 on Saturdays.
                let weekday = (day + 4) % 7
                if candidate > after, kind == .daily || (weekday != 0 && weekday != 6) { return candidate }
                day += 1
            }
        }
    }
}
