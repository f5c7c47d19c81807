import SyncCore

/// Cancels a strategy's DB-recorded orders across all its accounts at once (README § Invariants 1, 4, 5):
/// rows are selected from `open_orders` by strategy link only, each cancel names its orders, an
/// order's intent is durable before its cancel is sent, and a row leaves `open_orders` only when the
/// exchange confirmed a final state. Each account is cancelled under the lock the reconciler uses.
public struct StrategyCanceller: Sendable {
    public var store: any CancelStore
    public var gateway: any CancelGateway
    public var locks: AccountLocks
    /// Accounts cancelled at once.
    public var parallelism: Int
    public var now: @Sendable () -> Millis

    public init(
        store: any CancelStore,
        gateway: any CancelGateway,
        locks: AccountLocks,
        parallelism: Int = 128,
        now: @escaping @Sendable () -> Millis
    ) {
        self.store = store
        self.gateway = gateway
        self.locks = locks
        self.parallelism = max(1, parallelism)
        self.now = now
    }

    /// The requests a cancel would send, per account and market, with the accounts they concern.
    public func plan(_ target: CancelTarget) async throws -> (plans: [AccountCancelPlan], accounts: [AccountID: AccountRecord]) {
        let rows = try await store.openOrders(links: target.scope.links)
        let accounts = Dictionary(try await store.accounts().map { ($0.id, $0) }, uniquingKeysWith: { a, _ in a })
        let plans = CancelSelection.plan(rows, scope: target.scope, accountOf: target.accountOf, now: now(), limits: limits(accounts))
        let wanted = Set(plans.map(\.account))
        return (plans, accounts.filter { wanted.contains($0.key) })
    }

    /// The venue's limits for each account (an account the gateway cannot serve is planned one by
    /// one: its rows are failed without a request).
    func limits(_ accounts: [AccountID: AccountRecord]) -> (AccountID, Market) -> CancelLimits {
        { [gateway] account, market in
            guard let record = accounts[account], gateway.supports(record) else { return .singles }
            return gateway.cancelLimits(record, market: market)
        }
    }

    /// What would be cancelled, without sending anything.
    public func dryRun(_ target: CancelTarget, requestID: String) async throws -> CancelReport {
        let started = now()
        let (plans, accounts) = try await plan(target)
        let results = plans.map { p in
            AccountCancelResult(
                accountID: p.account,
                accountName: accounts[p.account]?.name ?? "",
                market: p.market,
                orders: p.rows.map { CancelledOrder(row: $0, result: .wouldCancel) }
            )
        }
        return CancelReport(requestID: requestID, strategy: target.strategy, executed: false, accounts: results, durationMs: now() - started)
    }

    /// Cancels the target's orders: every account in parallel (bounded), each recording its
    /// intents before it sends.
    public func execute(_ target: CancelTarget, requestID: String) async throws -> CancelReport {
        let started = now()
        let (plans, accounts) = try await plan(target)
        let results = try await fanOut(plans, accounts: accounts, requestID: requestID, recordIntents: true)
        return CancelReport(requestID: requestID, strategy: target.strategy, executed: true, accounts: results, durationMs: now() - started)
    }

    /// Every account's plan at once (at most `parallelism` accounts in flight). Intents (unless
    /// they exist already: a resumed cancel) and resolutions are written as they come in, the
    /// accounts ready at the same time in one transaction (`GroupCommit`): the first account's
    /// requests leave after its own intents are durable, not after every account's.
    func fanOut(
        _ plans: [AccountCancelPlan],
        accounts: [AccountID: AccountRecord],
        requestID: String,
        recordIntents: Bool
    ) async throws -> [AccountCancelResult] {
        let commits = CancelCommits(store: store, requestID: requestID, now: now, recordIntents: recordIntents)
        var results: [AccountCancelResult] = []
        try await withThrowingTaskGroup(of: AccountCancelResult.self) { group in
            var next = 0
            func launch() {
                let plan = plans[next]
                next += 1
                group.addTask { try await cancel(plan, account: accounts[plan.account], commits: commits) }
            }
            while next < min(parallelism, plans.count) { launch() }
            for try await result in group {
                results.append(result)
                if next < plans.count { launch() }
            }
        }
        return results
    }

    /// Finishes what a stopped process left: intents still pending or unknown are sent again for
    /// their own orders only (a cancel of an order already final is settled by a query), and
    /// intents whose row is gone are closed. Run before the webhook takes requests.
    public func resume() async throws -> [CancelReport] {
        let pending = try await store.unresolvedCancels()
        guard !pending.isEmpty else { return [] }
        let accounts = Dictionary(try await store.accounts().map { ($0.id, $0) }, uniquingKeysWith: { a, _ in a })
        var reports: [CancelReport] = []
        for requestID in pending.map(\.requestID).reduce(into: [String](), { if !$0.contains($1) { $0.append($1) } }) {
            let started = now()
            let items = pending.filter { $0.requestID == requestID }
            let gone = items.filter { $0.row == nil }.map(\.openOrderID)
            if !gone.isEmpty { try await store.settleCancelsWithoutRows(requestID: requestID, openOrderIDs: gone, now: started) }
            let rows = items.compactMap(\.row)
            guard !rows.isEmpty else { continue }
            var accountOf: [StrategyLinkID: AccountID] = [:]
            for item in items { if let row = item.row { accountOf[row.link] = item.account } }
            let plans = CancelSelection.plan(
                rows,
                scope: CancelScope(links: Set(rows.map(\.link))),
                accountOf: accountOf,
                now: started,
                limits: limits(accounts)
            )
            // A row that is no longer cancellable (the origin began cancelling it, or it became a
            // give-up) is not sent again; its intent is settled as failed, saying why.
            let planned = Set(plans.flatMap(\.rows).map(\.id))
            let skipped = items.compactMap { item in item.row.flatMap { planned.contains($0.id) ? nil : (row: $0, account: item.account) } }
            if !skipped.isEmpty {
                try await store.resolveCancels(
                    requestID: requestID,
                    skipped.map {
                        CancelResolution(
                            row: $0.row,
                            account: $0.account,
                            outcome: .failed(reason: "not sent again: the row is now \($0.row.status)", unknown: false)
                        )
                    },
                    now: started
                )
            }
            let results = try await fanOut(plans, accounts: accounts, requestID: requestID, recordIntents: false)
            reports.append(CancelReport(requestID: requestID, strategy: "(resumed)", executed: true, accounts: results, durationMs: now() - started))
        }
        return reports
    }

