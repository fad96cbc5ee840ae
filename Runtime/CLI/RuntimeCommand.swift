import ArgumentParser

/// `runtime`: the command-line front of the runtime. Argument parsing only; the work happens in
/// RuntimeServer and RuntimeDeploy.
@main
struct RuntimeCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "runtime",
        abstract: "A native Workers + Durable Objects runtime.",
        subcommands: [Serve.self, Deploy.self, Versions.self, Rollback.self, Secret.self, Tail.self])
}

/// The state directory option every command shares.
struct StateOptions: ParsableArguments {
    @Option(name: .customLong("state-dir"), help: "The runtime's state directory (apps, secrets, objects).")
    var stateDir = ".runtime-state"
}
