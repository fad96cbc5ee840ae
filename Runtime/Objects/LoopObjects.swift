import RuntimeAPI
import RuntimeIO
import RuntimeStorage

/// The objects living on one loop: the registry that guarantees one host per id, and the loop's
/// group commit. Only this loop touches it, which is what makes "exactly one live instance per id"
/// hold even when the first requests for an id race: they all end up here, one at a time.
///
/// Threading: loop-bound.
final class LoopObjects: @unchecked Sendable {
    let loop: Loop
    let groupCommit: GroupCommit
    private var hosts: [String: ObjectHost] = [:]
    /// Hibernatable WebSockets per object; outlive the object's instance and host.
    private var sockets: [String: ObjectSockets] = [:]
    /// Instances created on this loop since start (tests and stats).
    var instancesCreated = 0

    /// Open objects this loop keeps at most (see `ObjectsConfig.maxLiveObjectsPerLoop(loops:)`).
    let maxLive: Int

    init(loop: Loop, maxLive: Int, journal: CommitJournal?) {
        self.loop = loop
        self.maxLive = maxLive
        groupCommit = GroupCommit(loop: loop, journal: journal)
    }

    /// The host for `id`, created on first use.
    func host(_ namespace: ObjectNamespaceRuntime, _ id: ObjectID) -> ObjectHost {
        loop.preconditionOnLoop()
        let key = namespace.name + "/" + id.hex
        if let host = hosts[key] { return host }
        if hosts.count >= maxLive { evictLeastRecentlyUsed() }
        let host = ObjectHost(namespace: namespace, id: id, loopObjects: self)
        hosts[key] = host
        return host
    }

    /// Makes room under `maxLive` by evicting the idle objects that were used longest ago: a sixteenth of
    /// the limit at once, so the scan is rare and no single event pays for closing many databases. Busy
    /// objects stay; if every object is busy, the limit is exceeded rather than failing the event.
    private func evictLeastRecentlyUsed() {
        let idle = hosts.values.filter(\.isIdleForEviction).sorted { $0.lastActivity < $1.lastActivity }
        for host in idle.prefix(max(1, maxLive / 16)) { host.evict() }
    }

    /// Told of evictions, to hand their memory back to the system afterwards.
    var trimmer: MemoryTrimmer?

    func remove(_ host: ObjectHost) {
        if hosts[host.key] === host { hosts[host.key] = nil }
        trimmer?.request()
        if let kept = sockets[host.key], kept.openCount == 0 { sockets[host.key] = nil }
    }

    // MARK: Hibernatable WebSockets

    /// The object's socket registry, made on first use.
    func sockets(for namespace: ObjectNamespaceRuntime, _ id: ObjectID) -> ObjectSockets {
        let key = namespace.name + "/" + id.hex
        if let existing = sockets[key] { return existing }
        let made = ObjectSockets(loop: loop, namespace: namespace, id: id, loopObjects: self)
        sockets[key] = made
        return made
    }

    func existingSockets(_ namespace: ObjectNamespaceRuntime, _ id: ObjectID) -> ObjectSockets? {
        sockets[namespace.name + "/" + id.hex]
    }

    /// The last socket of an object closed: forget the registry unless the object is in memory (it may
    /// accept more, and keeps its auto-response).
    func socketsEmptied(_ registry: ObjectSockets) {
        let key = registry.key
        guard sockets[key] === registry, hosts[key]?.isLive != true else { return }
        sockets[key] = nil
    }

    /// Hibernatable sockets open on this loop (tests and stats).
    var openWebSockets: Int { sockets.values.reduce(0) { $0 + $1.openCount } }

    /// Objects with an event in flight (or a commit not yet durable) on this loop.
    var busyObjects: Int { hosts.values.filter { !$0.isIdleForEviction && $0.hasWorkInFlight }.count }

    /// Objects with a live instance on this loop.
    var liveInstances: Int { hosts.values.filter(\.isLive).count }

    /// Evicts every object that can be (shutdown and tests).
    func evictIdle() {
        for host in Array(hosts.values) where host.isIdleForEviction { host.evict() }
    }
}
