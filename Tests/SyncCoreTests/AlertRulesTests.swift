import Foundation
import Testing

@testable import SyncCore

/// The alert rules on hand-made reports: what raises an alert, when streaks start and end, and
/// that keys make an order's alert one alert however many passes report it.
@Suite struct AlertRulesTests {
    static func finding(_ json: String) throws -> ReportFinding {
        try JSONDecoder().decode(ReportFinding.self, from: Data(json.utf8))
    }

    static func section(_ account: Int64, _ coverage: String, _ findings: [ReportFinding] = [], error: String? = nil) -> ReportSection {
        ReportSection(
            accountID: AccountID(account),
            accountName: "acct-\(account)",
            exchange: "x",
            market: .futures,
            coverage: coverage,
            symbols: nil,
            error: error,
            listed: 0,
            rows: 0,
            counts: FindingCounts(),
            findings: findings
        )
    }

    static func report(_ at: Millis, _ sections: [ReportSection]) -> DriftReport {
        DriftReport(runID: at, trigger: "test", startedAt: at, finishedAt: at, sections: sections)
    }

    static let unresolved =
        #"{"kind": "unresolved", "open_order_id": 7, "exchange_order_id": "70", "strategy": "s", "strategy_account_id": 3, "action": "none", "detail": "query: not found", "changes": []}"#
    static let orphan =
        #"{"kind": "orphan_foreign", "exchange_order_id": "90", "symbol": "BTCUSDT", "action": "orphan registered", "detail": "", "changes": []}"#

