import SyncCore
import Synchronization

/// One holder per account at a time, first come first served; different accounts never wait for
/// each other.
///
/// Not an actor: every pass and cancel takes its account's lock, and an actor's `withLock` would
/// hop onto the actor, off it to run the body, and back on to release — four executor switches per
/// account, all of them through one actor, so sixteen accounts at once queued behind each other for
/// a few instructions of bookkeeping. Here the state sits behind a `Mutex`; an uncontended lock
/// costs no suspension at all, and a waiter suspends only while its own account is held.
public final class AccountLocks: Sendable {
    private struct State {
        var held: Set<AccountID> = []
        var waiting: [AccountID: [CheckedContinuation<Void, Never>]] = [:]
    }
    private let state = Mutex(State())

    public init() {}

    /// Runs `body` while holding the account's lock.
    public func withLock<T: Sendable>(_ account: AccountID, _ body: @Sendable () async throws -> T) async rethrows -> T {
        await acquire(account)
        defer { release(account) }
        return try await body()
    }

    private func acquire(_ account: AccountID) async {
        let free = state.withLock { s in
            if s.held.contains(account) { return false }
            s.held.insert(account)
            return true
        }
        if free { return }
        await withCheckedContinuation { (c: CheckedContinuation<Void, Never>) in
            // Between the check above and here the holder may have left: take the lock now if so.
            let now = state.withLock { s in
                if s.held.contains(account) {
                    s.waiting[account, default: []].append(c)
                    return false
                }
                s.held.insert(account)
                return true
            }
            if now { c.resume() }
        }
        // Otherwise ownership was handed over by `release`; the account stays held.
    }

    private func release(_ account: AccountID) {
        let next = state.withLock { s -> CheckedContinuation<Void, Never>? in
            if var queue = s.waiting[account], !queue.isEmpty {
                let next = queue.removeFirst()
                s.waiting[account] = queue.isEmpty ? nil : queue
                return next
            }
            s.held.remove(account)
            return nil
        }
        next?.resume()
    }

    /// Whether an account is held (tests).
    public func isHeld(_ account: AccountID) -> Bool { state.withLock { $0.held.contains(account) } }
}
