import SyncCore

/// Cancels a strategy's DB-recorded orders across all its accounts at once (ARCHITECTURE §2.1):
/// rows are selected from `open_orders` by strategy link only, each cancel names its orders, an
/// intent is recorded before anything is sent, and a row leaves `open_orders` only when the
/// exchange confirmed a final state. Each account is cancelled under the lock the reconciler uses.
public struct StrategyCanceller: Sendable {
    public var store: any CancelStore
    public var gateway: any CancelGateway
    public var locks: AccountLocks
    /// Accounts cancelled at once.
    public var parallelism: Int
    public var now: @Sendable () -> Millis

    public init(store: any CancelStore, gateway: any CancelGateway, locks: AccountLocks, parallelism: Int = 128,
                now: @escaping @Sendable () -> Millis) {
        self.store = store
        self.gateway = gateway
        self.locks = locks
        self.parallelism = max(1, parallelism)
        self.now = now
    }

    /// The requests a cancel would send, per account and market, with the accounts they concern.
    public func plan(_ target: CancelTarget) async throws -> (plans: [AccountCancelPlan], accounts: [AccountID: AccountRecord]) {
        let rows = try await store.openOrders(links: target.scope.links)
        let plans = CancelSelection.plan(rows, scope: target.scope, accountOf: target.accountOf, now: now())
        let wanted = Set(plans.map(\.account))
        let accounts = try await store.accounts().filter { wanted.contains($0.id) }
        return (plans, Dictionary(accounts.map { ($0.id, $0) }, uniquingKeysWith: { a, _ in a }))
    }

    /// What would be cancelled, without sending anything.
    public func dryRun(_ target: CancelTarget, requestID: String) async throws -> CancelReport {
        let started = now()
        let (plans, accounts) = try await plan(target)
        let results = plans.map { p in
            AccountCancelResult(accountID: p.account, accountName: accounts[p.account]?.name ?? "", market: p.market,
                                orders: p.requests.flatMap(\.rows).map { row in
                                    var o = CancelledOrder(row: row, outcome: .failed(reason: "", unknown: false))
                                    o.outcome = "would_cancel"
                                    o.reason = nil
                                    return o
                                })
        }
        return CancelReport(requestID: requestID, strategy: target.strategy, executed: false, accounts: results, durationMs: now() - started)
    }

    /// Cancels the target's orders: intents first, then every account in parallel (bounded).
    public func execute(_ target: CancelTarget, requestID: String) async throws -> CancelReport {
        let started = now()
        let (plans, accounts) = try await plan(target)
        try await store.recordCancelIntents(requestID: requestID, rows: plans.flatMap { p in p.requests.flatMap(\.rows).map { ($0, p.account) } },
                                            now: started)
        let results = try await fanOut(plans, accounts: accounts, requestID: requestID)
        return CancelReport(requestID: requestID, strategy: target.strategy, executed: true, accounts: results, durationMs: now() - started)
    }

    /// Every account's plan at once (at most `parallelism` accounts in flight).
    func fanOut(_ plans: [AccountCancelPlan], accounts: [AccountID: AccountRecord], requestID: String) async throws -> [AccountCancelResult] {
        var results: [AccountCancelResult] = []
        try await withThrowingTaskGroup(of: AccountCancelResult.self) { group in
            var next = 0
            func launch() {
                let plan = plans[next]
                next += 1
                group.addTask { try await cancel(plan, account: accounts[plan.account], requestID: requestID) }
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
            let plans = CancelSelection.plan(rows, scope: CancelScope(links: Set(rows.map(\.link))), accountOf: accountOf, now: started)
            // A row that is no longer cancellable (the origin began cancelling it, or it became a
            // give-up) is not sent again; its intent is settled as failed, saying why.
            let planned = Set(plans.flatMap { $0.requests.flatMap(\.rows) }.map(\.id))
            for (account, skipped) in Dictionary(grouping: items.filter { $0.row.map { !planned.contains($0.id) } ?? false }, by: \.account) {
                let outcomes = skipped.compactMap(\.row).map { ($0, OrderCancelOutcome.failed(reason: "not sent again: the row is now \($0.status)", unknown: false)) }
                try await store.resolveCancels(requestID: requestID, account: account, outcomes: outcomes, now: started)
            }
            let results = try await fanOut(plans, accounts: accounts, requestID: requestID)
            reports.append(CancelReport(requestID: requestID, strategy: "(resumed)", executed: true, accounts: results, durationMs: now() - started))
        }
        return reports
    }

    /// One account and market, under the account's lock: one call per symbol (the client batches
    /// futures orders by ten), all symbols at once; then one transaction resolving it all.
    func cancel(_ plan: AccountCancelPlan, account: AccountRecord?, requestID: String) async throws -> AccountCancelResult {
        let rows = plan.requests.flatMap(\.rows)
        guard let account, gateway.supports(account) else {
            let reason = account.map { "exchange \($0.exchange) is not supported" } ?? "account not found"
            let outcomes = rows.map { ($0, OrderCancelOutcome.failed(reason: reason, unknown: false)) }
            try await store.resolveCancels(requestID: requestID, account: plan.account, outcomes: outcomes, now: now())
            return AccountCancelResult(accountID: plan.account, accountName: account?.name ?? "", market: plan.market,
                                       orders: outcomes.map { CancelledOrder(row: $0.0, outcome: $0.1) }, error: reason)
        }
        return try await locks.withLock(account.id) {
            var bySymbol: [String: [OpenOrderRow]] = [:]
            for row in rows { bySymbol[row.symbol, default: []].append(row) }
            let byID = Dictionary(rows.map { ($0.exchangeOrderID, $0) }, uniquingKeysWith: { a, _ in a })
            var outcomes: [(row: OpenOrderRow, outcome: OrderCancelOutcome)] = []
            await withTaskGroup(of: [(ExchangeOrderID, OrderCancelOutcome)].self) { group in
                for (symbol, list) in bySymbol {
                    group.addTask { await gateway.cancel(account, market: plan.market, symbol: symbol, ids: list.map(\.exchangeOrderID)) }
                }
                for await answers in group {
                    for (id, outcome) in answers { if let row = byID[id] { outcomes.append((row, outcome)) } }
                }
            }
            outcomes.sort { $0.row.id < $1.row.id }
            try await store.resolveCancels(requestID: requestID, account: account.id, outcomes: outcomes, now: now())
            return AccountCancelResult(accountID: account.id, accountName: account.name, market: plan.market,
                                       orders: outcomes.map { CancelledOrder(row: $0.row, outcome: $0.outcome) })
        }
    }
}
