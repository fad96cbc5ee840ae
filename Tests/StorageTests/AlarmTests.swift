import Testing
@testable import RuntimeStorage
import RuntimeAPI

/// What `onAlarmCommitted` was called with, in order. Loop-bound, like the storage that calls it.
final class AlarmLog {
    var calls: [Int64?] = []
}

@Suite("Alarms", .timeLimit(.minutes(1)))
struct AlarmTests {
    @Test("setAlarm, getAlarm and deleteAlarm: set, replace, delete, and persist across reopening")
    func setGetDelete() async throws {
        try await withStorage { bench in
            let storage = bench.storage
            #expect(try storage.getAlarm() == nil)
            try storage.setAlarm(atMilliseconds: 1_700_000_000_000)
            #expect(try storage.getAlarm() == 1_700_000_000_000)
            try storage.setAlarm(atMilliseconds: 5)
            #expect(try storage.getAlarm() == 5)
            try await storage.waitUntilDurable()
            #expect(try bench.reopen().getAlarm() == 5)

            try bench.storage.deleteAlarm()
            #expect(try bench.storage.getAlarm() == nil)
            try bench.storage.deleteAlarm()
            try await bench.storage.waitUntilDurable()
            #expect(try bench.reopen().getAlarm() == nil)
        }
    }

    @Test("setAlarm(after:) stores wall-clock now plus the delay")
    func setAfterDelay() async throws {
        try await withStorage { bench in
            let before = WallClock.milliseconds()
            try bench.storage.setAlarm(after: .seconds(60))
            let after = WallClock.milliseconds()
            let stored = try #require(try bench.storage.getAlarm())
            #expect(stored >= before + 60_000)
            #expect(stored <= after + 60_000)
        }
    }

    @Test("while the alarm handler runs, getAlarm reads nil but storedAlarm still has the time")
    func alarmRunningHidesAlarm() async throws {
        try await withStorage { bench in
            let storage = bench.storage
            try storage.setAlarm(atMilliseconds: 1000)
            try await storage.waitUntilDurable()
            storage.alarmRunning = true
            #expect(try storage.getAlarm() == nil)
            #expect(try storage.storedAlarm() == 1000)
            storage.alarmRunning = false
            #expect(try storage.getAlarm() == 1000)
        }
    }

    @Test("setting a new alarm inside the running handler makes it readable again")
    func setAlarmInsideHandler() async throws {
        try await withStorage { bench in
            let storage = bench.storage
            try storage.setAlarm(atMilliseconds: 1000)
            storage.alarmRunning = true
            try storage.setAlarm(atMilliseconds: 2000)
            #expect(!storage.alarmRunning)
            #expect(try storage.getAlarm() == 2000)
        }
    }

    @Test("onAlarmCommitted reports each committed change once, after its commit, and never a rolled-back one")
    func onAlarmCommitted() async throws {
        try await withStorage { bench in
            let storage = bench.storage
            let log = AlarmLog()
            storage.onAlarmCommitted = { log.calls.append($0) }

            try storage.setAlarm(atMilliseconds: 1000)
            try storage.setAlarm(atMilliseconds: 1500)
            #expect(log.calls.isEmpty)
            try await storage.waitUntilDurable()
            #expect(log.calls == [1500])

            #expect(throws: Abort(marker: 4)) {
                try storage.transaction {
                    try storage.setAlarm(atMilliseconds: 2000)
                    throw Abort(marker: 4)
                }
            }
            try storage.put("unrelated", [1])
            try await storage.waitUntilDurable()
            #expect(log.calls == [1500])
            #expect(try storage.getAlarm() == 1500)

            try storage.deleteAlarm()
            try await storage.waitUntilDurable()
            #expect(log.calls == [1500, nil])

            try storage.put("no alarm change", [2])
            try await storage.waitUntilDurable()
            #expect(log.calls == [1500, nil])
        }
    }

    @Test("an alarm change rolled back by an inner transaction keeps the outer change")
    func nestedAlarmRollback() async throws {
        try await withStorage { bench in
            let storage = bench.storage
            let log = AlarmLog()
            storage.onAlarmCommitted = { log.calls.append($0) }
            try storage.transaction {
                try storage.setAlarm(atMilliseconds: 10)
                try? storage.transaction {
                    try storage.deleteAlarm()
                    throw Abort(marker: 5)
                }
            }
            #expect(try storage.getAlarm() == 10)
            try await storage.waitUntilDurable()
            #expect(log.calls == [10])
        }
    }
}
