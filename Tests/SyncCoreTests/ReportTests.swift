import Foundation
import Testing
import SyncCore

@Suite struct ReportTests {
    static func report() -> DriftReport {
        let plan = Fx.decide(Fx.input(
            [Fx.order(1), Fx.order(2, status: .partiallyFilled, executed: "0.004"), Fx.order(3, client: "manual")],
            [Fx.row(1, order: "1"), Fx.row(2, order: "2"), Fx.row(4, order: "4")]))
        let failed = Fx.decide(Fx.input([], [], coverage: .failed(reason: "HTTP 503 from /fapi/v1/openOrders"), market: .spot))
        return DriftReport(runID: 7, trigger: "cli", startedAt: Fx.now, finishedAt: Fx.now + 42, sections: [
            ReportSection(plan: plan, accountName: "main", exchange: "BINANCE"),
            ReportSection(plan: failed, accountName: "main", exchange: "BINANCE"),
            .unsupported(account: AccountID(9), accountName: "upbit-1", exchange: "UPBIT", reason: "exchange UPBIT is not supported"),
        ])
    }

    @Test func jsonFollowsTheDocumentedSchema() throws {
        let report = Self.report()
        let object = try #require(JSONSerialization.jsonObject(with: Data(report.json().utf8)) as? [String: Any])
        #expect(object["schema"] as? String == "ordersync.drift-report/1")
        #expect(Set(object.keys) == ["schema", "run_id", "trigger", "started_at", "finished_at", "totals", "sections"])
        let totals = try #require(object["totals"] as? [String: Int])
        #expect(Set(totals.keys) == Set(FindingKind.allCases.map(\.rawValue)))
        #expect(totals["matched"] == 1 && totals["drifted"] == 1 && totals["orphan_foreign"] == 1 && totals["stale_suspected"] == 1 && totals["unknown"] == 1)
        let sections = try #require(object["sections"] as? [[String: Any]])
        #expect(sections.map { $0["coverage"] as? String } == ["complete", "failed", "unsupported"])
        let findings = try #require(sections[0]["findings"] as? [[String: Any]])
        #expect(findings.count == 3)  // matched findings are counted, not listed
        let drift = try #require(findings.first { $0["kind"] as? String == "drifted" })
        #expect(drift["exchange_order_id"] as? String == "2" && drift["strategy_account_id"] as? Int == 10 && drift["open_order_id"] as? Int == 2)
        #expect((drift["changes"] as? [[String: String]])?.first == ["field": "status", "from": "OPEN", "to": "PARTIALLY_FILLED"])
        #expect(try JSONDecoder().decode(DriftReport.self, from: Data(report.json().utf8)) == report)
    }

    @Test func textIsAnAlignedTableThenDetails() {
        let text = Self.report().text()
        let lines = text.split(separator: "\n", omittingEmptySubsequences: false).map(String.init)
        let table = lines.drop { !$0.hasPrefix("ACCOUNT") }.prefix { !$0.isEmpty }
        #expect(table.count == 5)  // header, three sections, total
        // Right-aligned numeric columns end at the same offset on every line.
        let ends = table.map { $0.count }
        #expect(Set(ends).count == 1, "\(text)")
        #expect(text.contains("TOTAL") && text.contains("2 error(s)"))
        #expect(text.contains("account 1 FUTURES drifted BTCUSDT BUY order 2 link 10 row 2: status OPEN → PARTIALLY_FILLED, filled_quantity 0 → 0.004"))
        #expect(text.contains("account 1 SPOT: failed: HTTP 503 from /fapi/v1/openOrders"))
        #expect(text.contains("account 9 -: unsupported: exchange UPBIT is not supported"))
    }
}
