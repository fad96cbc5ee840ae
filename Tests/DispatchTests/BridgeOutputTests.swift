import Foundation
import Testing
#if canImport(Glibc)
import Glibc
#endif

/// The bridge's limits, seen from the control plane: tokens throttled per part with the last text always
/// sent, output past the per-part cap cut with a note and every frame within the control plane's message
/// limit, the prompt timeout, and SIGTERM acting as `shutdown`.
@Suite("Bridge: output limits and timeouts", .timeLimit(.minutes(4)))
struct BridgeOutputTests {
    static func tokens(_ world: BridgeTestWorld, _ messageId: String) -> [[String: Any]] {
        world.controlPlane.frames("token", messageId: messageId)
    }

    @Test("output arriving every few milliseconds becomes at most ~20 tokens a second, and the last has it all")
    func tokensAreThrottled() async throws {
        try await BridgeTestWorld.with { world in
            let bridge = try world.startBridge()
            try await world.waitForReady()
            try world.prompt("m-chatty", "i=0; while [ $i -lt 150 ]; do echo line $i; i=$((i+1)); sleep 0.005; done")
            try await world.controlPlane.waitForFrame("execution_complete", messageId: "m-chatty")
            let tokens = Self.tokens(world, "m-chatty")
            let expected = (0..<150).map { "line \($0)\n" }.joined()
            #expect(tokens.last?["content"] as? String == expected)
            let times = tokens.compactMap { $0["at"] as? Double }
            let span = (times.last ?? 0) - (times.first ?? 0)
            // One token per 50 ms interval, plus the first one and the final flush.
            #expect(Double(tokens.count) <= span * 20 + 3, "\(tokens.count) tokens in \(span) s")
            #expect(tokens.count < 150, "fewer tokens than output chunks")
            #expect(try await world.shutDown(bridge) == 0)
        }
    }

    @Test("output past the per-part cap ends with a truncation note; every frame fits the control plane's limit")
    func outputIsCapped() async throws {
        try await BridgeTestWorld.with { world in
            let bridge = try world.startBridge()
            try await world.waitForReady()
            // 800 006 bytes of output; 512 KiB of it are kept.
            try world.prompt("m-big", "head -c 800000 /dev/zero | tr '\\0' a; echo; echo done")
            // Two 800 KB outputs through a debug build while other suites run: generous deadlines.
            let done = try await world.controlPlane.waitForFrame("execution_complete", messageId: "m-big", timeout: .seconds(90))
            #expect(done["success"] as? Bool == true)
            let last = try #require(Self.tokens(world, "m-big").last?["content"] as? String)
            let kept = 512 * 1024
            #expect(last == String(repeating: "a", count: kept) + "\n[output truncated: \(800_006 - kept) more bytes not shown]")

            // Quotes double when escaped in JSON, the worst case for the frame size: the text is cut further.
            try world.prompt("m-quotes", #"head -c 800000 /dev/zero | tr '\0' '"'"#)
            try await world.controlPlane.waitForFrame("execution_complete", messageId: "m-quotes", timeout: .seconds(90))
            let quotes = try #require(Self.tokens(world, "m-quotes").last?["content"] as? String)
            #expect(quotes.hasPrefix(String(repeating: "\"", count: 1000)))
            #expect(quotes.hasSuffix("\n[cut to fit the event size limit]"), "\(quotes.suffix(80))")

            let largest = world.controlPlane.frames.compactMap { $0["size"] as? Int }.max() ?? 0
            #expect(largest <= 1024 * 1024, "largest frame \(largest) bytes")
            #expect(world.controlPlane.records("disconnected").isEmpty, "the control plane never closed for size")
            #expect(try await world.shutDown(bridge) == 0)
        }
    }

    @Test("a prompt past PROMPT_TIMEOUT_SECONDS is ended and fails as timed out")
    func promptTimeout() async throws {
        try await BridgeTestWorld.with { world in
            let bridge = try world.startBridge(["PROMPT_TIMEOUT_SECONDS": "1"])
            try await world.waitForReady()
            try world.prompt("m-slow", "echo going; sleep 60")
            let done = try await world.controlPlane.waitForFrame("execution_complete", messageId: "m-slow")
            #expect(done["success"] as? Bool == false)
            #expect(done["error"] as? String == "timed out after 1 s")
            #expect(try await world.shutDown(bridge) == 0)
        }
    }

    @Test("SIGTERM shuts down as the shutdown command does: the running prompt completes as stopped, exit 0")
    func sigtermShutsDown() async throws {
        try await BridgeTestWorld.with { world in
            let bridge = try world.startBridge()
            try await world.waitForReady()
            try world.prompt("m-term", "echo running; sleep 60")
            try await bridgeTestWait("the prompt's output") { Self.tokens(world, "m-term").isEmpty ? nil : true }
            kill(bridge.pid, SIGTERM)
            #expect(try await bridge.waitForExit() == 0)
            let done = world.controlPlane.frames("execution_complete", messageId: "m-term")
            #expect(done.count == 1)
            #expect(done.first?["error"] as? String == "stopped")
        }
    }
}
