import SyncCore
import SyncRuntime
import Synchronization
import Testing

@Suite struct AccountLocksTests {
    final class Probe: Sendable {
        let state = Mutex<(inside: [AccountID: Int], maxInside: [AccountID: Int], maxTotal: Int, total: Int)>(([:], [:], 0, 0))
        func enter(_ a: AccountID) {
            state.withLock { s in
                s.inside[a, default: 0] += 1
                s.total += 1
                s.maxInside[a] = max(s.maxInside[a] ?? 0, s.inside[a]!)
                s.maxTotal = max(s.maxTotal, s.total)
            }
        }
        func leave(_ a: AccountID) {
            state.withLock { s in
                s.inside[a]! -= 1
                s.total -= 1
            }
        }
    }

    @Test func oneHolderPerAccountAndAccountsInParallel() async throws {
        let locks = AccountLocks()
        let probe = Probe()
        await withTaskGroup(of: Void.self) { group in
            for i in 0..<200 {
                let account = AccountID(Int64(i % 4))
                group.addTask {
                    await locks.withLock(account) {
                        probe.enter(account)
                        // Suspend while holding: another task for the same account must not get in.
                        for _ in 0..<3 { await Task.yield() }
                        try? await Task.sleep(for: .microseconds(200))
                        probe.leave(account)
                    }
                }
            }
        }
        let s = probe.state.withLock { $0 }
        #expect(s.maxInside.values.allSatisfy { $0 == 1 }, "\(s.maxInside)")
        #expect(s.maxTotal > 1, "different accounts ran at the same time")
        for a in 0..<4 { #expect(!locks.isHeld(AccountID(Int64(a)))) }
    }

    @Test func aThrowingHolderReleasesTheLock() async throws {
        struct Boom: Error {}
        let locks = AccountLocks()
        await #expect(throws: Boom.self) { try await locks.withLock(AccountID(1)) { throw Boom() } }
        #expect(!locks.isHeld(AccountID(1)))
        #expect(await locks.withLock(AccountID(1)) { 7 } == 7)
    }
}
