import Foundation
import SyncCore
import Testing

@Suite struct ReportTests {
    static func report() -> DriftReport {
        let plan = Fx.decide(
            Fx.input(
                [Fx.order(1), Fx.order(2, status: .partiallyFilled, executed: "0.004"), Fx.order(3, client: "manual")],
                [Fx.row(1, order: "1"), Fx.row(2, order: "2"), Fx.row(4, order: "4")]
            )
        )
        let failed = Fx.decide(Fx.input([], [], coverage: .failed(reason: "HTTP 503 from /fapi/v1/openOrders"), market: .spot))
        return DriftReport(
            runID: 7,
            trigger: "cli",
            startedAt: Fx.now,
            finishedAt: Fx.now + 42,
            sections: [
                ReportSection(plan: plan, accountName: "main", exchange: "BINANCE", groups: [StrategyLinkID(10): "trend"]),
                ReportSection(plan: failed, accountName: "main", exchange: "BINANCE"),
                .unsupported(account: AccountID(9), accountName: "upbit-1", exchange: "UPBIT", reason: "exchange UPBIT is not supported"),
            ]
        )
    }

    @Test func jsonFollowsTheDocumentedSchema() throws {
        let report = Self.report()
        let object = try #require(JSONSerialization.jsonObject(with: Data(report.json().utf8)) as? [String: Any])
        #expect(object["schema"] as? String == "ordersync.drift-report/2")
        #expect(Set(object.keys) == ["schema", "run_id", "trigger", "started_at", "finished_at", "totals", "sections"])
        let totals = try #require(object["totals"] as? [String: Int])
        #expect(Set(totals.keys) == Set(FindingKind.allCases.map(\.rawValue)))
        #expect(
            totals["matched"] == 1 && totals["drifted"] == 1 && totals["orphan_foreign"] == 1 && totals["stale_suspected"] == 1
                && totals["unknown"] == 1
        )
        let sections = try #require(object["sections"] as? [[String: Any]])
        #expect(sections.map { $0["coverage"] as? String } == ["complete", "failed", "unsupported"])
        let findings = try #require(sections[0]["findings"] as? [[String: Any]])
        #expect(findings.count == 3)  // matched findings are counted, not listed
        let drift = try #require(findings.first { $0["kind"] as? String == "drifted" })
        #expect(drift["exchange_order_id"] as? String == "2" && drift["strategy_account_id"] as? Int == 10 && drift["open_order_id"] as? Int == 2)
        #expect(drift["strategy"] as? String == "trend" && drift["order_type"] as? String == "LIMIT" && drift["price"] as? String == "60000")
        #expect(drift["quantity"] as? String == "0.01" && drift["filled"] as? String == "0.004" && drift["action"] as? String == "row updated")
        #expect(drift["age_ms"] as? Int == 600_000)
        #expect(sections[0]["symbols"] == nil, "a full sweep names no symbols")
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
        // One aligned line per finding that is not matched: strategy, order, age and action.
        let findings = lines.drop { !$0.hasPrefix("FINDING") }.prefix { !$0.isEmpty }
        #expect(findings.count == 4, "header, drifted, stale, orphan:\n\(text)")
        let header = findings.first ?? ""
        let actionColumn = header.distance(from: header.startIndex, to: header.range(of: "ACTION")?.lowerBound ?? header.endIndex)
        for line in findings.dropFirst() {
            let action = String(line.dropFirst(actionColumn))
            #expect(["row updated", "orphan registered", "miss counted"].contains { action.hasPrefix($0) }, "aligned: \(line)")
        }
        let drifted = findings.first { $0.hasPrefix("drifted") }?.split(separator: " ", omittingEmptySubsequences: true).map(String.init) ?? []
        #expect(
            drifted.prefix(13) == ["drifted", "trend", "1", "FUTURES", "BTCUSDT", "BUY", "LIMIT", "60000", "0.01", "0.004", "2", "-", "10m"],
            "\(drifted)"
        )
        #expect(
            findings.contains {
                $0.hasPrefix("drifted") && $0.contains("row updated") && $0.hasSuffix("status OPEN → PARTIALLY_FILLED, filled_quantity 0 → 0.004")
            }
        )
        #expect(findings.contains { $0.hasPrefix("orphan_foreign") && $0.contains("manual") && $0.contains("orphan registered") })
        #expect(findings.contains { $0.hasPrefix("stale_suspected") && $0.contains("trend") && $0.contains("miss counted") })
        #expect(text.contains("account 1 SPOT: failed: HTTP 503 from /fapi/v1/openOrders"))
        #expect(text.contains("account 9 -: unsupported: exchange UPBIT is not supported"))
    }
}
