import SyncCore
import Testing

/// Small builders for one account (1) with two futures links (10, 11), one spot link (12), and a
/// futures link (20) on another account (2).
enum Fx {
    static let now: Millis = 1_800_000_000_000
    static let account = AccountID(1)
    static let links = [
        StrategyLink(id: StrategyLinkID(10), strategy: StrategyID(1), account: account, market: .futures, isActive: true),
        StrategyLink(id: StrategyLinkID(11), strategy: StrategyID(2), account: account, market: .futures, isActive: true),
        StrategyLink(id: StrategyLinkID(12), strategy: StrategyID(3), account: account, market: .spot, isActive: true),
        StrategyLink(id: StrategyLinkID(20), strategy: StrategyID(1), account: AccountID(2), market: .futures, isActive: true),
    ]

    static func order(
        _ id: Int64,
        client: String? = nil,
        symbol: String = "BTCUSDT",
        status: ExchangeOrderStatus = .new,
        qty: String = "0.010",
        executed: String = "0",
        price: String = "60000",
        age: Millis = 600_000,
        algo: Bool = false,
        type: OrderType = .limit
    ) -> ExchangeOrder {
        ExchangeOrder(
            id: algo ? .algo(id) : .regular(id),
            clientOrderID: client,
            symbol: symbol,
            side: .buy,
            type: type,
            status: status,
            price: Amount(price)!,
            stopPrice: algo ? Amount("59000") : nil,
            quantity: Amount(qty)!,
            executedQuantity: Amount(executed)!,
            time: now - age,
            // As Binance's venue reads it: an algo order is also known by its plain algoId.
            aliases: algo ? [.regular(id)] : []
        )
    }

    static func row(
        _ id: Int64,
        order: String,
        link: Int64 = 10,
        symbol: String = "BTCUSDT",
        qty: String = "0.01",
        filled: String = "0",
        price: String? = "60000",
        status: String = "OPEN",
        age: Millis = 600_000,
        updatedAge: Millis? = nil,
        market: Market = .futures,
        type: OrderType = .limit,
        stop: String? = nil
    ) -> OpenOrderRow {
        OpenOrderRow(
            id: OpenOrderRowID(id),
            link: StrategyLinkID(link),
            exchangeOrderID: ExchangeOrderID(order),
            symbol: symbol,
            side: .buy,
            orderType: type,
            price: price.map { Amount($0)! },
            stopPrice: stop.map { Amount($0)! },
            quantity: Amount(qty)!,
            filledQuantity: Amount(filled)!,
            status: status,
            market: market,
            createdAt: now - age,
            updatedAt: now - (updatedAge ?? age)
        )
    }

    static func input(
        _ orders: [ExchangeOrder],
        _ rows: [OpenOrderRow],
        coverage: ListingCoverage = .complete,
        market: Market = .futures,
        orphans: [OrphanRecord] = [],
        misses: [ExchangeOrderID: Int] = [:],
        answers: [ExchangeOrderID: TargetedQueryResult] = [:],
        scope: ListingScope = .allSymbols
    ) -> ReconcileInput {
        ReconcileInput(
            account: account,
            market: market,
            listing: ExchangeListing(coverage: coverage, scope: scope, orders: orders),
            rows: rows,
            links: links,
            orphans: orphans,
            misses: misses,
            queryResults: answers,
            now: now
        )
    }

    static func decide(
        _ input: ReconcileInput,
        confirmations: Int = 3,
        cap: Int = 10,
        claims: [OperatorClaim] = [],
        conventions: [ForeignTagConvention] = []
    ) -> ReconcilePlan {
        Reconciler.decide(
            input,
            policy: ReconcilePolicy(
                grace: 10_000,
                confirmations: confirmations,
                maxQueriesPerPass: cap,
                attributor: Attributor(conventions: conventions, claims: try! ClaimSet(claims))
            )
        )
    }
}

@Suite struct ReconcileTests {
    @Test func matchedWhenBothSidesAgreeIncludingDecimalSpelling() {
        // "0.010" on the exchange, 0.01 in the DB: the same amount, no drift.
        let plan = Fx.decide(Fx.input([Fx.order(1, qty: "0.010")], [Fx.row(1, order: "1", qty: "0.01")]))
        #expect(plan.findings.map(\.kind) == [.matched])
        #expect(plan.changes.isEmpty)
        #expect(plan.queries.isEmpty)
    }

