import ArgumentParser
import RuntimeIO
#if canImport(Glibc)
import Glibc
#endif

/// `bench session`: the Dispatch control plane's fan-out. `--sessions` sessions with `--clients` subscribed
/// clients each, and a stream of sandbox events per session, sent by the bench itself playing the sandbox
/// provider and every sandbox's bridge; every client records each event's delivery latency.
struct SessionBench: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "session",
        abstract: "Dispatch control-plane fan-out: sandbox events to subscribed clients; deliveries/s and latency.",
        discussion: """
            The bench plays the sandbox provider (listening on --provider-listen) and each sandbox's bridge. \
            Deploy the control plane with --var SANDBOX_PROVIDER_URL=http://<--provider-listen> so its \
            spawns reach the bench. It creates the sessions over REST, subscribes --clients WebSockets to \
            each, sends one prompt per session, connects as the bridge the control plane asked the \
            provider for, and streams stamped tool_call events (stored by the control plane, relayed to \
            every client). Latency runs from the bridge sending an event to each client receiving it.
            """)

    @Option(help: "The control plane's REST base (its /api).")
    var url = "http://127.0.0.1:8787/api"

    @Option(help: "Sessions to create.")
    var sessions = 10

    @Option(help: "Subscribed clients per session.")
    var clients = 10

    @Option(help: "Measured time, e.g. 10s.")
    var duration = "10s"

    @Option(help: "Unmeasured streaming before the measured time.")
    var warmup = "1s"

    @Option(help: "Events per second per session (default: closed loop, as fast as the clients receive them).")
    var rate: Double?

    @Option(help: "Most unacknowledged events per session (acknowledged: a client of the session received it).")
    var inFlight = SessionBenchLimits.defaultInFlight

    @Option(help: "File holding control-plane's INTERNAL_CALLBACK_SECRET (the service token for REST).")
    var secretFile = ".runtime-state/dispatch-internal.secret"

    @Option(help: "File holding control-plane's SANDBOX_API_SECRET (checked on the provider calls).")
    var sandboxSecretFile = ".runtime-state/dispatch-sandbox.secret"

    @Option(help: "Where the bench's provider side listens (host:port).")
    var providerListen = "127.0.0.1:8790"

    @Option(help: "Write the results as JSON to this file.")
    var json: String?

    func validate() throws {
        guard sessions >= 1, sessions <= SessionBenchLimits.maxSessions else {
            throw ValidationError("--sessions: 1 to \(SessionBenchLimits.maxSessions)")
        }
        guard clients >= 1, clients <= SessionBenchLimits.maxClientsPerSession else {
            throw ValidationError("--clients: 1 to \(SessionBenchLimits.maxClientsPerSession) (the control plane's limit)")
        }
        guard inFlight >= 1, inFlight <= SessionBenchLimits.maxInFlight else {
            throw ValidationError("--in-flight: 1 to \(SessionBenchLimits.maxInFlight)")
        }
        if let rate {
            guard rate > 0, rate <= SessionBenchLimits.maxRate else {
                throw ValidationError("--rate: more than 0, at most \(Int(SessionBenchLimits.maxRate)) events/s")
            }
        }
        guard Duration.parse(duration) != nil else { throw ValidationError("--duration: e.g. 10s or 500ms") }
        guard Duration.parse(warmup) != nil else { throw ValidationError("--warmup: e.g. 1s") }
    }

    func run() throws {
        signal(SIGPIPE, SIG_IGN)
        DescriptorLimit.raiseToHard()
        let base = url.hasSuffix("/") ? String(url.dropLast()) : url
        let options = SessionRun.Options(
            url: try TargetURL(base), sessions: sessions, clients: clients,
            warmup: Duration.parse(warmup)!, duration: Duration.parse(duration)!,
            pacing: SessionPacing(rate: rate, inFlight: inFlight),
            providerListen: try SocketAddress(providerListen),
            internalSecret: try SessionServiceToken.readSecret(path: secretFile, flag: "--secret-file"),
            sandboxSecret: try SessionServiceToken.readSecret(path: sandboxSecretFile, flag: "--sandbox-secret-file"))
        let group = try LoopGroup(count: 1, namePrefix: "bench")
        let sessionRun = SessionRun(options: options, loop: group.loops[0])
        // The run owns what the loop's sockets point back at (unowned): it outlives the loop.
        defer {
            withExtendedLifetime(sessionRun) {
                group.stop()
                group.join()
            }
        }
        let outcome = try sessionRun.run()
        let result = outcome.result
        let seconds = Double(result.nanoseconds) / 1e9
        let eventsPerSecond = seconds == 0 ? 0 : Double(outcome.eventsSent) / seconds
        let perEvent = outcome.eventsSent == 0 ? 0 : Double(result.requests) / Double(outcome.eventsSent)
        var targetFields: [String: Any] = [
            "events": outcome.eventsSent, "events_per_second": (eventsPerSecond * 10).rounded() / 10,
            "deliveries_per_event": (perEvent * 100).rounded() / 100, "out_of_order": outcome.outOfOrder,
            "skipped": outcome.skipped, "written_off": outcome.writtenOff,
        ]
        if let missing = outcome.missing { targetFields["missing_deliveries"] = missing }
        let report = Report(results: [result], connections: sessions * clients, threads: 1, duration: duration,
                            arguments: CommandLine.arguments, unit: .deliveries,
                            extraFields: ["mode": "session", "sessions": sessions, "clients": clients,
                                          "rate": rate.map { $0 as Any } ?? "closed-loop", "in_flight": inFlight,
                                          "warmup": warmup],
                            extraTargetFields: [targetFields])
        print(report.table())
        print("  \(result.name): bridges sent \(Int(eventsPerSecond)) events/s "
            + "(\(String(format1: eventsPerSecond / Double(sessions))) per session), "
            + "\(String(format1: perEvent)) deliveries per event (\(clients) clients)")
        let missing = outcome.missing.map { "\($0) deliveries missing" } ?? "missing deliveries unknown (the drain timed out)"
        var checks = [missing, "\(outcome.outOfOrder) out of order"]
        if rate != nil { checks.append("\(outcome.skipped) events skipped (--in-flight unacknowledged)") }
        if outcome.writtenOff > 0 {
            checks.append("\(outcome.writtenOff) events written off after \(SessionBenchLimits.ackTimeout) unreceived")
        }
        print("  " + checks.joined(separator: ", "))
        if let json { try report.writeJSON(to: json) }
    }
}
