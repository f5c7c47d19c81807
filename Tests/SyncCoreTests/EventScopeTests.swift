import SyncCore
import Testing

/// The exchange's word about single orders (a user data stream's events) through the same rules as a
/// listing: it judges only the orders it names, whatever their status.
@Suite struct EventScopeTests {
    @Test func anEventJudgesOnlyTheOrdersItNames() {
        // Two rows; the event speaks of order 1 only. Row 2 is neither missed nor touched.
        let rows = [Fx.row(1, order: "1"), Fx.row(2, order: "2")]
        let plan = Fx.decide(Fx.input([Fx.order(1, status: .partiallyFilled, executed: "0.004")], rows, scope: .orders))
        #expect(plan.findings.map(\.kind) == [.drifted])
        #expect(plan.findings[0].row == OpenOrderRowID(1))
        #expect(!plan.actions.contains { if case .recordMiss = $0 { true } else { false } })
        #expect(plan.queries.isEmpty)
    }

    @Test(arguments: [ExchangeOrderStatus.filled, .canceled, .expired])
    func aFinalStatusInAnEventClosesTheRow(status: ExchangeOrderStatus) {
        let order = Fx.order(1, status: status, executed: status == .filled ? "0.01" : "0.003")
        let plan = Fx.decide(Fx.input([order], [Fx.row(1, order: "1")], scope: .orders))
        #expect(plan.findings.map(\.kind) == [.closed])
        #expect(plan.actions == [.closeRow(Fx.row(1, order: "1"), finalStatus: status, filledQuantity: order.executedQuantity)])
    }

    @Test func anEventForAConditionalOrderMatchesItsRowByAlias() {
        // The origin stores a conditional order under its plain number; the event names it in its own id space.
        let row = Fx.row(1, order: "77", type: .stopMarket, stop: "59000")
        let plan = Fx.decide(Fx.input([Fx.order(77, status: .canceled, algo: true, type: .stopMarket)], [row], scope: .orders))
        #expect(plan.findings.map(\.kind) == [.closed])
    }

    @Test func anOpenOrderWithoutARowWaitsForGraceThenFollowsAttribution() {
        let young = Fx.order(5, client: "manual", age: 2_000)
        #expect(Fx.decide(Fx.input([young], [], scope: .orders)).findings.map(\.kind) == [.inFlight])
        #expect(Fx.decide(Fx.input([young], [], scope: .orders)).changes.isEmpty)
        let old = Fx.order(5, client: "manual", age: 10_000)
        let plan = Fx.decide(Fx.input([old], [], scope: .orders))
        #expect(plan.findings.map(\.kind) == [.foreignOrphan])
        #expect(plan.actions == [.registerOrphan(old)])
    }

    @Test func aRegisteredOrphanIsForgottenWhenAnEventShowsItFinishedAndOnlyThen() {
        let manual = Fx.order(5, client: "manual")
        let record = OrphanRecord(
            account: Fx.account,
            market: .futures,
            order: manual,
            firstSeen: Fx.now - 60_000,
            lastSeen: Fx.now - 30_000,
            timesSeen: 2
        )
        let other = Fx.order(6, client: "manual", status: .filled, executed: "0.01")
        // An event about another order says nothing of this orphan.
        #expect(Fx.decide(Fx.input([other], [], orphans: [record], scope: .orders)).findings.isEmpty)
        var done = manual
        done.status = .canceled
        let plan = Fx.decide(Fx.input([done], [], orphans: [record], scope: .orders))
        #expect(plan.findings.map(\.kind) == [.orphanGone])
        #expect(plan.actions == [.forgetOrphan(manual.id)])
    }

    @Test func aFinishedOrderWithoutARowChangesNothing() {
        let plan = Fx.decide(Fx.input([Fx.order(9, status: .filled, executed: "0.01")], [Fx.row(1, order: "1")], scope: .orders))
        #expect(plan.findings.isEmpty)
        #expect(plan.actions.isEmpty)
    }

    @Test func theReportNamesTheEventsSymbols() {
        let plan = Fx.decide(
            Fx.input([Fx.order(1, symbol: "ETHUSDT", status: .filled, executed: "0.01")], [Fx.row(1, order: "1", symbol: "ETHUSDT")], scope: .orders)
        )
        let section = ReportSection(plan: plan, accountName: "a", exchange: "X")
        #expect(section.symbols == ["ETHUSDT"])
    }
}
