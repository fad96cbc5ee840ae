import ArgumentParser
import Foundation
import RuntimeIO

/// `bench ws idle`: what an open, idle WebSocket costs the server. Opens `--connections` connections over
/// `--rooms` rooms, sends one message on each, lets everything settle, and divides the growth of the
/// server's resident memory by the connections held. If it cannot open them all it says which limit
/// stopped it: our descriptors, the server's, refused connections, or ephemeral ports.
struct WebSocketIdleBench: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "idle",
        abstract: "Idle connections: how many open, which limit stops them, and server RSS per connection.",
        discussion: """
            Connection i joins room i % rooms: "-<n>" is appended to the URL's path (/room/idle-0, \
            /room/idle-1, ...). Each sends one small text message once it is open. Since a room sends \
            every message to every member, the greetings cost deliveries that grow with the square of a \
            room's size. A connection's attempt ends when its own greeting came back, so the opening \
            goes at the pace of the server's fan-out (at most 32 attempts at a time); the bench then \
            waits until deliveries have stopped, then for --settle, and only then reads the server's \
            VmRSS. Our own RLIMIT_NOFILE soft limit is raised to the hard limit \
            first. Opening stops at the first connection that fails to open.
            """)

    @Option(help: "Room endpoint; \"-0\" to \"-<rooms-1>\" is appended to its path.")
    var url = "ws://127.0.0.1:8787/room/idle"

    @Option(help: "Connections to open and hold.")
    var connections = 15_000

    @Option(help: "Rooms to spread the connections over.")
    var rooms = WebSocketBenchLimits.defaultIdleRooms

    @Option(help: "Process id of the server, whose VmRSS and descriptor limit are read from /proc.")
    var serverPid: Int32

    @Option(help: "Wait after the last delivery before reading the server's memory, e.g. 5s.")
    var settle = "5s"

    @Option(help: "Load generator loop threads.")
    var threads = 1

    @Option(help: "Write the results as JSON to this file.")
    var json: String?

    func validate() throws {
        guard connections >= 1, connections <= 1_000_000 else {
            throw ValidationError("--connections: 1 to 1000000")
        }
        guard rooms >= 1, rooms <= connections else { throw ValidationError("--rooms: 1 to --connections") }
        guard threads >= 1, threads <= 64 else { throw ValidationError("--threads: 1 to 64") }
        guard Duration.parse(settle) != nil else { throw ValidationError("--settle: e.g. 5s") }
        guard serverPid > 0, kill(serverPid, 0) == 0 || errno == EPERM else {
            throw ValidationError("--server-pid \(serverPid): no such process")
        }
    }

    func run() throws {
        signal(SIGPIPE, SIG_IGN)
        let ownLimit = DescriptorLimit.raiseToHard()
        var spare = ProcessStatus.holdSpareDescriptors()
        defer { ProcessStatus.releaseSpareDescriptors(spare) }
        let base = try WebSocketURL(url)
        let roomURLs = (0..<rooms).map { base.appendingToPath("-\($0)") }
        let rssBefore = try ProcessStatus.residentBytes(pid: serverPid)
        progress("server \(serverPid): VmRSS \(mebibytes(rssBefore)) before; our descriptor limit \(ownLimit.soft)")

        let group = try LoopGroup(count: threads, namePrefix: "bench")
        defer {
            group.stop()
            group.join()
        }
        let halt = HaltSignal()
        let roomCount = rooms
        let started = MonotonicClock.now()
        let lists = WebSocketLoadRun.open(group: group, count: connections,
                                          inFlight: WebSocketBenchLimits.idleConnectsInFlight,
                                          haltSignal: halt) { index, list in
            IdleMember(url: roomURLs[index % roomCount], greeting: "idle \(index)", haltSignal: halt, members: list)
        }
        let unsettled = { WebSocketLoadRun.unsettledCount(lists) }
        // No deadline of its own: every attempt ends within the handshake timeout.
        let deliveries = { lists.reduce(0) { $0 + $1.stats.messages.load(ordering: .relaxed) } }
        _ = WebSocketLoadRun.poll(for: nil, until: { unsettled() == 0 }) { _ in
            progress("  opening: \(WebSocketLoadRun.openCount(lists)) open, \(unsettled()) to go, "
                + "\(deliveries()) deliveries")
        }
        let openSeconds = Double(MonotonicClock.now() - started) / 1e9
        progress("  \(WebSocketLoadRun.openCount(lists)) open in \(String(format1: openSeconds))s; "
            + "waiting for the greetings' deliveries to stop")
        var lastSeen = deliveries()
        var quietSince = MonotonicClock.now()
        _ = WebSocketLoadRun.poll(for: WebSocketBenchLimits.maxDrainWait, until: {
            let now = MonotonicClock.now()
            let seen = deliveries()
            if seen != lastSeen {
                lastSeen = seen
                quietSince = now
            }
            return now - quietSince >= WebSocketBenchLimits.quietPeriod.nanoseconds
        }) { _ in progress("  \(deliveries()) deliveries so far") }
        let settleTime = Duration.parse(settle)!
        progress("  settling for \(settle)")
        _ = WebSocketLoadRun.poll(for: settleTime, until: { false }) { _ in }

        ProcessStatus.releaseSpareDescriptors(spare)
        spare = []
        let rssAfter = try ProcessStatus.residentBytes(pid: serverPid)
        let held = WebSocketLoadRun.openCount(lists)
        let loopFacts = WebSocketLoadRun.onEachLoop(lists) { list in
            (list.stats.firstOpenFailure.map { "\($0.limit.rawValue): \($0)" }, list.stats.errors,
             list.stats.lastError)
        }
        let stoppedBy = loopFacts.compactMap(\.0).first
        let errors = loopFacts.reduce(0) { $0 + $1.1 }
        let serverLimit = try? ProcessStatus.openFileLimit(pid: serverPid)
        let serverDescriptors = ProcessStatus.openDescriptors(pid: serverPid)
        let ownDescriptors = ProcessStatus.openDescriptors(pid: getpid())
        let perConnection = held > 0 ? (rssAfter - rssBefore) / held : 0

        print("")
        print("connections     \(held) open of \(connections) asked, over \(rooms) rooms "
            + "(\(roomURLs[0].path) ... \(roomURLs[rooms - 1].path)), opened in \(String(format1: openSeconds))s")
        if let stoppedBy { print("stopped by      \(stoppedBy)") }
        if let open = serverDescriptors, let soft = serverLimit.flatMap({ Int($0.soft) }),
           open + WebSocketBenchLimits.descriptorLimitMargin >= soft {
            print("                the server has \(open) descriptors open of its limit \(soft): it is out of descriptors")
        }
        if let open = ownDescriptors, open + WebSocketBenchLimits.descriptorLimitMargin >= Int(ownLimit.soft) {
            print("                the bench has \(open) descriptors open of its limit \(ownLimit.soft)")
        }
        if errors > 0, let last = loopFacts.compactMap(\.2).last { print("errors          \(errors) (last: \(last))") }
        print("deliveries      \(deliveries()) (each room sends every greeting to every member it has then)")
        print("server RSS      \(mebibytes(rssBefore)) before, \(mebibytes(rssAfter)) after (settled \(settle))")
        print("RSS/connection  \(perConnection) bytes")
        print("descriptors     bench: \(ownDescriptors.map(String.init) ?? "?") open, limit \(ownLimit.soft) "
            + "(hard \(ownLimit.hard)); server \(serverPid): \(serverDescriptors.map(String.init) ?? "?") open, "
            + "limit \(serverLimit?.soft ?? "?") (hard \(serverLimit?.hard ?? "?"))")

        if let json {
            var document: [String: Any] = [
                "date": ISO8601DateFormatter().string(from: Date()), "command": CommandLine.arguments.joined(separator: " "),
                "mode": "ws idle", "url": url, "rooms": rooms, "connections_asked": connections,
                "connections_open": held, "open_seconds": openSeconds, "errors": errors, "deliveries": deliveries(),
                "settle": settle, "server_pid": Int(serverPid), "server_rss_before_bytes": rssBefore,
                "server_rss_after_bytes": rssAfter, "rss_per_connection_bytes": perConnection,
                "bench_descriptor_limit": ["soft": ownLimit.soft, "hard": ownLimit.hard],
            ]
            if let stoppedBy { document["stopped_by"] = stoppedBy }
            if let serverLimit { document["server_descriptor_limit"] = ["soft": serverLimit.soft, "hard": serverLimit.hard] }
            if let serverDescriptors { document["server_descriptors_open"] = serverDescriptors }
            let data = try JSONSerialization.data(withJSONObject: document, options: [.prettyPrinted, .sortedKeys])
            try data.write(to: URL(fileURLWithPath: json))
        }
        progress("closing \(held) connections")
        WebSocketLoadRun.close(lists)
    }

    private func mebibytes(_ bytes: Int) -> String { String(format: "%.1f MiB", Double(bytes) / 1_048_576) }
}
