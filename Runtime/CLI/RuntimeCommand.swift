import ArgumentParser

/// `runtime`: the command-line front of the runtime. Argument parsing only; the work happens in
/// RuntimeServer (and later Deploy).
@main
struct RuntimeCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "runtime",
        abstract: "A native Workers + Durable Objects runtime.",
        subcommands: [Serve.self])
}
