import BinanceAPI
import Foundation
import SyncCore
import SyncTestSupport
import Testing

/// Properties over seeded random worlds (strategies sharing accounts, public strategies with
/// subscribers, several symbols, both markets, manual orders, partial fills, in-flight orders).
/// The seed is printed; rerun one with `ORDERSYNC_SEED=<seed> swift test --filter PropertyTests`.
@Suite struct PropertyTests {
    static let count = 10_000
    static let seed = SeededGenerator.seed(fallback: 20_261_125, environment: ProcessInfo.processInfo.environment)

    func policy(confirmations: Int, world: World) -> ReconcilePolicy {
        ReconcilePolicy(
            grace: World.grace,
            confirmations: confirmations,
            maxQueriesPerPass: 1_000,
            attributor: Attributor(claims: try! ClaimSet(world.claims))
        )
    }

    @Test func reconciliationProperties() throws {
        print("PropertyTests.reconciliationProperties: seed \(Self.seed), \(Self.count) scenarios")
        var rng = SeededGenerator(seed: Self.seed)
        var checked = (scenarios: 0, closed: 0, adopted: 0, drifted: 0, foreign: 0)
        for n in 0..<Self.count {
            let world = World.random(using: &rng)
            let confirmations = Int.random(in: 1...3, using: &rng)
            let policy = policy(confirmations: confirmations, world: world)
            var model = ModelStore(rows: world.rows)
            let context = "scenario \(n) (seed \(Self.seed), confirmations \(confirmations))"

            // (e) A failed or partial listing never changes anything.
            for coverage in [ListingCoverage.failed(reason: "x"), .partial(reason: "y")] {
                for key in world.keys {
                    var listing = world.listing(key)
                    listing.coverage = coverage
                    let plan = Reconciler.decide(model.input(world, key, listing: listing), policy: policy)
                    #expect(plan.actions.isEmpty && plan.queries.isEmpty, "\(context)")
                }
            }

            // Run passes until the exchange state is absorbed: at most `confirmations` passes.
            var plans: [ReconcilePlan] = []
            for _ in 0..<confirmations {
                for key in world.keys { plans.append(model.pass(world, key, policy: policy)) }
            }
            // (b) Deciding again on the same exchange state changes nothing.
            for key in world.keys {
                let again = Reconciler.decide(model.input(world, key), policy: policy)
                #expect(again.changes.isEmpty && again.queries.isEmpty, "\(context): \(again.changes)")
                if !(again.changes.isEmpty && again.queries.isEmpty) { return }
            }
            for plan in plans {
                for action in plan.actions {
                    switch action {
                    // (c) The plan has no way to cancel; every action is a DB write. (Exhaustive:
                    // adding a case to PlanAction fails to compile here until it is classified.)
                    case .updateRow, .closeRow, .adopt, .repairPlaceholder, .recordMiss, .clearMisses, .registerOrphan, .refreshOrphan, .forgetOrphan:
                        break
                    }
                    if case .adopt(let adoption) = action {
                        let link = adoption.link
                        let order = adoption.order
                        // (d) Foreign orders are never adopted; attributable ones only into their link.
                        #expect(!world.foreign.contains(order.id), "\(context): adopted foreign \(order.id)")
                        #expect(world.attributable[order.id] == link, "\(context): \(order.id) adopted into \(link)")
                        checked.adopted += 1
                    }
                    if case .closeRow(let row, let status, let filled) = action {
                        // A row is closed only with the exchange's own final status and fill.
                        let truth = try #require(world.order(row.exchangeOrderID), "\(context)")
                        #expect(!truth.status.isOpen && truth.status == status && truth.executedQuantity == filled, "\(context)")
                        checked.closed += 1
                    }
                    if case .updateRow = action { checked.drifted += 1 }
                }
            }
            // Every open attributable order that is past grace now has a row in its link, and
            // every foreign one is registered, and the DB matches the exchange for owned orders.
            for key in world.keys {
                for order in world.listing(key).orders where world.now - order.time >= World.grace {
                    if let link = world.attributable[order.id] {
                        #expect(model.rows[order.id]?.link == link, "\(context): \(order.id) not adopted")
                    } else if world.foreign.contains(order.id) {
                        #expect(model.orphans[key]?[order.id] != nil, "\(context): \(order.id) not registered")
                        checked.foreign += 1
                    }
                    if let row = model.rows[order.id], let state = order.status.openState {
                        #expect(Reconciler.differences(row, order, state).isEmpty, "\(context): \(order.id) differs")
                    }
                }
            }
            checked.scenarios += 1
        }
        print(
            "PropertyTests.reconciliationProperties: \(checked.scenarios) scenarios passed; \(checked.closed) rows closed, \(checked.adopted) adopted, \(checked.drifted) updated, \(checked.foreign) foreign orphans kept"
        )
        #expect(checked.scenarios == Self.count)
        // The generator must exercise every path, or the properties prove little.
        #expect(checked.closed > 1000 && checked.adopted > 1000 && checked.drifted > 1000 && checked.foreign > 1000)
    }