    @Test func partialFillDriftsAndUpdatesTheRow() throws {
        let plan = Fx.decide(Fx.input([Fx.order(1, status: .partiallyFilled, executed: "0.004")], [Fx.row(1, order: "1")]))
        let f = try #require(plan.findings.first)
        #expect(f.kind == .drifted)
        #expect(f.changes.map(\.field) == ["status", "filled_quantity"])
        guard case .updateRow(let id, let read, let update) = f.actions.first else {
            Issue.record("no update")
            return
        }
        #expect(id == OpenOrderRowID(1))
        #expect(read == Fx.now - 600_000)
        #expect(update.status == .partiallyFilled)
        #expect(update.filledQuantity == Amount("0.004"))
    }

    @Test func priceAndQuantityDriftAreDetectedButNullPriceEqualsZero() {
        let plan = Fx.decide(
            Fx.input(
                [Fx.order(1, qty: "0.02"), Fx.order(2, price: "0", type: .market)],
                [Fx.row(1, order: "1", qty: "0.01"), Fx.row(2, order: "2", price: nil, type: .market)]
            )
        )
        #expect(plan.findings.map(\.kind) == [.drifted, .matched])
        #expect(plan.findings[0].changes == [FieldChange(field: "quantity", from: "0.01", to: "0.02")])
    }

    @Test func driftOnARowJustUpdatedIsInFlight() {
        let plan = Fx.decide(Fx.input([Fx.order(1, status: .partiallyFilled, executed: "0.004")], [Fx.row(1, order: "1", updatedAge: 3_000)]))
        #expect(plan.findings.map(\.kind) == [.inFlight])
        #expect(plan.changes.isEmpty)
    }

    @Test func aMissedRowCountsMissesAndIsQueriedOnTheNthMiss() {
        let row = Fx.row(1, order: "1")
        for (prior, expectQuery) in [(0, false), (1, false), (2, true), (5, true)] {
            let plan = Fx.decide(Fx.input([], [row], misses: prior == 0 ? [:] : [ExchangeOrderID("1"): prior]))
            #expect(plan.findings.map(\.kind) == [.staleSuspected])
            #expect(plan.findings[0].actions == [.recordMiss(ExchangeOrderID("1"), consecutive: prior + 1)])
            #expect(plan.queries.map(\.id) == (expectQuery ? [ExchangeOrderID("1")] : []), "prior misses \(prior)")
            #expect(!plan.changes.contains { $0.changesOpenOrders })
        }
    }

    @Test(arguments: [
        ExchangeOrderStatus.filled, .canceled, .expired, .rejected, ExchangeOrderStatus(.expired, venueText: "EXPIRED_IN_MATCH"),
        ExchangeOrderStatus(.triggered),
    ])
    func aFinalStatusFromTheQueryClosesTheRow(status: ExchangeOrderStatus) throws {
        let row = Fx.row(1, order: "1")
        let answer = Fx.order(1, status: status, executed: status == .filled ? "0.010" : "0")
        let plan = Fx.decide(Fx.input([], [row], misses: [ExchangeOrderID("1"): 2], answers: [ExchangeOrderID("1"): .found(answer)]))
        let f = try #require(plan.findings.first)
        #expect(f.kind == .closed)
        #expect(f.actions == [.closeRow(row, finalStatus: status, filledQuantity: answer.executedQuantity)])
        #expect(plan.queries.isEmpty)
    }

    @Test func aQueryThatFindsNothingFinalNeverCloses() {
        let row = Fx.row(1, order: "1")
        for answer in [TargetedQueryResult.notFound, .failed(reason: "HTTP 503")] {
            let plan = Fx.decide(Fx.input([], [row], misses: [ExchangeOrderID("1"): 2], answers: [ExchangeOrderID("1"): answer]))
            #expect(plan.findings.map(\.kind) == [.unresolved])
            #expect(plan.findings[0].actions == [.recordMiss(ExchangeOrderID("1"), consecutive: 3)])
        }
        // Still open by query (the listing lagged): the row stays, the miss count is cleared.
        let open = Fx.decide(Fx.input([], [row], misses: [ExchangeOrderID("1"): 2], answers: [ExchangeOrderID("1"): .found(Fx.order(1))]))
        #expect(open.findings.map(\.kind) == [.matched])
        #expect(open.findings[0].actions == [.clearMisses(ExchangeOrderID("1"))])
    }

