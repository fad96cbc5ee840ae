/// Why `bench session` could not run, with what a person needs to fix it.
enum SessionBenchFailure: Error, CustomStringConvertible {
    case secretFile(flag: String, path: String, reason: String)
    case providerListen(address: String, reason: String)
    /// Nothing answered at `--url` (connect refused, reset, timed out).
    case controlPlaneUnreachable(url: String, reason: String)
    /// `/sessions` is not there: the control plane is not deployed, or `--url` is not its `/api` base.
    case notDeployed(url: String, status: Int, body: String)
    /// The control plane refused the service token made with `--secret-file`.
    case unauthorized(url: String, body: String)
    /// A REST call got an answer the run cannot go on with.
    case restFailed(call: String, status: Int, body: String)
    /// A REST call got no answer.
    case restBroken(call: String, reason: String)
    /// The provider calls carry a bearer `--sandbox-secret-file` does not verify.
    case providerBadBearer(reason: String)
    /// The prompts went out, but `/sandbox/create` did not come for every session (within
    /// `SessionBenchLimits.sandboxStartTimeout`, or the control plane reported the spawns failed).
    case providerNeverCalled(provider: String, created: Int, sessions: Int, sandboxError: String?)
    /// Bridges connected, or tried to, but not every one got its prompt.
    case bridgesNotReady(ready: Int, sessions: Int, lastError: String?)
    /// Not every client subscribed.
    case subscribeFailed(subscribed: Int, clients: Int, lastError: String?)

    var description: String {
        switch self {
        case .secretFile(let flag, let path, let reason):
            "\(flag) \(path) \(reason) (scripts/run keeps the secrets in .runtime-state/dispatch-internal.secret "
                + "and dispatch-sandbox.secret)"
        case .providerListen(let address, let reason):
            "cannot listen on --provider-listen \(address): \(reason)"
        case .controlPlaneUnreachable(let url, let reason):
            "the control plane at \(url) is unreachable (\(reason)): is `runtime serve` running there with "
                + "control-plane deployed?"
        case .notDeployed(let url, let status, let body):
            "\(url)/sessions answered \(status) (\(body)): is control-plane deployed (`runtime deploy control-plane`) "
                + "and --url its /api base?"
        case .unauthorized(let url, let body):
            "the control plane at \(url) refused the service token (401: \(body)): --secret-file must hold "
                + "control-plane's INTERNAL_CALLBACK_SECRET"
        case .restFailed(let call, let status, let body):
            "\(call) answered \(status): \(body)"
        case .restBroken(let call, let reason):
            "\(call) failed: \(reason)"
        case .providerBadBearer(let reason):
            "the control plane called the provider with a bearer --sandbox-secret-file does not verify (\(reason)): "
                + "control-plane's SANDBOX_API_SECRET must be the secret in --sandbox-secret-file"
        case .providerNeverCalled(let provider, let created, let sessions, let sandboxError):
            "the control plane called the sandbox provider at \(provider) for only \(created) of \(sessions) "
                + "sessions: deploy it with `runtime deploy control-plane --var SANDBOX_PROVIDER_URL=\(provider)`"
                + (sandboxError.map { " (clients were told: \($0))" } ?? "")
        case .bridgesNotReady(let ready, let sessions, let lastError):
            "only \(ready) of \(sessions) bridges got their prompt within \(SessionBenchLimits.sandboxStartTimeout)"
                + (lastError.map { " (last error: \($0))" } ?? "")
        case .subscribeFailed(let subscribed, let clients, let lastError):
            "only \(subscribed) of \(clients) clients subscribed (none more for \(SessionBenchLimits.subscribeStallTimeout))"
                + (lastError.map { " (last error: \($0))" } ?? "")
        }
    }
}
