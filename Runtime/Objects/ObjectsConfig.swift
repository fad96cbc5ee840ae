/// Settings of the Durable Objects runtime. Defaults are named constants.
public struct ObjectsConfig: Sendable {
    /// An object with no event in flight for this long is dropped from memory (its database closed);
    /// the next event re-creates it.
    public static let defaultIdleTimeout: Duration = .seconds(30)
    /// First alarm retry delay; each further retry doubles it.
    public static let defaultAlarmRetryBase: Duration = .seconds(2)
    /// Attempts of one alarm (the first run plus retries) before it is given up.
    public static let maxAlarmAttempts = 6
    /// Objects one app keeps open at once, shared evenly by the loops: past this, a loop evicts its
    /// least recently used idle objects early. Memory is the bound: an open object with a small
    /// database holds about 85 KiB (its WAL index, lookaside, prepared statements and cached pages).
    /// Descriptors are not: object databases draw theirs from `RuntimeStorage`'s descriptor pool.
    public static let defaultMaxLiveObjects = 16_384
    /// A loop keeps at least this many open, however many loops share the cap.
    public static let minLiveObjectsPerLoop = 64
    /// The largest cap `runtime serve --max-live-objects` accepts (about 85 GiB of open objects).
    public static let maxLiveObjectsLimit = 1_000_000

    /// Where object databases live: `<stateDirectory>/objects/<namespace>/<id>.sqlite`.
    public var stateDirectory: String
    public var idleTimeout: Duration
    public var alarmRetryBase: Duration
    /// Objects kept open at once across the loops; nil: `defaultMaxLiveObjects`.
    public var maxLiveObjects: Int?
    /// Journal commits (one fsync per loop turn for all objects) instead of syncing each object's WAL.
    /// Off only to measure the difference.
    public var useCommitJournal: Bool

    public init(stateDirectory: String, idleTimeout: Duration = defaultIdleTimeout,
                alarmRetryBase: Duration = defaultAlarmRetryBase,
                maxLiveObjects: Int? = nil, useCommitJournal: Bool = true) {
        self.stateDirectory = stateDirectory
        self.idleTimeout = idleTimeout
        self.alarmRetryBase = alarmRetryBase
        self.maxLiveObjects = maxLiveObjects
        self.useCommitJournal = useCommitJournal
    }

    var objectsDirectory: String { stateDirectory + "/objects" }

    /// Objects each of `loops` loops keeps open: the cap shared evenly, at least `minLiveObjectsPerLoop`.
    public func maxLiveObjectsPerLoop(loops: Int) -> Int {
        max((maxLiveObjects ?? Self.defaultMaxLiveObjects) / max(loops, 1), Self.minLiveObjectsPerLoop)
    }
}
