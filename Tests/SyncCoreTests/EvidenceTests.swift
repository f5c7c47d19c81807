import SyncCore
import Testing

/// Attribution from the origin's own records and placeholder rows (issue #12), on `Fx`'s account 1
/// (futures links 10 and 11, spot link 12) and account 2 (futures link 20).
@Suite struct EvidenceTests {
    static func record(
        _ table: OriginRecord.Table,
        _ id: Int64,
        order: String,
        link: Int64,
        symbol: String? = "BTC/USDT",
        market: String? = "FUTURES"
    ) -> OriginRecord {
        OriginRecord(table: table, id: id, exchangeOrderID: order, link: StrategyLinkID(link), symbol: symbol, marketText: market)
    }

    /// A placeholder row for `Fx.order`'s defaults (BUY 0.01 BTCUSDT LIMIT 60000), created `before`
    /// ms before an order of age 600 s.
    static func placeholder(
        _ id: Int64,
        link: Int64 = 10,
        status: String = "FAILED",
        before: Millis = 2_000,
        qty: String = "0.01",
        price: String? = "60000",
        market: Market = .futures,
        age: Millis? = nil
    ) -> OpenOrderRow {
        Fx.row(
            id,
            order: "PENDING-\(String(repeating: "a", count: 31))\(id)",
            link: link,
            symbol: "BTC/USDT",
            qty: qty,
            price: price,
            status: status,
            age: age ?? (600_000 + before),
            market: market
        )
    }

    /// Decides twice as the runner does: first to learn the request, then with `evidence`.
    static func decide(
        _ orders: [ExchangeOrder],
        rows: [OpenOrderRow] = [],
        evidence: OriginEvidence,
        market: Market = .futures,
        claims: [OperatorClaim] = []
    ) -> (request: EvidenceRequest?, plan: ReconcilePlan) {
        var input = Fx.input(orders, rows, market: market)
        let first = Fx.decide(input, claims: claims)
        input.evidence = evidence
        return (first.evidenceRequest, Fx.decide(input, claims: claims))
    }

    @Test func aRecordedIdOnALinkOfThisAccountAndMarketAdoptsIntoIt() throws {
        let (request, plan) = Self.decide(
            [Fx.order(7, status: .partiallyFilled, executed: "0.004")],
            evidence: OriginEvidence(records: [Self.record(.trades, 31, order: "7", link: 11)])
        )
        let asked = try #require(request)
        #expect(asked.orderIDs == ["7"] && asked.account == Fx.account && asked.market == .futures)
        let f = try #require(plan.findings.first)
        #expect(f.kind == .adopted && f.link == StrategyLinkID(11) && f.evidence == "recorded:trades#31")
        guard case .adopt(let a) = f.actions.first else {
            Issue.record("no adoption: \(f.actions)")
            return
        }
        #expect(a.link == StrategyLinkID(11))
        #expect(a.order.executedQuantity == Amount("0.004"))  // the fill is the exchange's, not the record's
        #expect(plan.evidenceRequest == nil)
    }

    @Test func everyRecordTableIsEvidenceAndTheStrongestIsNamed() throws {
        let records = [Self.record(.failedOrders, 2, order: "7", link: 10), Self.record(.tradeExecutions, 9, order: "7", link: 10)]
        let plan = Self.decide([Fx.order(7)], evidence: OriginEvidence(records: records)).plan
        #expect(plan.findings.first?.evidence == "recorded:trade_executions#9")
        let only = Self.decide(
            [Fx.order(7)],
            evidence: OriginEvidence(records: [Self.record(.orderFillEvents, 4, order: "7", link: 10, market: nil)])
        ).plan
        #expect(only.findings.first?.evidence == "recorded:order_fill_events#4")
    }

    @Test func aRecordNamingAnotherAccountsLinkMakesTheOrderForeign() throws {
        let plan = Self.decide(
            [Fx.order(7)],
            evidence: OriginEvidence(records: [Self.record(.trades, 31, order: "7", link: 20)]),
            claims: [OperatorClaim(account: Fx.account, symbol: "BTCUSDT", link: StrategyLinkID(10))]
        ).plan
        let f = try #require(plan.findings.first)
        // The claim is weaker evidence: it does not override the record's conflict.
        #expect(f.kind == .foreignOrphan && f.link == nil)
        #expect(f.detail.contains("not on account 1"))
        #expect(f.actions == [.registerOrphan(Fx.order(7))])
    }

