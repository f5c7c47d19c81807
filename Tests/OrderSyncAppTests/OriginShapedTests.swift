import BinanceSimulator
import Foundation
import LocalStack
import OrderStore
import OrderSyncApp
import StoreTestSupport
import SyncCore
import Testing

/// Issue #11's "done when", on each backend: the origin app's DDL and rows as its code writes them
/// (fixtures/scenarios/origin-shaped.json: Fernet keys under the SECRET_KEY derivation, lower-case
/// exchange and market types, slash symbols, a PENDING placeholder, a FAILED row, a CANCELLING row,
/// a held row, a MARKET row left OPEN), against orders on the simulator, through the daemon and its
/// webhook over HTTP.
@Suite struct OriginShapedTests {
    static let scenario = CLITests.root.appendingPathComponent("fixtures/scenarios/origin-shaped.json").path

    @Test(arguments: TestDatabases.backends)
    func aPassAndStrategyCancelsOnTheOriginsOwnRows(_ backend: TestBackend) async throws {
        try await WebhookEndToEndTests.withStack(
            scenarioPath: Self.scenario,
            backend: backend,
            configure: { options in
                options.config.reconcile.confirmations = 1
                // The origin lost order 7101 (no row); its operator knows it is strategy link 1's.
                options.config.attribution.claims = [OperatorClaim(account: AccountID(1), symbol: "SOL/USDT", link: StrategyLinkID(1))]
            },
            Self.scenario
        )
    }

    static func scenario(_ stack: LiveStack, _ name: String) async throws {
        func rows() async throws -> [String: SQLRow] {
            Dictionary(
                uniqueKeysWithValues: try await TestDatabases.rows(
                    name,
                    """
                    SELECT exchange_order_id, strategy_account_id, symbol, status, market_type, is_processing, filled_quantity FROM open_orders
                    """
                ).map { ($0.text("exchange_order_id") ?? "", $0) }
            )
        }
        let before = try await rows()
        let report = try await stack.daemon.runner.pass(trigger: "test")
        let byKind = Dictionary(grouping: report.sections.flatMap(\.findings), by: \.kind)
        func ids(_ kind: FindingKind) -> Set<String> { Set((byKind[kind] ?? []).compactMap(\.exchangeOrderID)) }

        // Every account is listed: both Binance accounts and the Upbit one, keys decrypted from Fernet.
        let sections = Dictionary(grouping: report.sections, by: \.accountID)
        #expect(sections[AccountID(1)]?.map(\.coverage).sorted() == ["complete", "complete"], "\(report.text())")
        #expect(sections[AccountID(2)]?.map(\.coverage) == ["complete"])
        #expect(sections[AccountID(3)]?.map(\.coverage) == ["complete"], "Upbit, through its simulator")
        #expect(!report.sections.contains { $0.coverage == "failed" || $0.coverage == "partial" }, "\(report.text())")
        // Every live row matched (7001–7004, 7008), whatever its symbol's and market type's spelling.
        #expect(
            report.totals[.matched] == 5 && ids(.drifted).isEmpty && ids(.staleSuspected).isEmpty && ids(.unresolved).isEmpty,
            "\(report.text())"
        )
        // The manual order is flagged, the claimed one adopted as a row the origin could have written.
        #expect(ids(.foreignOrphan) == ["7100"])
        #expect(ids(.adopted) == ["7101"])
        let after = try await rows()
        let adopted = try #require(after["7101"])
        #expect(
            adopted.text("symbol") == "SOL/USDT" && adopted.text("market_type") == "futures" && adopted.bool(5) == false
                && adopted.text("status") == "OPEN" && adopted.int("strategy_account_id") == 1
        )
        // The placeholder, the origin's own cancel and the held row are in flight, untouched.
        let pendingID = try #require(before.keys.first { $0.hasPrefix("PENDING-") && before[$0]?.text("status") == "PENDING" })
        #expect(ids(.inFlight) == [pendingID, "7005", "7006"], "\(report.text())")
        for id in [pendingID, "7005", "7006"] { #expect(after[id] == before[id], "\(id) untouched") }
        // The MARKET row left OPEN is closed with the exchange's FILLED.
        #expect(ids(.closed) == ["7007"] && after["7007"] == nil)
        let history = try await TestDatabases.rows(name, "SELECT final_status FROM sync_order_history WHERE exchange_order_id = '7007'")
        #expect(history.first?.text(0) == "FILLED")
        // The FAILED give-up stays exactly as it was, and no placeholder was ever named in a request.
        let failed = try #require(before.keys.first { before[$0]?.text("status") == "FAILED" })
        #expect(after[failed] == before[failed])
        let named = await stack.exchange.namedOrders
        #expect(!named.isEmpty && named.keys.allSatisfy { !$0.hasPrefix("PENDING") }, "\(named)")

        // CANCEL_ALL_ORDER with the origin's own symbol form: exactly the strategy's live BTC orders on
        // both accounts (owner and subscriber); the other strategy's and the manual order stay.
        let btc = try await WebhookEndToEndTests.send(
            stack,
            """
            {"group_name": "origin-futures", "exchange": "binance", "market_type": "futures", "symbol": "BTC/USDT",
             "order_type": "CANCEL_ALL_ORDER", "token": "origin-owner-token-0001"}
            """
        )
        #expect(btc.status == 200 && btc.cancelledIDs == ["7001", "7003"], "\(btc.raw)")
        // The held row's order had filled: it is reported closed, and its row stays until the origin lets go.
        let open = await WebhookEndToEndTests.open(stack)
        #expect(open[1]?.isSuperset(of: ["7002", "7004", "7005", "7008", "7100", "7101"]) == true && open[1]?.contains("7001") == false)
        #expect((open[2] ?? []).contains("7003") == false)
        let afterCancel = try await rows()
        #expect(afterCancel["7001"] == nil && afterCancel["7003"] == nil && afterCancel["7004"] != nil && afterCancel["7005"] == after["7005"])
        #expect(afterCancel["7006"] == after["7006"], "a held row is not deleted")
        // And with the exchange's form: the strategy's ETH order (and the adopted SOL one stays: other symbol).
        let eth = try await WebhookEndToEndTests.send(
            stack,
            """
            {"group_name": "origin-futures", "symbol": "ETHUSDT", "order_type": "CANCEL_ALL_ORDER", "token": "origin-owner-token-0001"}
            """
        )
        #expect(eth.status == 200 && eth.cancelledIDs == ["7002"], "\(eth.raw)")
        #expect(await stack.exchange.wideCancelCalls.isEmpty)
        let namedAfter = await stack.exchange.namedOrders
        #expect(namedAfter.keys.allSatisfy { !$0.hasPrefix("PENDING") })

        // `check` on the same database: ordersync can run; the origin's states are named.
        var options = ReconcileOptions(databasePath: name)
        options.config.exchange.spotURL = stack.simulatorURL
        options.config.exchange.futuresURL = stack.simulatorURL
        options.config.exchange.upbitURL = stack.upbitURL
        options.config.exchange.bithumbURL = stack.bithumbURL
        let check = try await EntryPoints.check(options, online: true)
        #expect(check.ok, "\(check.text())")
        #expect(
            check.accounts.map(\.support) == ["supported", "supported", "supported"]
                && check.accounts.allSatisfy { $0.keys == "ok" && $0.online == "ok" },
            "\(check.text())"
        )
        #expect(check.placeholders == 1 && check.failed == 1 && check.cancelling == 1 && check.held == 1)
    }
}
