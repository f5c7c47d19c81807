import BinanceSimulator
import Foundation
import LocalStack
import OrderStore
import OrderSyncApp
import StoreTestSupport
import SyncCore
import Testing

/// Issue #12's "done when", on each backend: the origin's real schema, the orders it lost on the
/// simulator (fixtures/scenarios/origin-evidence.json, from scripts/gen-origin-fixture.py) and the
/// evidence its own tables keep, through the daemon's pass and its webhook over HTTP.
@Suite struct OriginEvidenceTests {
    static let scenario = CLITests.root.appendingPathComponent("fixtures/scenarios/origin-evidence.json").path

    @Test(arguments: TestDatabases.backends)
    func lostOrdersAreAttributedByTheOriginsOwnRecords(_ backend: TestBackend) async throws {
        try await WebhookEndToEndTests.withStack(scenarioPath: Self.scenario, backend: backend, Self.scenario)
    }

    static func scenario(_ stack: LiveStack, _ name: String) async throws {
        func rows() async throws -> [Int64: SQLRow] {
            Dictionary(
                uniqueKeysWithValues: try await TestDatabases.rows(
                    name,
                    """
                    SELECT id, exchange_order_id, strategy_account_id, symbol, status, market_type, filled_quantity, quantity, price FROM open_orders
                    """
                ).map { ($0.int("id") ?? 0, $0) }
            )
        }
        let originTables = ["trades", "trade_executions", "order_fill_events", "failed_orders"]
        func records() async throws -> [String] {
            var all: [String] = []
            for table in originTables {
                all += try await TestDatabases.rows(name, "SELECT * FROM \(table) ORDER BY id").map {
                    "\(table) \($0.values.map(\.description).joined(separator: "|"))"
                }
            }
            return all
        }
        let before = try await rows()
        let recordsBefore = try await records()
        let placeholder = try #require(before[2]?.text("exchange_order_id"))
        let twinPlaceholder = try #require(before[3]?.text("exchange_order_id"))

        let report = try await stack.daemon.runner.pass(trigger: "test")
        let findings = Dictionary(grouping: report.sections.flatMap(\.findings), by: { $0.exchangeOrderID ?? "" })
        func only(_ id: String) throws -> ReportFinding {
            let list = findings[id] ?? []
            try #require(list.count == 1, "\(id): \(list) in \(report.text())")
            return list[0]
        }

        // The origin lost the answer (FAILED placeholder, live order): the row itself is repaired.
        let repaired = try only("8010")
        #expect(
            repaired.kind == .adopted && repaired.evidence == "placeholder:2" && repaired.openOrderID == OpenOrderRowID(2)
                && repaired.action == "placeholder repaired",
            "\(report.text())"
        )
        let after = try await rows()
        let row2 = try #require(after[2])
        #expect(
            row2.text("exchange_order_id") == "8010" && row2.text("status") == "OPEN" && row2.int("strategy_account_id") == 1
                && row2.text("symbol") == "ETH/USDT" && row2.text("market_type") == "futures"
        )
        #expect(after.count == before.count + 2, "two rows inserted (8020, 8021); the placeholder repaired in place")

        // A partial fill in trades for an order without a row: adopted with the exchange's fill.
        let recorded = try only("8020")
        #expect(
            recorded.kind == .adopted && recorded.strategyAccountID == StrategyLinkID(1) && recorded.evidence?.hasPrefix("recorded:trades#") == true
        )
        let row8020 = try #require(after.values.first { $0.text("exchange_order_id") == "8020" })
        #expect(row8020.text("status") == "PARTIALLY_FILLED" && row8020.double("filled_quantity") == 1.2)
        #expect(row8020.text("symbol") == "SOL/USDT")

        // A failed_orders CANCEL record: adopted into the link that failed to cancel it (strategy 2's).
        let cancelRecord = try only("8021")
        #expect(
            cancelRecord.kind == .adopted && cancelRecord.strategyAccountID == StrategyLinkID(3)
                && cancelRecord.evidence?.hasPrefix("recorded:failed_orders#") == true
        )

        // Two identical orders and one placeholder: nothing adopted, all reported, the row untouched.
        for id in ["8030", "8031"] {
            let twin = try only(id)
            #expect(twin.kind == .foreignOrphan && twin.detail.contains("#3") && twin.detail.contains("8030, 8031"), "\(twin.detail)")
        }
        #expect(after[3]?.text("exchange_order_id") == twinPlaceholder && after[3]?.text("status") == "FAILED")

        // A record naming another account's link: foreign, the conflict said.
        let conflict = try only("8040")
        #expect(conflict.kind == .foreignOrphan && conflict.detail.contains("not on account 1") && conflict.strategyAccountID == nil)

        // The evidence is kept in sync_findings too, and the origin's other tables were only read.
        let kept = try await TestDatabases.rows(
            name,
            "SELECT exchange_order_id, evidence FROM sync_findings WHERE kind = 'orphan_adopted' ORDER BY exchange_order_id"
        )
        #expect(kept.map { $0.text(0) ?? "" } == ["8010", "8020", "8021"])
        #expect(kept.first?.text(1) == "placeholder:2" && kept.dropFirst().allSatisfy { $0.text(1)?.hasPrefix("recorded:") == true })
        #expect(try await records() == recordsBefore)
        let named = await stack.exchange.namedOrders
        #expect(!named.keys.contains { $0.hasPrefix("PENDING") })

        // A second pass changes nothing more.
        let again = try await stack.daemon.runner.pass(trigger: "test")
        #expect(again.totals[.adopted] == 0 && again.totals[.drifted] == 0 && again.totals[.closed] == 0, "\(again.text())")
        #expect(try await rows() == after)

        // The strategy's next CANCEL_ALL_ORDER cancels the order the placeholder stood for.
        let eth = try await WebhookEndToEndTests.send(
            stack,
            """
            {"group_name": "origin-futures", "exchange": "binance", "market_type": "futures", "symbol": "ETH/USDT",
             "order_type": "CANCEL_ALL_ORDER", "token": "origin-owner-token-0001"}
            """
        )
        #expect(eth.status == 200 && eth.cancelledIDs == ["8010"], "\(eth.raw)")
        let open = await WebhookEndToEndTests.open(stack)
        #expect(open[1]?.contains("8010") == false && open[1]?.isSuperset(of: ["8001", "8020", "8021", "8030", "8031", "8040"]) == true)
        let namedAfter = await stack.exchange.namedOrders
        #expect(placeholder.hasPrefix("PENDING-") && !namedAfter.keys.contains(placeholder))
    }
}