    @Test func queriesAreCappedPerPass() {
        let rows = (1...5).map { Fx.row($0, order: String($0)) }
        let misses = Dictionary(uniqueKeysWithValues: rows.map { ($0.exchangeOrderID, 2) })
        let plan = Fx.decide(Fx.input([], rows, misses: misses), cap: 2)
        #expect(plan.queries.map(\.id.rawValue) == ["1", "2"])
        #expect(plan.findings.filter { $0.detail.contains("deferred") }.count == 3)
    }

    @Test func graceBoundaries() {
        // A row exactly `grace` old that the listing misses is stale; one ms younger is in flight.
        #expect(Fx.decide(Fx.input([], [Fx.row(1, order: "1", age: 10_000)])).findings.map(\.kind) == [.staleSuspected])
        #expect(Fx.decide(Fx.input([], [Fx.row(1, order: "1", age: 9_999)])).findings.map(\.kind) == [.inFlight])
        // The same for an unowned order without a row.
        #expect(Fx.decide(Fx.input([Fx.order(5, age: 10_000)], [])).findings.map(\.kind) == [.foreignOrphan])
        #expect(Fx.decide(Fx.input([Fx.order(5, age: 9_999)], [])).findings.map(\.kind) == [.inFlight])
    }

    @Test(arguments: [ListingCoverage.partial(reason: "algo listing failed"), .failed(reason: "HTTP 503")])
    func anIncompleteListingChangesNothing(coverage: ListingCoverage) {
        let plan = Fx.decide(
            Fx.input(
                [
                    Fx.order(2, status: .partiallyFilled, executed: "0.001"),
                    Fx.order(3, client: try! ClientOrderTagCodec.default.encode(link: StrategyLinkID(10), nonce: "a")),
                ],
                [Fx.row(1, order: "1"), Fx.row(2, order: "2")],
                coverage: coverage,
                misses: [ExchangeOrderID("1"): 5]
            )
        )
        #expect(plan.findings.map(\.kind) == [.unknown])
        #expect(plan.actions.isEmpty)
        #expect(plan.queries.isEmpty)
    }

    @Test func algoOrdersMatchTheirRowsAndAreNotStale() {
        // Stored with ordersync's prefix, or under the plain algoId by the origin app.
        let plan = Fx.decide(
            Fx.input(
                [Fx.order(77, price: "0", algo: true, type: .stopMarket), Fx.order(78, price: "0", algo: true, type: .stopMarket)],
                [
                    Fx.row(1, order: "algo:77", price: nil, type: .stopMarket, stop: "59000"),
                    Fx.row(2, order: "78", price: nil, type: .stopMarket, stop: "59000"),
                ]
            )
        )
        #expect(plan.findings.map(\.kind) == [.matched, .matched])
        // A regular-order row with the same number is not matched to an algo order.
        let limit = Fx.decide(Fx.input([Fx.order(79, price: "0", algo: true, type: .stopMarket)], [Fx.row(3, order: "79")]))
        #expect(limit.findings.map(\.kind).sorted { $0.rawValue < $1.rawValue } == [.foreignOrphan, .staleSuspected])
    }

