import SyncCore

/// Runs reconciliation passes: for each account and market, list the exchange, read the DB,
/// decide, run the targeted queries the plan asks for, decide again, apply — under the account's
/// lock, accounts in parallel (bounded).
public struct ReconcileRunner: Sendable {
    public var store: any ReconcileStore
    public var gateway: any ExchangeGateway
    public var policy: ReconcilePolicy
    public var locks: AccountLocks
    public var now: @Sendable () -> Millis
    /// Accounts reconciled at once.
    public var parallelism: Int

    public init(store: any ReconcileStore, gateway: any ExchangeGateway, policy: ReconcilePolicy, locks: AccountLocks = AccountLocks(),
                parallelism: Int = 16, now: @escaping @Sendable () -> Millis) {
        self.store = store
        self.gateway = gateway
        self.policy = policy
        self.locks = locks
        self.parallelism = max(1, parallelism)
        self.now = now
    }

    /// One pass over the active accounts (or only `only`), recorded as a run with its findings.
    public func pass(only: Set<AccountID>? = nil, trigger: String) async throws -> DriftReport {
        let started = now()
        let runID = try await store.beginRun(trigger: trigger, now: started)
        let accounts = try await store.accounts().filter { $0.isActive && (only?.contains($0.id) ?? true) }
        var sections: [ReportSection] = []
        try await withThrowingTaskGroup(of: [ReportSection].self) { group in
            var next = 0
            func launch() {
                let account = accounts[next]
                next += 1
                group.addTask { try await reconcile(account, runID: runID) }
            }
            while next < min(parallelism, accounts.count) { launch() }
            for try await result in group {
                sections += result
                if next < accounts.count { launch() }
            }
        }
        let report = DriftReport(runID: runID, trigger: trigger, startedAt: started, finishedAt: now(), sections: sections)
        try await store.finishRun(runID, report: report)
        return report
    }

    /// One account: every market in which it has links or rows.
    func reconcile(_ account: AccountRecord, runID: Int64) async throws -> [ReportSection] {
        guard gateway.supports(account) else {
            return [.unsupported(account: account.id, accountName: account.name, exchange: account.exchange,
                                 reason: "exchange \(account.exchange) is not supported")]
        }
        return try await locks.withLock(account.id) {
            let snapshot = try await store.accountSnapshot(account.id)
            var sections: [ReportSection] = []
            for market in snapshot.markets {
                let listing = await gateway.listing(account, market: market, symbol: nil)
                let time = now()
                var input = snapshot.input(market: market, listing: listing, now: time)
                var plan = Reconciler.decide(input, policy: policy)
                if !plan.queries.isEmpty {
                    for query in plan.queries {
                        input.queryResults[query.id] = await gateway.query(account, market: market, symbol: query.symbol, id: query.id)
                    }
                    plan = Reconciler.decide(input, policy: policy)
                }
                _ = try await store.apply(plan, runID: runID, now: time)
                sections.append(ReportSection(plan: plan, accountName: account.name, exchange: account.exchange))
            }
            return sections
        }
    }
}