    @Test func rowsTheExchangeNeverHadAreNeverClosed() {
        print("PropertyTests.rowsTheExchangeNeverHadAreNeverClosed: seed \(Self.seed), 2000 scenarios")
        var rng = SeededGenerator(seed: Self.seed &+ 1)
        for n in 0..<2_000 {
            let world = World.random(using: &rng, rowsForUnknownOrders: true)
            var model = ModelStore(rows: world.rows)
            let policy = policy(confirmations: 1, world: world)
            for _ in 0..<3 {
                for key in world.keys {
                    let plan = model.pass(world, key, policy: policy)
                    for case .closeRow(let row, _, _) in plan.actions {
                        #expect(world.order(row.exchangeOrderID) != nil, "scenario \(n): closed \(row.exchangeOrderID) without the exchange's word")
                    }
                }
            }
            for row in world.rows where world.order(row.exchangeOrderID) == nil {
                #expect(model.rows[row.exchangeOrderID] != nil, "scenario \(n): row \(row.id) lost")
            }
        }
    }

    @Test func cancelSelectionNeverLeavesItsScope() {
        print("PropertyTests.cancelSelectionNeverLeavesItsScope: seed \(Self.seed), \(Self.count) scenarios")
        var rng = SeededGenerator(seed: Self.seed &+ 2)
        var selected = 0
        for n in 0..<Self.count {
            let world = World.random(using: &rng)
            let scopeLinks = Set(world.links.filter { _ in Bool.random(using: &rng) }.map(\.id))
            let scope = CancelScope(
                links: scopeLinks,
                symbol: Bool.random(using: &rng) ? World.symbols.randomElement(using: &rng) : nil,
                side: Bool.random(using: &rng) ? (Bool.random(using: &rng) ? .buy : .sell) : nil,
                market: Bool.random(using: &rng) ? (Bool.random(using: &rng) ? .spot : .futures) : nil
            )
            let accountOf = Dictionary(uniqueKeysWithValues: world.links.map { ($0.id, $0.account) })
            // Binance's limits as production plans with them in half the worlds; other venues' shapes
            // (batches across symbols, of conditional orders, of other sizes) in the rest.
            let venue =
                n % 2 == 0
                ? nil
                : CancelLimits(
                    batchSize: Int.random(in: 1...30, using: &rng),
                    batchPerSymbol: Bool.random(using: &rng),
                    batchesConditional: Bool.random(using: &rng)
                )
            let limits = { (_: AccountID, market: Market) in venue ?? AccountClient.cancelLimits(market, spotParallelism: 5) }
            let plans = CancelSelection.plan(world.rows, scope: scope, accountOf: accountOf, now: world.now, limits: limits)
            let chosen = plans.flatMap(\.rows)
            for row in chosen {
                // (a) Every selected row is in scope and on the account its request goes to.
                #expect(scopeLinks.contains(row.link), "scenario \(n): row \(row.id) of link \(row.link) outside scope")
                #expect(scope.symbol == nil || SymbolKey.of(row.symbol) == SymbolKey.of(scope.symbol!))
                #expect(scope.side == nil || row.side == scope.side)
                #expect(scope.market == nil || row.market == scope.market)
            }
            for plan in plans {
                let limit = limits(plan.account, plan.market)
                #expect(plan.limits == limit)
                for request in plan.requests {
                    for row in request.rows { #expect(accountOf[row.link] == plan.account && row.market == plan.market) }
                    // (b) Batches keep the venue's limits: size, one symbol when required, conditional orders only when allowed.
                    if case .batch(let symbol, let rows) = request {
                        #expect(limit.batchSize > 1 && rows.count > 1 && rows.count <= limit.batchSize)
                        #expect(!limit.batchPerSymbol || rows.allSatisfy { SymbolKey.of($0.symbol) == symbol })
                        #expect(limit.batchesConditional || rows.allSatisfy { !$0.exchangeOrderID.isAlgo })
                    }
                }
                // Binance: futures regular orders batched by ten per symbol, nothing else batched.
                if venue == nil {
                    let batched = plan.requests.filter { if case .batch = $0 { true } else { false } }.flatMap(\.rows)
                    #expect(plan.market == .futures || batched.isEmpty)
                    if plan.market == .futures {
                        let regular = Dictionary(grouping: plan.rows.filter { !$0.exchangeOrderID.isAlgo }, by: { SymbolKey.of($0.symbol) })
                        #expect(
                            plan.requests.count == regular.values.reduce(0) { $0 + ($1.count + 9) / 10 }
                                + plan.rows.filter(\.exchangeOrderID.isAlgo).count
                        )
                    }
                }
            }
            // ... and nothing in scope is left out, nothing twice.
            let expected = world.rows.filter(scope.contains).map(\.id).sorted()
            #expect(chosen.map(\.id).sorted() == expected, "scenario \(n)")
            selected += chosen.count
        }
        print("PropertyTests.cancelSelectionNeverLeavesItsScope: \(selected) rows selected in scope, 0 outside")
        #expect(selected > 10_000)
    }
}
