import BinanceAPI
import Foundation
import SyncCore
import Testing

/// The governor's two ceilings: reads stop at the budget (80%), cancels may go on to 95% of the
/// limit, and `waitForRoom` waits like a read without reserving anything.
@Suite struct GovernorTests {
    @Test func cancelsUseHeadroomReadsCannot() async throws {
        let time = TestTime(virtual: true, start: 1_800_000_000_000)
        let governor = WeightGovernor(host: "test", limit: 100, windowMs: 60_000, budgetFraction: 0.8, clock: time.clientClock)
        let windowStart = time.now - time.now % 60_000
        try await governor.acquire(80)  // the whole read budget
        let before = time.now
        // A cancel still fits (up to 95): no wait.
        try await governor.acquire(10, urgent: true)
        #expect(time.now == before, "an urgent cancel does not wait for the next window")
        // No room for a read now (so a pass would make its wait interruptible), room for none at all.
        let roomForRead = await governor.hasRoom(5)
        let roomForNothing = await governor.hasRoom(0)
        #expect(!roomForRead && roomForNothing)
        // waitForRoom for a read must wait for the next window, and reserves nothing.
        await governor.waitForRoom(5)
        #expect(await governor.hasRoom(5), "the new window has room")
        #expect(time.now >= windowStart + 60_000, "a read waits for the next window")
        #expect(await governor.snapshot.used == 0, "waiting for room reserved nothing")
        // In the new window reads again take the read budget only.
        try await governor.acquire(80)
        let second = time.now
        try await governor.acquire(15, urgent: true)
        #expect(time.now == second)
        try await governor.acquire(1, urgent: true)  // 96 > 95: the next window
        #expect(time.now >= windowStart + 120_000)
    }
}
