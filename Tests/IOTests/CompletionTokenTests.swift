import Testing
@testable import RuntimeIO

@Suite("CompletionToken")
struct CompletionTokenTests {
    @Test("user data round-trips slot, generation and operation", arguments: [
        (UInt32(0), UInt32(0), IOOperation.accept),
        (UInt32(1), UInt32(7), IOOperation.receive),
        (UInt32.max, CompletionToken.generationMask, IOOperation.shutdown),
        (UInt32(123_456), UInt32(0xABCDEF), IOOperation.send),
    ])
    func roundTrip(slot: UInt32, generation: UInt32, operation: IOOperation) {
        let token = CompletionToken(slot: slot, generation: generation, operation: operation)
        #expect(CompletionToken(userData: token.userData) == token)
    }

    @Test("user data with an unknown operation byte is not ours")
    func unknown() {
        #expect(CompletionToken(userData: 0) == nil)
        #expect(CompletionToken(userData: 0xFF) == nil)
    }
}
