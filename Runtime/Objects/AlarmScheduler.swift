import RuntimeAPI
import RuntimeIO
import RuntimeStorage

/// Fires alarms, including those of objects not in memory and those set before a restart.
///
/// The source of truth is each object's own `_rt_meta` table; this scheduler keeps an index
/// (`objects/alarms.sqlite`: namespace, id, time) so it can find due alarms without opening every
/// database at start. The index is updated after each commit that changes an alarm, and corrected
/// whenever an object's storage is opened. Firing checks the object's own table, so a stale index
/// entry only costs a wake-up.
///
/// Retries after a throwing handler are in memory: 2 s, 4 s, 8 s... (`ObjectsConfig.alarmRetryBase`)
/// up to `ObjectsConfig.maxAlarmAttempts` attempts; after a restart a still-stored alarm fires at once.
///
/// Threading: its state lives on one loop (loop 0); `update` may be called from any loop.
final class AlarmScheduler: @unchecked Sendable {
    let loop: Loop
    private let database: SQLiteDatabase
    private unowned let runtime: ObjectRuntime
    private var entries: [String: Entry] = [:]
    private var closed = false

    /// Loop-bound like the scheduler; `@unchecked Sendable` so the firing task (on the same loop) can hold it.
    final class Entry: @unchecked Sendable {
        let namespace: String
        let id: ObjectID
        var time: Int64
        var attempt = 0
        var timer: LoopTimer?
        init(namespace: String, id: ObjectID, time: Int64) {
            self.namespace = namespace
            self.id = id
            self.time = time
        }
    }

    init(loop: Loop, path: String, runtime: ObjectRuntime) throws {
        self.loop = loop
        self.runtime = runtime
        database = try SQLiteDatabase(path: path)
        // A small index, written rarely: let SQLite checkpoint it and sync at checkpoints.
        try database.execute("PRAGMA synchronous=NORMAL; PRAGMA wal_autocheckpoint=1000;")
        try database.execute("""
            CREATE TABLE IF NOT EXISTS alarms (namespace TEXT NOT NULL, id TEXT NOT NULL, time INTEGER NOT NULL,
                PRIMARY KEY (namespace, id)) WITHOUT ROWID
            """)
    }

    /// Cancels every timer and closes the index (shutdown). Nothing fires afterwards.
    func close() {
        loop.preconditionOnLoop()
        closed = true
        for entry in entries.values {
            if let timer = entry.timer { loop.cancel(timer) }
        }
        entries = [:]
        database.close()
    }

    /// Loads the index and arms a timer per alarm.
    func start() {
        loop.execute { [self] in
            guard let rows = try? database.query("SELECT namespace, id, time FROM alarms") else { return }
            for row in rows {
                guard let namespace = row[0].string, let hex = row[1].string, let time = row[2].int,
                      let ns = runtime.namespaces[namespace], let id = try? ns.idFromString(hex) else { continue }
                arm(Entry(namespace: namespace, id: id, time: Int64(time)))
            }
        }
    }

    /// Records an object's committed alarm (nil: none). Safe from any loop.
    func update(namespace: String, id: ObjectID, at time: Int64?) {
        loop.execute { [self] in
            guard !closed else { return }
            let key = namespace + "/" + id.hex
            if let existing = entries[key] {
                if existing.time == time { return }
                if let timer = existing.timer { loop.cancel(timer) }
                entries[key] = nil
            }
            do {
                if let time {
                    try database.query("INSERT OR REPLACE INTO alarms (namespace, id, time) VALUES (?, ?, ?)",
                                       [.text(namespace), .text(id.hex), .integer(time)])
                    arm(Entry(namespace: namespace, id: id, time: time))
                } else {
                    try database.query("DELETE FROM alarms WHERE namespace = ? AND id = ?",
                                       [.text(namespace), .text(id.hex)])
                }
            } catch {
                // The object's own table still has the alarm; it is re-indexed when the object opens.
            }
        }
    }

    private func arm(_ entry: Entry, after delay: Duration? = nil) {
        entries[entry.namespace + "/" + entry.id.hex] = entry
        let timer = LoopTimer { [weak self, weak entry] in
            guard let self, let entry else { return }
            // The timer runs on the monotonic clock, the alarm's time is wall-clock: when the wall clock
            // was stepped back meanwhile, the timer fires before the alarm is due. The object would find
            // its alarm not yet due and do nothing, and with no later timer the alarm would never run:
            // wait out the rest instead.
            let early = entry.time - WallClock.milliseconds()
            if early > 0, let timer = entry.timer {
                self.loop.arm(timer, after: .milliseconds(early))
                return
            }
            self.fire(entry)
        }
        entry.timer = timer
        let wait = delay ?? .milliseconds(max(0, entry.time - WallClock.milliseconds()))
        loop.arm(timer, after: wait)
    }

    private func fire(_ entry: Entry) {
        let runtime = self.runtime
        Task(executorPreference: loop.taskExecutor) { [self] in
            let succeeded = await runtime.runAlarm(namespace: entry.namespace, id: entry.id)
            // The alarm ran on the object's loop; this scheduler's state lives on its own.
            await loop.hopHere()
            if succeeded || closed { return }
            entry.attempt += 1
            guard entry.attempt < ObjectsConfig.maxAlarmAttempts else {
                await runtime.giveUpAlarm(namespace: entry.namespace, id: entry.id)
                await loop.hopHere()
                entries[entry.namespace + "/" + entry.id.hex] = nil
                return
            }
            let key = entry.namespace + "/" + entry.id.hex
            // A handler that set a new alarm before throwing has replaced this entry; leave that one be.
            guard entries[key] === entry else { return }
            let backoff = runtime.config.alarmRetryBase * (1 << (entry.attempt - 1))
            arm(entry, after: backoff)
        }
    }
}