    @Test func recordsNamingTwoLinksAdoptNothingAndNameBoth() throws {
        let records = [Self.record(.trades, 1, order: "7", link: 10), Self.record(.failedOrders, 5, order: "7", link: 11)]
        let f = try #require(Self.decide([Fx.order(7)], evidence: OriginEvidence(records: records)).plan.findings.first)
        #expect(f.kind == .foreignOrphan)
        #expect(f.detail.contains("trades #1 → link 10") && f.detail.contains("failed_orders #5 → link 11"))
    }

    @Test func aRecordOfAnotherSymbolOrMarketIsAboutAnotherOrder() throws {
        // Binance ids repeat across symbols and between spot and futures.
        let records = [
            Self.record(.trades, 1, order: "7", link: 20, symbol: "ETH/USDT"), Self.record(.trades, 2, order: "7", link: 12, market: "spot"),
        ]
        let f = try #require(Self.decide([Fx.order(7)], evidence: OriginEvidence(records: records)).plan.findings.first)
        #expect(f.kind == .foreignOrphan && f.detail == "no owner evidence; registered")
    }

    @Test func aRecordNamingALinkOfTheOtherMarketIsAConflict() throws {
        let f = try #require(
            Self.decide([Fx.order(7)], evidence: OriginEvidence(records: [Self.record(.trades, 1, order: "7", link: 12, market: nil)])).plan.findings
                .first
        )
        #expect(f.kind == .foreignOrphan && f.detail.contains("a SPOT strategy"))
    }

    @Test func anAlgoOrderIsFoundUnderItsPlainAlgoId() throws {
        let (request, plan) = Self.decide(
            [Fx.order(88, algo: true, type: .stopMarket)],
            evidence: OriginEvidence(records: [Self.record(.trades, 3, order: "88", link: 10)])
        )
        #expect(request?.orderIDs == ["88", "algo:88"])
        #expect(plan.findings.first?.kind == .adopted && plan.findings.first?.evidence == "recorded:trades#3")
    }

    @Test func ordersyncsTagIsNeverOverriddenAndNeedsNoLookup() throws {
        let tagged = Fx.order(7, client: try ClientOrderTagCodec.default.encode(link: StrategyLinkID(10), nonce: "n1"))
        let (request, plan) = Self.decide([tagged], evidence: OriginEvidence(records: [Self.record(.trades, 1, order: "7", link: 11)]))
        #expect(request == nil)
        #expect(plan.findings.first?.link == StrategyLinkID(10) && plan.findings.first?.evidence == "tag")
    }

    @Test func aUniquePlaceholderIsRepairedInPlace() throws {
        let row = Self.placeholder(41)
        let (request, plan) = Self.decide([Fx.order(7, status: .partiallyFilled, executed: "0.002")], evidence: OriginEvidence(placeholders: [row]))
        let window = try #require(request?.placeholdersCreated)
        #expect(window.contains(row.createdAt))
        let f = try #require(plan.findings.first)
        #expect(f.kind == .adopted && f.row == OpenOrderRowID(41) && f.link == StrategyLinkID(10) && f.evidence == "placeholder:41")
        guard case .repairPlaceholder(let r) = f.actions.first else {
            Issue.record("no repair: \(f.actions)")
            return
        }
        #expect(r.placeholderID == row.exchangeOrderID && r.readStatus == "FAILED" && r.status == .partiallyFilled)
        #expect(r.order.id == .regular(7) && r.order.executedQuantity == Amount("0.002"))
        #expect(!plan.actions.contains { if case .adopt = $0 { true } else { false } })
    }

    @Test func anOldPendingPlaceholderIsRepairedAndNoLongerReportedInFlight() throws {
        // The origin gives up on PENDING after 120 s; this one is 602 s old and is also a snapshot row.
        let row = Self.placeholder(41, status: "PENDING")
        let plan = Self.decide([Fx.order(7)], rows: [row], evidence: OriginEvidence(placeholders: [row])).plan
        #expect(plan.findings.map(\.kind) == [.adopted])
        #expect(plan.findings[0].evidence == "placeholder:41")
    }

    @Test func aPlaceholderTheOriginMayStillCompleteIsWaitedFor() throws {
        // PENDING 60 s old, order placed 58 s ago: the origin may still write the id.
        let row = Self.placeholder(41, status: "PENDING", age: 60_000)
        let order = Fx.order(7, age: 58_000)
        let plan = Self.decide([order], rows: [row], evidence: OriginEvidence(placeholders: [row])).plan
        #expect(plan.changes.isEmpty)
        #expect(plan.findings.contains { $0.kind == .inFlight && $0.exchangeOrderID == order.id && $0.detail.contains("#41") })
    }

    @Test func twinOrdersAndOnePlaceholderAdoptNothingAndReportBoth() throws {
        let plan = Self.decide([Fx.order(7), Fx.order(8)], evidence: OriginEvidence(placeholders: [Self.placeholder(41)])).plan
        #expect(plan.findings.map(\.kind) == [.foreignOrphan, .foreignOrphan])
        for f in plan.findings {
            #expect(f.detail.contains("#41") && f.detail.contains("7, 8") && f.detail.contains("nothing adopted"))
        }
    }

    @Test func twoPlaceholdersForOneOrderAdoptNothing() throws {
        let plan = Self.decide([Fx.order(7)], evidence: OriginEvidence(placeholders: [Self.placeholder(41), Self.placeholder(42, link: 11)])).plan
        #expect(plan.findings.map(\.kind) == [.foreignOrphan])
        #expect(plan.findings[0].detail.contains("#41, #42"))
    }

    @Test func theFingerprintIsExact() throws {
        let cases: [(String, OpenOrderRow)] = [
            ("quantity", Self.placeholder(41, qty: "0.011")),
            ("price", Self.placeholder(41, price: "60000.5")),
            ("created too early", Self.placeholder(41, before: 60_001)),
            ("created after the order by more than 10 s", Self.placeholder(41, before: -10_001)),
            ("another account's link", Self.placeholder(41, link: 20)),
            ("the spot link", Self.placeholder(41, link: 12, market: .spot)),
            ("a status that is not a placeholder's", Self.placeholder(41, status: "CANCELLED")),
        ]
        for (what, row) in cases {
            let plan = Self.decide([Fx.order(7)], evidence: OriginEvidence(placeholders: [row])).plan
            #expect(plan.findings.map(\.kind) == [.foreignOrphan] && plan.findings[0].detail == "no owner evidence; registered", "\(what)")
        }
        // The edges of the window are inside it.
        for before in [Millis(60_000), -10_000] {
            #expect(
                Self.decide([Fx.order(7)], evidence: OriginEvidence(placeholders: [Self.placeholder(41, before: before)])).plan.findings[0].kind
                    == .adopted
            )
        }
        // A MARKET order has no price to compare.
        let market = Fx.order(7, price: "0", type: .market)
        let row = Fx.row(41, order: "PENDING-x", symbol: "BTC/USDT", price: "61000", status: "FAILED", age: 602_000, type: .market)
        #expect(Self.decide([market], evidence: OriginEvidence(placeholders: [row])).plan.findings[0].kind == .adopted)
    }

    @Test func aRecordOutranksAPlaceholder() throws {
        let evidence = OriginEvidence(records: [Self.record(.trades, 1, order: "7", link: 11)], placeholders: [Self.placeholder(41)])
        let f = try #require(Self.decide([Fx.order(7)], evidence: evidence).plan.findings.first)
        #expect(f.evidence == "recorded:trades#1" && f.link == StrategyLinkID(11))
    }

    @Test func youngOrdersAndPlansWithEvidenceAskForNothing() {
        #expect(Fx.decide(Fx.input([Fx.order(7, age: 1_000)], [])).evidenceRequest == nil)
        #expect(Fx.decide(Fx.input([Fx.order(7)], [Fx.row(1, order: "7")])).evidenceRequest == nil)
    }
}