    @Test func taggedOrphanIsAdoptedIntoItsLink() throws {
        let tag = try ClientOrderTagCodec.default.encode(link: StrategyLinkID(11), nonce: "k3J9")
        let plan = Fx.decide(Fx.input([Fx.order(9, client: tag)], []))
        let f = try #require(plan.findings.first)
        #expect(f.kind == .adopted)
        #expect(f.link == StrategyLinkID(11))
        #expect(
            f.actions == [
                .adopt(
                    Adoption(
                        link: StrategyLinkID(11),
                        order: Fx.order(9, client: tag),
                        symbol: "BTC/USDT",
                        marketText: "FUTURES",
                        orderType: .limit,
                        evidence: .tag
                    )
                )
            ]
        )
    }

    @Test func evidenceThatContradictsTheAccountOrMarketIsNotAdoption() throws {
        // Link 20 is on account 2; link 12 trades spot.
        let elsewhere = try ClientOrderTagCodec.default.encode(link: StrategyLinkID(20), nonce: "a")
        let spot = try ClientOrderTagCodec.default.encode(link: StrategyLinkID(12), nonce: "b")
        let unknown = try ClientOrderTagCodec.default.encode(link: StrategyLinkID(999), nonce: "c")
        let plan = Fx.decide(
            Fx.input([Fx.order(1, client: elsewhere), Fx.order(2, client: spot), Fx.order(3, client: unknown)], []),
            claims: [OperatorClaim(account: Fx.account, symbol: "BTCUSDT", link: StrategyLinkID(10))]
        )
        #expect(plan.findings.map(\.kind) == [.foreignOrphan, .foreignOrphan, .foreignOrphan])
        #expect(plan.findings[0].detail.contains("not on account 1"))
        #expect(plan.findings[1].detail.contains("SPOT strategy"))
        #expect(!plan.actions.contains { if case .adopt = $0 { true } else { false } })
    }

    @Test func claimsAndForeignConventionsAdopt() throws {
        let convention = try ForeignTagConvention(name: "webserver", pattern: #"^web_(?<link>[0-9]+)_"#)
        let plan = Fx.decide(
            Fx.input(
                [Fx.order(1, client: "web_11_1700"), Fx.order(2, client: "manual", symbol: "ETHUSDT"), Fx.order(3, client: nil, symbol: "SOLUSDT")],
                []
            ),
            claims: [OperatorClaim(account: Fx.account, symbol: "ETHUSDT", link: StrategyLinkID(10))],
            conventions: [convention]
        )
        #expect(plan.findings.map(\.kind) == [.adopted, .adopted, .foreignOrphan])
        #expect(plan.findings.map(\.link) == [StrategyLinkID(11), StrategyLinkID(10), nil])
        #expect(plan.findings[0].detail.contains("webserver"))
        #expect(plan.findings[1].detail.contains("claim"))
    }

    @Test func foreignOrphansAreRegisteredRefreshedAndForgotten() throws {
        let manual = Fx.order(5, client: "manual")
        let first = Fx.decide(Fx.input([manual], []))
        #expect(first.findings.map(\.kind) == [.foreignOrphan])
        #expect(first.actions == [.registerOrphan(manual)])
        let record = OrphanRecord(
            account: Fx.account,
            market: .futures,
            order: manual,
            firstSeen: Fx.now - 60_000,
            lastSeen: Fx.now - 30_000,
            timesSeen: 2
        )
        let again = Fx.decide(Fx.input([manual], [], orphans: [record]))
        #expect(again.actions == [.refreshOrphan(manual)])
        #expect(again.changes.isEmpty)
        let gone = Fx.decide(Fx.input([], [], orphans: [record]))
        #expect(gone.findings.map(\.kind) == [.orphanGone])
        #expect(gone.actions == [.forgetOrphan(manual.id)])
        // A per-symbol listing that does not cover the orphan's symbol says nothing about it.
        #expect(Fx.decide(Fx.input([], [], orphans: [record], scope: .symbols(["ETHUSDT"]))).findings.isEmpty)
    }

    @Test func rowsOfTheOtherMarketAndUncoveredSymbolsAreLeftAlone() {
        let plan = Fx.decide(
            Fx.input(
                [],
                [Fx.row(1, order: "1", link: 12, market: .spot), Fx.row(2, order: "2", symbol: "ETHUSDT")],
                scope: .symbols(["BTCUSDT"])
            )
        )
        #expect(plan.findings.isEmpty)
        #expect(plan.rows == 1)
    }

    @Test func missCountsOfVanishedRowsAreCleared() {
        let plan = Fx.decide(Fx.input([Fx.order(1)], [Fx.row(1, order: "1")], misses: [ExchangeOrderID("404"): 2]))
        #expect(plan.housekeeping == [.clearMisses(ExchangeOrderID("404"))])
    }

    @Test func anOrderListedWithAFinalStatusClosesItsRow() {
        let plan = Fx.decide(Fx.input([Fx.order(1, status: .filled, executed: "0.01")], [Fx.row(1, order: "1")]))
        #expect(plan.findings.map(\.kind) == [.closed])
    }

    @Test func theSameInputGivesTheSamePlan() {
        let input = Fx.input(
            [Fx.order(3), Fx.order(1, status: .partiallyFilled, executed: "0.002"), Fx.order(2, client: "m")],
            [Fx.row(2, order: "9"), Fx.row(1, order: "1")],
            misses: [ExchangeOrderID("9"): 4]
        )
        #expect(Fx.decide(input) == Fx.decide(input))
    }
}
