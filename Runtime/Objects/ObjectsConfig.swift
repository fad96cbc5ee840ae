/// Settings of the Durable Objects runtime. Defaults are named constants.
public struct ObjectsConfig: Sendable {
    /// An object with no event in flight for this long is dropped from memory (its database closed);
    /// the next event re-creates it.
    public static let defaultIdleTimeout: Duration = .seconds(30)
    /// First alarm retry delay; each further retry doubles it.
    public static let defaultAlarmRetryBase: Duration = .seconds(2)
    /// Attempts of one alarm (the first run plus retries) before it is given up.
    public static let maxAlarmAttempts = 6
    /// Objects a loop keeps open at once. Each open object holds four descriptors (database, WAL, shared
    /// memory, and the WAL descriptor that syncs); past this, the least recently used idle objects are
    /// evicted early, so many objects cannot exhaust the process's descriptors.
    public static let defaultMaxLiveObjectsPerLoop = 1024

    /// Where object databases live: `<stateDirectory>/objects/<namespace>/<id>.sqlite`.
    public var stateDirectory: String
    public var idleTimeout: Duration
    public var alarmRetryBase: Duration
    public var maxLiveObjectsPerLoop: Int

    public init(stateDirectory: String, idleTimeout: Duration = defaultIdleTimeout,
                alarmRetryBase: Duration = defaultAlarmRetryBase,
                maxLiveObjectsPerLoop: Int = defaultMaxLiveObjectsPerLoop) {
        self.stateDirectory = stateDirectory
        self.idleTimeout = idleTimeout
        self.alarmRetryBase = alarmRetryBase
        self.maxLiveObjectsPerLoop = maxLiveObjectsPerLoop
    }

    var objectsDirectory: String { stateDirectory + "/objects" }
}