    @Test func unresolvedRowsAlertOnceAtTheThresholdAndAStreakEndsWhenTheRowIsNotUnresolved() throws {
        var rules = AlertRules(unresolvedPasses: 3, failingPasses: 2)
        let row = try Self.finding(Self.unresolved)
        #expect(rules.observe(Self.report(1, [Self.section(1, "complete", [row])])).isEmpty)
        #expect(rules.observe(Self.report(2, [Self.section(1, "complete", [row])])).isEmpty)
        // A failed listing decides nothing about the row: the streak is kept, not counted.
        #expect(rules.observe(Self.report(3, [Self.section(1, "failed", error: "HTTP 500")])).isEmpty)
        // A pass of other accounts only (a webhook RECONCILE) leaves it alone too.
        #expect(rules.observe(Self.report(4, [Self.section(2, "complete")])).isEmpty)
        let third = rules.observe(Self.report(5, [Self.section(1, "complete", [row])]))
        #expect(third.map(\.kind) == [.rowUnresolved] && third.first?.key == "row_unresolved:7")
        #expect(third.first?.strategy == "s" && third.first?.strategyAccountID == StrategyLinkID(3) && third.first?.exchangeOrderID == "70")
        #expect(rules.observe(Self.report(6, [Self.section(1, "complete", [row])])).isEmpty, "once, not every pass after")
        // A complete pass without it ends the streak; it starts over.
        #expect(rules.observe(Self.report(7, [Self.section(1, "complete")])).isEmpty)
        for at in 8...9 { #expect(rules.observe(Self.report(Millis(at), [Self.section(1, "complete", [row])])).isEmpty) }
        #expect(rules.observe(Self.report(10, [Self.section(1, "complete", [row])])).map(\.kind) == [.rowUnresolved])
    }

    @Test func aFailingListingAlertsOncePerEpisodeAndItsRecoveryOnlyAfterAnAlert() {
        var rules = AlertRules(unresolvedPasses: 3, failingPasses: 2)
        // One failed pass, then complete: no alert either way.
        #expect(rules.observe(Self.report(1, [Self.section(1, "failed")])).isEmpty)
        #expect(rules.observe(Self.report(2, [Self.section(1, "complete")])).isEmpty)
        // Two, three failed passes: one alert, keyed by the episode's start.
        #expect(rules.observe(Self.report(3, [Self.section(1, "partial")])).isEmpty)
        let failing = rules.observe(Self.report(4, [Self.section(1, "failed", error: "banned")]))
        #expect(failing.map(\.key) == ["listing_failing:1:FUTURES:3"] && failing.first?.text.contains("banned") == true)
        #expect(rules.observe(Self.report(5, [Self.section(1, "failed")])).isEmpty)
        let recovered = rules.observe(Self.report(6, [Self.section(1, "complete")]))
        #expect(recovered.map(\.key) == ["listing_recovered:1:FUTURES:3"])
        // A later episode is a new alert.
        #expect(rules.observe(Self.report(7, [Self.section(1, "failed")])).isEmpty)
        #expect(rules.observe(Self.report(8, [Self.section(1, "failed")])).map(\.key) == ["listing_failing:1:FUTURES:7"])
        // Unsupported accounts are never alerted.
        for at in 9...12 { #expect(rules.observe(Self.report(Millis(at), [Self.section(2, "unsupported")])).isEmpty) }
    }

    @Test func orphansAndWeakAdoptionsRaiseTheSameKeyEveryPassAndTagsRaiseNothing() throws {
        var rules = AlertRules()
        let orphan = try Self.finding(Self.orphan)
        let placeholder = try Self.finding(
            #"{"kind": "orphan_adopted", "exchange_order_id": "91", "evidence": "placeholder:2", "strategy": "s", "action": "placeholder repaired", "detail": "", "changes": []}"#
        )
        let tagged = try Self.finding(
            #"{"kind": "orphan_adopted", "exchange_order_id": "92", "evidence": "tag", "action": "row inserted", "detail": "", "changes": []}"#
        )
        let first = rules.observe(Self.report(1, [Self.section(1, "complete", [orphan, placeholder, tagged])]))
        let second = rules.observe(Self.report(2, [Self.section(1, "complete", [orphan])]))
        #expect(first.map(\.key) == ["foreign_orphan:1:FUTURES:90", "adopted:1:FUTURES:91"])
        #expect(second.map(\.key) == ["foreign_orphan:1:FUTURES:90"], "the same key: the sinks send it once")
    }

    /// A stream's event section names one order: its orphan alerts at once, but it neither ends a
    /// failing listing's episode (no false recovery) nor a row's unresolved streak.
    @Test func anEventSectionAlertsItsOrphanAndLeavesEpisodesAndStreaksAlone() throws {
        var rules = AlertRules(unresolvedPasses: 2, failingPasses: 1)
        func event(_ at: Millis, _ findings: [ReportFinding] = []) -> DriftReport {
            DriftReport(
                runID: 1,
                trigger: DriftReport.streamTrigger,
                startedAt: at,
                finishedAt: at,
                sections: [Self.section(1, "complete", findings)]
            )
        }
        #expect(rules.observe(Self.report(1, [Self.section(1, "failed")])).map(\.kind) == [.listingFailing])
        #expect(rules.observe(event(2, [try Self.finding(Self.orphan)])).map(\.key) == ["foreign_orphan:1:FUTURES:90"])
        #expect(rules.observe(event(3)).isEmpty, "no recovery from an event")
        #expect(rules.observe(Self.report(4, [Self.section(1, "complete")])).map(\.kind) == [.listingRecovered], "the episode was still open")
        let row = try Self.finding(Self.unresolved)
        #expect(rules.observe(Self.report(5, [Self.section(1, "complete", [row])])).isEmpty)
        #expect(rules.observe(event(6)).isEmpty)
        #expect(rules.observe(Self.report(7, [Self.section(1, "complete", [row])])).map(\.kind) == [.rowUnresolved], "the streak survived the event")
    }

    @Test func cancelsAlertPerAccountMarketSplittingUnknownFromFailedAndDryRunsNot() {
        func row(_ id: Int64) -> OpenOrderRow { Fx.row(id, order: "\(id)", link: 5) }
        let orders = [
            CancelledOrder(row: row(1), outcome: .failed(reason: "HTTP 500", unknown: true)),
            CancelledOrder(row: row(2), outcome: .failed(reason: "rejected -2011", unknown: false)),
            CancelledOrder(row: row(3), result: .cancelled),
        ]
        let account = AccountCancelResult(accountID: AccountID(4), accountName: "a", market: .futures, orders: orders)
        let unreachable = AccountCancelResult(accountID: AccountID(6), accountName: "b", market: .spot, orders: [], error: "bad credentials")
        let report = CancelReport(requestID: "r1", strategy: "grid", executed: true, accounts: [account, unreachable], durationMs: 1)
        let alerts = AlertRules.alerts(report, at: 9)
        #expect(alerts.map(\.key) == ["cancel_unknown:r1:4:FUTURES", "cancel_failed:r1:4:FUTURES", "cancel_failed:r1:6:SPOT:account"])
        #expect(alerts[0].orders == ["1"] && alerts[1].orders == ["2"] && alerts.allSatisfy { $0.strategy == "grid" })
        let dry = CancelReport(requestID: "r2", strategy: "grid", executed: false, accounts: [account], durationMs: 1)
        #expect(AlertRules.alerts(dry, at: 9).isEmpty)
    }
}
