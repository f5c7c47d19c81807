import OrderStore
import SyncCore

/// One reconciliation pass over every account of a database, with the exchange side taken from a
/// scenario in-process (no network). The foundation's stand-in for the runtime of issue #5, used
/// by `ordersync demo`; it follows the same two-phase protocol (decide, query, decide, apply).
public enum ScenarioPass {
    public static func run(
        db: OrderDatabase, exchange: Scenario, policy: ReconcilePolicy, trigger: String, now: Millis
    ) async throws -> DriftReport {
        let runID = try await db.beginRun(trigger: trigger, now: now)
        var sections: [ReportSection] = []
        for account in try await db.accounts() where account.isActive {
            guard account.exchange == "BINANCE" else {
                sections.append(.unsupported(account: account.id, accountName: account.name, exchange: account.exchange,
                                             reason: "exchange \(account.exchange) is not supported"))
                continue
            }
            let state = try await db.accountSnapshot(account.id)
            // Markets in which the account has strategy links (never "the first strategy's").
            for market in Set(state.links.map(\.market)).sorted() {
                let all = exchange.exchangeOrders.filter { $0.account == account.id && $0.market == market }.map { $0.order(now: now) }
                let listing = ExchangeListing(coverage: .complete, orders: all.filter { $0.status.isOpen })
                var input = state.input(market: market, listing: listing, now: now)
                var plan = Reconciler.decide(input, policy: policy)
                if !plan.queries.isEmpty {
                    for q in plan.queries {
                        input.queryResults[q.id] = all.first { $0.id == q.id }.map(TargetedQueryResult.found) ?? .notFound
                    }
                    plan = Reconciler.decide(input, policy: policy)
                }
                _ = try await db.apply(plan, runID: runID, now: now)
                sections.append(ReportSection(plan: plan, accountName: account.name, exchange: account.exchange))
            }
        }
        let report = DriftReport(runID: runID, trigger: trigger, startedAt: now, finishedAt: now, sections: sections)
        try await db.finishRun(runID, report: report)
        return report
    }
}
