import Testing
@testable import RuntimeIO

@Suite("TimerHeap")
struct TimerHeapTests {
    @Test("pops timers in deadline order, including re-armed and cancelled ones")
    func ordering() {
        var heap = TimerHeap()
        let timers = (0..<50).map { _ in LoopTimer {} }
        var generator = UInt64(12345)
        var expected: [ObjectIdentifier: UInt64] = [:]
        for timer in timers {
            generator = generator &* 6364136223846793005 &+ 1442695040888963407
            let deadline = generator >> 40
            heap.arm(timer, at: deadline)
            expected[ObjectIdentifier(timer)] = deadline
        }
        // Move some, cancel some.
        for (index, timer) in timers.enumerated() where index % 3 == 0 {
            heap.arm(timer, at: UInt64(index))
            expected[ObjectIdentifier(timer)] = UInt64(index)
        }
        for (index, timer) in timers.enumerated() where index % 5 == 1 {
            heap.cancel(timer)
            expected[ObjectIdentifier(timer)] = nil
            #expect(!timer.isArmed)
        }
        var popped: [UInt64] = []
        while let timer = heap.popDue(now: .max) {
            #expect(expected[ObjectIdentifier(timer)] == timer.deadline)
            popped.append(timer.deadline)
        }
        #expect(popped.count == expected.count)
        #expect(popped == popped.sorted())
        #expect(heap.count == 0)
    }

    @Test("a timer that is not due stays")
    func notDue() {
        var heap = TimerHeap()
        let timer = LoopTimer {}
        heap.arm(timer, at: 100)
        #expect(heap.popDue(now: 99) == nil)
        #expect(heap.popDue(now: 100) === timer)
    }
}
