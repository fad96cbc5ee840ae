import Foundation
import RuntimeHTTP
import RuntimeIO
import RuntimeTLS
import RuntimeWebSocket
#if canImport(Glibc)
import Glibc
#endif

// dispatch-bridge: runs inside a Dispatch sandbox, connecting its agent to the session's control plane.
// Configuration comes from the environment only (README.md, Apps/DISPATCH.md).

let config: BridgeConfig
do {
    config = try BridgeConfig(environment: ProcessInfo.processInfo.environment)
} catch {
    BridgeLog.error("cannot start: \(error)")
    exit(ExitCode.configuration)
}

// Children (the agent's commands, git) start in the bridge's working directory: the workspace.
guard chdir(config.workspace) == 0 else {
    BridgeLog.error("cannot start: cannot enter WORKSPACE \(config.workspace): \(String(cString: strerror(errno)))")
    exit(ExitCode.configuration)
}

let group: LoopGroup
let tls: TLSContext
do {
    group = try LoopGroup(count: 1, namePrefix: "bridge")
    tls = try TLSContext(client: TLSClientConfig())
} catch {
    BridgeLog.error("cannot start: \(error)")
    exit(ExitCode.startup)
}

let http = HTTPClient(loops: group.loops, tls: tls)
let webSockets = WebSocketClient(
    loops: group.loops,
    config: WebSocketConfig(limits: WebSocketLimits(maxMessageBytes: BridgeLimits.maxIncomingMessageBytes)),
    secure: tls)
let ids = AscendingID()
let agent: any AgentBackend = switch config.agent {
case .shell: ShellAgent(config: config, ids: ids)
case .opencode: OpenCodeAgent(config: config, http: http, loops: group.loops, tls: tls, ids: ids)
}
let link = ControlPlaneLink(config: config, client: webSockets, readySessionID: { agent.readySessionID })
let bridge = Bridge(config: config, link: link, agent: agent)
BridgeLog.info("session \(config.sessionID), sandbox \(config.sandboxID), agent \(config.agent.rawValue)"
    + (config.restoredFromSnapshot ? ", restored from a snapshot" : ""))

let signalSources = ShutdownSignals.install(bridge)

let status = await bridge.run()
withExtendedLifetime(signalSources) {}
exit(status)
