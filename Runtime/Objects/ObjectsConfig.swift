#if canImport(Glibc)
import Glibc
#endif

/// Settings of the Durable Objects runtime. Defaults are named constants.
public struct ObjectsConfig: Sendable {
    /// An object with no event in flight for this long is dropped from memory (its database closed);
    /// the next event re-creates it.
    public static let defaultIdleTimeout: Duration = .seconds(30)
    /// First alarm retry delay; each further retry doubles it.
    public static let defaultAlarmRetryBase: Duration = .seconds(2)
    /// Attempts of one alarm (the first run plus retries) before it is given up.
    public static let maxAlarmAttempts = 6
    /// Share of the process's descriptor limit (RLIMIT_NOFILE) that open objects may take, as a divisor:
    /// the rest is left for sockets, hibernated WebSockets among them.
    public static let descriptorShareDivisor = 2
    /// Descriptors one open object holds: its database and its WAL.
    public static let descriptorsPerObject = 2
    /// Bounds of the per-loop open-object cap, whatever the descriptor limit says.
    public static let maxLiveObjectsPerLoopRange = 64...16_384

    /// Objects a loop keeps open at once, from the descriptor limit: past this, the least recently used
    /// idle objects are evicted early, so many objects cannot exhaust the process's descriptors.
    public static func defaultMaxLiveObjectsPerLoop(loops: Int) -> Int {
        var limit = rlimit()
        let descriptors = getrlimit(Int32(RLIMIT_NOFILE.rawValue), &limit) == 0 ? Int(min(limit.rlim_cur, 1 << 20)) : 1024
        let perLoop = descriptors / descriptorShareDivisor / descriptorsPerObject / max(loops, 1)
        return min(max(perLoop, maxLiveObjectsPerLoopRange.lowerBound), maxLiveObjectsPerLoopRange.upperBound)
    }

    /// Where object databases live: `<stateDirectory>/objects/<namespace>/<id>.sqlite`.
    public var stateDirectory: String
    public var idleTimeout: Duration
    public var alarmRetryBase: Duration
    /// Nil: `defaultMaxLiveObjectsPerLoop(loops:)`.
    public var maxLiveObjectsPerLoop: Int?
    /// Journal commits (one fsync per loop turn for all objects) instead of syncing each object's WAL.
    /// Off only to measure the difference.
    public var useCommitJournal: Bool

    public init(stateDirectory: String, idleTimeout: Duration = defaultIdleTimeout,
                alarmRetryBase: Duration = defaultAlarmRetryBase,
                maxLiveObjectsPerLoop: Int? = nil, useCommitJournal: Bool = true) {
        self.stateDirectory = stateDirectory
        self.idleTimeout = idleTimeout
        self.alarmRetryBase = alarmRetryBase
        self.maxLiveObjectsPerLoop = maxLiveObjectsPerLoop
        self.useCommitJournal = useCommitJournal
    }

    var objectsDirectory: String { stateDirectory + "/objects" }
}