    /// One account and market, under the account's lock: its intents, then every planned request at
    /// once (up to the venue's concurrency), then its resolution — each write committed with the
    /// other accounts' that are ready at the same time.
    func cancel(_ plan: AccountCancelPlan, account: AccountRecord?, commits: CancelCommits) async throws -> AccountCancelResult {
        guard let account, gateway.supports(account) else {
            let reason = account.map { "exchange \($0.exchange) is not supported" } ?? "account not found"
            let outcomes = plan.rows.map { ($0, OrderCancelOutcome.failed(reason: reason, unknown: false)) }
            try await commits.intents(plan.rows, account: plan.account)
            try await commits.resolutions.write(outcomes.map { CancelResolution(row: $0.0, account: plan.account, outcome: $0.1) })
            return AccountCancelResult(
                accountID: plan.account,
                accountName: account?.name ?? "",
                market: plan.market,
                orders: outcomes.map { CancelledOrder(row: $0.0, outcome: $0.1) },
                error: reason
            )
        }
        return try await locks.withLock(account.id) {
            try await commits.intents(plan.rows, account: account.id)
            var outcomes: [(row: OpenOrderRow, outcome: OrderCancelOutcome)] = []
            await withTaskGroup(of: [(OpenOrderRow, OrderCancelOutcome)].self) { group in
                var next = 0
                func launch() {
                    let request = plan.requests[next]
                    next += 1
                    group.addTask {
                        let answers = await gateway.send(request, account: account, market: plan.market)
                        return request.rows.enumerated().map { i, row in
                            (row, i < answers.count ? answers[i] : .failed(reason: "no outcome for this order", unknown: true))
                        }
                    }
                }
                while next < min(plan.limits.concurrency, plan.requests.count) { launch() }
                for await answers in group {
                    outcomes += answers
                    if next < plan.requests.count { launch() }
                }
            }
            outcomes.sort { $0.row.id < $1.row.id }
            try await commits.resolutions.write(outcomes.map { CancelResolution(row: $0.row, account: account.id, outcome: $0.outcome) })
            return AccountCancelResult(
                accountID: account.id,
                accountName: account.name,
                market: plan.market,
                orders: outcomes.map { CancelledOrder(row: $0.row, outcome: $0.outcome) }
            )
        }
    }
}

/// One cancel's two group commits: its intents and its resolutions.
struct CancelCommits: Sendable {
    let intentWrites: GroupCommit<(row: OpenOrderRow, account: AccountID)>?
    let resolutions: GroupCommit<CancelResolution>

    init(store: any CancelStore, requestID: String, now: @escaping @Sendable () -> Millis, recordIntents: Bool) {
        intentWrites =
            recordIntents ? GroupCommit { try await store.recordCancelIntents(requestID: requestID, rows: $0, now: now()) } : nil
        resolutions = GroupCommit { try await store.resolveCancels(requestID: requestID, $0, now: now()) }
    }

    /// Returns once the intents of `rows` are durable (at once when they were recorded before).
    func intents(_ rows: [OpenOrderRow], account: AccountID) async throws {
        try await intentWrites?.write(rows.map { (row: $0, account: account) })
    }
}

/// Group commit: a caller's items are written in the next transaction, together with every other
/// caller's that arrived while the previous one was being written. A hundred accounts ready within
/// a few milliseconds of each other cost a few transactions instead of a hundred (on SQLite they
/// would queue for its one writer; on PostgreSQL for the pool), and the first of them waits for
/// its own items only. Each caller returns once its own items are durable.
actor GroupCommit<Item: Sendable> {
    enum State { case idle, writing }
    let commit: @Sendable ([Item]) async throws -> Void
    private var state = State.idle
    private var queued: [(items: [Item], done: CheckedContinuation<Void, any Error>)] = []
    /// Callers waiting for the next transaction (for tests).
    var waiting: Int { queued.count }

    init(_ commit: @escaping @Sendable ([Item]) async throws -> Void) { self.commit = commit }

    /// Returns once `items` are written (or throws the error that stopped the transaction holding them).
    func write(_ items: [Item]) async throws {
        guard !items.isEmpty else { return }
        try await withCheckedThrowingContinuation { (done: CheckedContinuation<Void, any Error>) in
            queued.append((items, done))
            if case .idle = state {
                state = .writing
                Task { await drain() }
            }
        }
    }

    private func drain() async {
        while !queued.isEmpty {
            let batch = queued
            queued = []
            do {
                try await commit(batch.flatMap(\.items))
                for entry in batch { entry.done.resume() }
            } catch {
                for entry in batch { entry.done.resume(throwing: error) }
            }
        }
        state = .idle
    }
}
