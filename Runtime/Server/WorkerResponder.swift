@_spi(Runtime) import RuntimeAPI
import RuntimeHTTP
import RuntimeWebSocket
import RuntimeIO

/// Calls a worker for each request and turns what it throws into a response: an `HTTPResponseError`
/// becomes its status and public message; anything else a 500 that reveals nothing, with the error
/// written to the log instead. Also writes the access log.
///
/// Threading: one per loop; `respond` and `requestFinished` run on that loop.
final class WorkerResponder: HTTPResponder, @unchecked Sendable {
    let worker: any Worker
    let env: Env
    let context: ExecutionContext
    private let log: LogWriter?
    private let loop: Loop
    private var flushTimer: LoopTimer?

    /// Buffered log lines are written at least this often.
    static let logFlushInterval: Duration = .milliseconds(100)

    init(worker: any Worker, env: Env, loop: Loop, accessLog: Bool, waitUntil: WaitUntilTracker) {
        self.worker = worker
        self.env = env
        self.loop = loop
        self.log = accessLog ? LogWriter(fd: 1) : nil
        self.context = ExecutionContext { work in waitUntil.start(on: loop, work) }
    }

    func respond(to request: Request) async -> Response {
        // Sockets accepted for this request but not in its response are ended (see UpgradeTracker).
        let tracker = UpgradeTracker(abandon: abandonUnconnected)
        do {
            let response = try await UpgradeTracker.$current.withValue(tracker) {
                try await worker.fetch(request, env: env, ctx: context)
            }
            tracker.settle(response)
            return response
        } catch let error as any HTTPResponseError {
            tracker.settle(nil)
            return Response(status: error.status, text: error.publicMessage + "\n")
        } catch {
            tracker.settle(nil)
            logLine("{\"time\":\"\(isoTimestamp())\",\"level\":\"error\",\"msg\":\"worker threw\","
                + "\"method\":\(jsonQuoted(request.method)),\"path\":\(jsonQuoted(request.url.path)),"
                + "\"error\":\(jsonQuoted(String(describing: error)))}")
            return Response(status: 500, text: "internal error\n")
        }
    }

    func requestFinished(_ record: AccessRecord) {
        guard log != nil else { return }
        let milliseconds = Double(record.durationNanoseconds / 1000) / 1000
        var line = "{\"time\":\"\(isoTimestamp())\",\"method\":\(jsonQuoted(record.method)),"
            + "\"target\":\(jsonQuoted(record.target)),\"status\":\(record.status),\"bytes\":\(record.bytesSent),"
            + "\"ms\":\(milliseconds),\"remote\":\(jsonQuoted(record.remoteAddress))"
        if let error = record.error { line += ",\"error\":\(jsonQuoted(error))" }
        logLine(line + "}")
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
