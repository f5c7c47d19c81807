import SyncCore

/// One holder per account at a time, first come first served; different accounts never wait for
/// each other.
public actor AccountLocks {
    private var held: Set<AccountID> = []
    private var waiting: [AccountID: [CheckedContinuation<Void, Never>]] = [:]

    public init() {}

    /// Runs `body` while holding the account's lock.
    public func withLock<T: Sendable>(_ account: AccountID, _ body: @Sendable () async throws -> T) async rethrows -> T {
        await acquire(account)
        defer { release(account) }
        return try await body()
    }

    private func acquire(_ account: AccountID) async {
        if held.contains(account) {
            await withCheckedContinuation { waiting[account, default: []].append($0) }
            // Ownership was handed over by `release`; the account stays held.
        } else {
            held.insert(account)
        }
    }

    private func release(_ account: AccountID) {
        if var queue = waiting[account], !queue.isEmpty {
            let next = queue.removeFirst()
            waiting[account] = queue.isEmpty ? nil : queue
            next.resume()
        } else {
            held.remove(account)
        }
    }

    /// Whether an account is held (tests).
    public func isHeld(_ account: AccountID) -> Bool { held.contains(account) }
}
