@_spi(Runtime) import RuntimeAPI
import RuntimeHTTP
import RuntimeIO
import RuntimeWebSocket

/// Routes each request to its app (see `AppRegistry`), calls the app's worker, and turns what it throws
/// into a response: an `HTTPResponseError` becomes its status and public message; anything else a 500
/// that reveals nothing, with the error written to the log instead. Also writes the access log and
/// feeds `runtime tail`.
///
/// Threading: one per loop; `respond` and `requestFinished` run on that loop.
final class WorkerResponder: HTTPResponder, @unchecked Sendable {
    let registry: AppRegistry
    let context: ExecutionContext
    private let log: LogWriter?
    private let loop: Loop
    private var flushTimer: LoopTimer?

    /// Buffered log lines are written at least this often.
    static let logFlushInterval: Duration = .milliseconds(100)

    init(registry: AppRegistry, loop: Loop, accessLog: Bool, waitUntil: WaitUntilTracker) {
        self.registry = registry
        self.loop = loop
        self.log = accessLog ? LogWriter(fd: 1) : nil
        self.context = ExecutionContext { work in waitUntil.start(on: loop, work) }
    }

    nonisolated(nonsending) func respond(to request: Request) async -> Response {
        guard let app = registry.route(request) else {
            return Response(status: 404, text: "no app serves \(request.url.path)\n")
        }
        var response = await respond(to: request, app: app)
        response.runtimeApp = app.name
        return response
    }

    /// One `UpgradeTracker` per connection, set as the task-local once: its requests come one at a
    /// time, and each `settle` leaves the tracker empty for the next (setting a fresh one around every
    /// request cost a measurable share of a small request).
    nonisolated(nonsending) func serveConnection(_ body: () async -> Void) async {
        await UpgradeTracker.$current.withValue(UpgradeTracker(abandon: abandonUnconnected)) { await body() }
    }

    private nonisolated(nonsending) func respond(to request: Request, app: AppRegistry.Active) async -> Response {
        // Sockets accepted for this request but not in its response are ended (see UpgradeTracker):
        // the connection's tracker, or one of its own when called outside `serveConnection`.
        guard let tracker = UpgradeTracker.current else {
            return await UpgradeTracker.$current.withValue(UpgradeTracker(abandon: abandonUnconnected)) {
                await respond(to: request, app: app)
            }
        }
        do {
            let response = try await LogContext.$app.withValue(app.name) {
                try await app.worker.fetch(request, env: app.env, ctx: context)
            }
            tracker.settle(response)
            return response
        } catch let error as any HTTPResponseError {
            tracker.settle(nil)
            return Response(status: error.status, text: error.publicMessage + "\n")
        } catch {
            tracker.settle(nil)
            let line = "{\"time\":\"\(isoTimestamp())\",\"level\":\"error\",\"msg\":\"worker threw\",\"app\":\(jsonQuoted(app.name)),"
                + "\"method\":\(jsonQuoted(request.method)),\"path\":\(jsonQuoted(request.url.path)),"
                + "\"error\":\(jsonQuoted(String(describing: error)))}"
            logLine(line)
            registry.tail.publish(app.name, line)
            return Response(status: 500, text: "internal error\n")
        }
    }

    func requestFinished(_ record: AccessRecord) {
        let tailed = record.app.map { registry.tail.isTailed($0) } ?? false
        guard log != nil || tailed else { return }
        let milliseconds = Double(record.durationNanoseconds / 1000) / 1000
        var line = "{\"time\":\"\(isoTimestamp())\",\"method\":\(jsonQuoted(record.method)),"
            + "\"target\":\(jsonQuoted(record.target)),\"status\":\(record.status),\"bytes\":\(record.bytesSent),"
            + "\"ms\":\(milliseconds),\"remote\":\(jsonQuoted(record.remoteAddress))"
        if let app = record.app { line += ",\"app\":\(jsonQuoted(app))" }
        if let error = record.error { line += ",\"error\":\(jsonQuoted(error))" }
        line += "}"
        logLine(line)
        if tailed, let app = record.app { registry.tail.publish(app, line) }
    }

    private func logLine(_ line: String) {
        guard let log else { return }
        log.append(line)
        if flushTimer == nil {
            flushTimer = LoopTimer { [unowned self] in self.log?.flush() }
        }
        if !flushTimer!.isArmed { loop.arm(flushTimer!, after: Self.logFlushInterval) }
    }

    /// Writes whatever is buffered now (shutdown).
    func flushLog() { log?.flush() }
}
