import OrderStore
import SyncCore

#if canImport(FoundationEssentials)
import FoundationEssentials
#else
import Foundation
#endif

/// `ordersync demo`: a bundled scenario in a temporary SQLite database, reconciled twice against
/// the scenario's exchange side, then a dry-run strategy-scoped cancel selection.
public enum Demo {
    /// The bundled demo scenario (resolved from the source tree).
    public static let defaultScenario = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
        .deletingLastPathComponent().appendingPathComponent("fixtures/scenarios/demo.json").path

    public enum Format: String, Sendable, CaseIterable { case text, json }

    public static func run(scenarioPath: String, databasePath: String, format: Format, now: Millis) async throws(AppError) -> String {
        let scenario = try OrderSyncApp.readScenario(scenarioPath)
        let db = try OrderSyncApp.openDatabase(databasePath)
        do {
            try await db.load(scenario, now: now)
        } catch {
            throw AppError("\(scenarioPath): \(error)")
        }
        // The demo queries a missed order at its first miss so one pass shows every finding.
        let policy = ReconcilePolicy(confirmations: 1)
        do {
            let first = try await ScenarioPass.run(db: db, exchange: scenario, policy: policy, trigger: "demo", now: now)
            let second = try await ScenarioPass.run(db: db, exchange: scenario, policy: policy, trigger: "demo", now: now + 1)
            if format == .json { return first.json() + "\n" }

            var out = "ordersync demo — scenario \(scenario.name), database \(databasePath)\n"
            out += "The exchange side is read from the scenario in-process (the Binance simulator comes with issue #3).\n\n"
            out += first.text()
            let changes = second.totals[.drifted] + second.totals[.closed] + second.totals[.adopted] + second.totals[.orphanGone]
            out += "\nSecond pass on the same exchange state: \(changes) change(s); \(second.totals[.foreignOrphan]) foreign orphan(s) still reported, never cancelled.\n"

            // Dry-run CANCEL_ALL_ORDER for the first public strategy, symbol BTCUSDT.
            let links = try await db.strategyLinks()
            if let strategy = scenario.strategies.first(where: { $0.isPublic }) ?? scenario.strategies.first {
                let scope = CancelScope(links: Set(links.filter { $0.strategy == strategy.id && $0.isActive }.map(\.id)), symbol: "BTCUSDT")
                let rows = try await db.openOrders(links: scope.links)
                let accountOf = Dictionary(uniqueKeysWithValues: links.map { ($0.id, $0.account) })
                let plans = CancelSelection.plan(rows, scope: scope, accountOf: accountOf)
                let total = try await db.openOrders().count
                out += "\nDry run: CANCEL_ALL_ORDER group \(strategy.groupName) symbol BTCUSDT selects \(plans.reduce(0) { $0 + $1.rowCount }) of \(total) open_orders rows, only from its links \(scope.links.sorted().map(\.description).joined(separator: ", ")):\n"
                for plan in plans {
                    for request in plan.requests {
                        let ids = request.rows.map(\.exchangeOrderID.rawValue).joined(separator: ", ")
                        switch request {
                        case .batch(let symbol, _):
                            out += "  account \(plan.account) \(plan.market.rawValue): DELETE batchOrders \(symbol) [\(ids)]\n"
                        case .single:
                            out += "  account \(plan.account) \(plan.market.rawValue): cancel \(ids)\n"
                        }
                    }
                }
                out += "Other strategies' rows and orders with no row (manual, in flight) are never selected.\n"
            }
            return out
        } catch let error as AppError {
            throw error
        } catch {
            throw AppError("demo: \(error)")
        }
    }
}
