import Foundation
import OrderStore
import Scenarios
import SyncCore
import Synchronization
import Testing

@testable import SyncRuntime

/// The runner's choice of listing: a full sweep on an account-market's first pass and every
/// `sweepEvery` passes, per-symbol listings of the rows', orphans' and claims' symbols in between
/// when they cost less weight, and nothing counted when a listing fails.
@Suite struct RequestEconomyTests {
    static let now: Millis = 1_800_000_000_000

    /// Records every listing asked for; answers from a fixed set of open orders.
    final class Gateway: ExchangeGateway {
        struct Call: Hashable {
            var account: Int64
            var market: Market
            var symbols: [String]?
        }
        let calls = Mutex<[Call]>([])
        let failing = Mutex<Set<Int64>>([])
        /// Markets the venue does not have (a spot-only exchange).
        let absent = Mutex<Set<Market>>([])
        let orders: [Int64: [ExchangeOrder]]
        let symbolWeight: Int

        init(orders: [Int64: [ExchangeOrder]], symbolWeight: Int = 2) {
            self.orders = orders
            self.symbolWeight = symbolWeight
        }

        func supports(_ account: AccountRecord) -> Bool { true }
        func offers(_ market: Market, for account: AccountRecord) -> Bool { !absent.withLock { $0.contains(market) } }
        func listing(_ account: AccountRecord, market: Market, symbols: Set<String>?) async -> ExchangeListing {
            calls.withLock { $0.append(Call(account: account.id.rawValue, market: market, symbols: symbols?.sorted())) }
            if failing.withLock({ $0.contains(account.id.rawValue) }) { return .failed("HTTP 503") }
            let mine = (orders[account.id.rawValue] ?? []).filter { symbols?.contains($0.symbol) ?? true }
            return ExchangeListing(coverage: .complete, scope: symbols.map { .symbols($0) } ?? .allSymbols, orders: mine)
        }
        func listingWeight(_ account: AccountRecord, market: Market, symbols: Int?) -> Int { symbols.map { $0 * symbolWeight } ?? 80 }
        /// What a query by id answers (not found unless set), and the ids queried.
        let answers = Mutex<[ExchangeOrderID: TargetedQueryResult]>([:])
        let queried = Mutex<[ExchangeOrderID]>([])
        func query(_ account: AccountRecord, market: Market, symbol: String, id: ExchangeOrderID) async -> TargetedQueryResult {
            queried.withLock { $0.append(id) }
            return answers.withLock { $0[id] } ?? .notFound
        }

        func take() -> [Call] {
            calls.withLock { c in
                defer { c = [] }
                return c
            }
        }
    }

    static let scenario = """
        {"name": "economy",
         "users": [{"id": 1, "username": "u"}],
         "accounts": [{"id": 1, "user_id": 1, "name": "a1", "api_key": "k1", "api_secret": "s1"},
                      {"id": 2, "user_id": 1, "name": "a2", "api_key": "k2", "api_secret": "s2"}],
         "strategies": [{"id": 1, "user_id": 1, "name": "F", "group_name": "f", "market_type": "FUTURES"}],
         "strategy_accounts": [{"id": 1, "strategy_id": 1, "account_id": 1}, {"id": 2, "strategy_id": 1, "account_id": 2}],
         "db_orders": [
           {"strategy_account_id": 1, "exchange_order_id": "1", "symbol": "BTCUSDT", "side": "BUY", "price": "60000", "quantity": "0.01"},
           {"strategy_account_id": 1, "exchange_order_id": "2", "symbol": "ETHUSDT", "side": "BUY", "price": "3000", "quantity": "0.1"}]}
        """

    /// An open order as the scenario's row for it says (BTCUSDT 0.01 @ 60000, otherwise 0.1 @ 3000).
    static func order(_ id: Int64, _ symbol: String, client: String? = nil) -> ExchangeOrder {
        let (price, quantity) = symbol == "BTCUSDT" ? ("60000", "0.01") : ("3000", "0.1")
        return ExchangeOrder(
            id: .regular(id),
            clientOrderID: client,
            symbol: symbol,
            side: .buy,
            type: OrderType("LIMIT"),
            status: .new,
            price: Amount(price)!,
            quantity: Amount(quantity)!,
            executedQuantity: .zero,
            time: now - 3_600_000
        )
    }

    static func runner(_ gateway: Gateway, sweepEvery: Int = 4, claims: [OperatorClaim] = []) async throws -> ReconcileRunner {
        let db = try await OrderDatabase.inMemory()
        _ = try await db.migrate()
        try await db.load(try Scenario.parse(Data(scenario.utf8), file: "economy.json"), now: now - 3_600_000)
        let policy = ReconcilePolicy(attributor: Attributor(claims: try ClaimSet(claims)))
        return ReconcileRunner(store: db, gateway: gateway, policy: policy, sweepEvery: sweepEvery, now: { now })
    }

    @Test func sweepsFirstThenListsOnlyTheSymbolsOfInterestUntilTheNextSweep() async throws {
        // Account 1: rows on BTCUSDT and ETHUSDT, a manual order on SOLUSDT; account 2: nothing.
        let gateway = Gateway(orders: [1: [Self.order(1, "BTCUSDT"), Self.order(2, "ETHUSDT"), Self.order(3, "SOLUSDT", client: "manual")]])
        let runner = try await Self.runner(
            gateway,
            claims: [OperatorClaim(account: AccountID(1), symbol: "XRPUSDT", side: nil, link: StrategyLinkID(1))]
        )

        let first = try await runner.pass(trigger: "test")
        #expect(first.runID == 1)
        #expect(Set(gateway.take()) == [.init(account: 1, market: .futures, symbols: nil), .init(account: 2, market: .futures, symbols: nil)])
        #expect(first.totals[.foreignOrphan] == 1 && first.totals[.matched] == 2)

        // Runs 2–9: account 1 sweeps on its turns ((run + 1) mod 4 = 0: runs 3 and 7), otherwise
        // lists the rows' symbols, the registered orphan's (SOLUSDT) and the claimed one (XRPUSDT);
        // account 2 sweeps on runs 6 (and 2: (2 + 2) mod 4 = 0) and has nothing to ask otherwise.
        var sweeps: [Int64: [Int64]] = [:]
        for run in 2...9 {
            let report = try await runner.pass(trigger: "test")
            #expect(report.runID == Int64(run))
            for call in gateway.take() {
                if call.symbols == nil {
                    sweeps[call.account, default: []].append(Int64(run))
                } else {
                    #expect(call.account == 1 && call.symbols == ["BTCUSDT", "ETHUSDT", "SOLUSDT", "XRPUSDT"], "run \(run)")
                }
            }
            #expect(report.totals[.foreignOrphan] == 1 && report.totals[.matched] == 2 && report.totals[.orphanGone] == 0, "run \(run)")
        }
        #expect(sweeps == [1: [3, 7], 2: [2, 6]])
    }

    /// An account whose passes are rarer than the runs (its streams healthy: every fifth run here)
    /// sweeps on its own turns — once every sweepEvery of its passes, phased by account — not on
    /// every pass because sweepEvery runs went by since its last sweep; an account in every run
    /// sweeps as the runs count.
    @Test func anAccountPassedEveryFifthRunSweepsEverySweepEveryOfItsOwnPasses() async throws {
        let gateway = Gateway(orders: [1: [Self.order(1, "BTCUSDT"), Self.order(2, "ETHUSDT")]])
        var runner = try await Self.runner(gateway)
        let run = Mutex<Int64>(0)
        runner.isDue = { account in account != AccountID(1) || run.withLock { $0 } % 5 == 1 }
        var passes: [Int64: [Bool]] = [:]  // per account, whether each of its passes swept
        for n in 1...81 {
            run.withLock { $0 = Int64(n) }
            _ = try await runner.pass(trigger: "schedule")
            for call in gateway.take() { passes[call.account, default: []].append(call.symbols == nil) }
        }
        let rare = try #require(passes[1])
        #expect(rare.count == 17, "account 1 passed on runs 1, 6, …, 81")
        // Its first pass sweeps (never swept), the next on its first turn (within four of its
        // passes), then every fourth of its own passes: [0, 2, 6, 10, 14] (counted in runs, all 17).
        let swept = rare.indices.filter { rare[$0] }
        #expect(
            swept.first == 0 && swept[1] <= 4 && zip(swept.dropFirst(), swept.dropFirst(2)).allSatisfy { $1 - $0 == 4 },
            "swept on passes \(swept)"
        )
        #expect(swept.count == 5, "swept on passes \(swept)")
        // Account 2 has no symbols of interest: it is listed only when it sweeps, every fourth run.
        #expect(passes[2]?.count == 81 / 4 + 1 && passes[2]?.allSatisfy { $0 } == true)
    }

    /// A market the account's exchange does not have (a futures strategy on a spot-only venue): no
    /// listing is asked for, the section says `unsupported` for that market, and its rows are kept.
    @Test func aMarketTheVenueDoesNotHaveIsUnsupportedAndItsRowsAreLeftAlone() async throws {
        let gateway = Gateway(orders: [:])
        gateway.absent.withLock { $0 = [.futures] }
        let runner = try await Self.runner(gateway)
        for _ in 1...4 {
            let report = try await runner.pass(trigger: "test")
            #expect(report.sections.map(\.coverage) == ["unsupported", "unsupported"] && report.sections.allSatisfy { $0.market == .futures })
            #expect(report.totals[.staleSuspected] == 0 && report.totals[.closed] == 0 && report.totals[.unresolved] == 0)
        }
        #expect(gateway.take().isEmpty, "nothing listed")
        let rows = try await runner.store.accountSnapshot(AccountID(1)).rows
        #expect(rows.count == 2)
    }

    /// A sweep is remembered only where a per-symbol listing could have replaced it: when the full
    /// listing is the cheaper one anyway (every pass of an Upbit account), no pass reads the record,
    /// so none is written; an account-market that could list per symbol has its sweep recorded.
    @Test func aSweepChosenByCostIsNotRecorded() async throws {
        // Account 1's two symbols cost 2,000 per symbol list against 80 for the full one.
        let gateway = Gateway(orders: [1: [Self.order(1, "BTCUSDT"), Self.order(2, "ETHUSDT")]], symbolWeight: 1000)
        let runner = try await Self.runner(gateway)
        for run in 1...3 {
            let report = try await runner.pass(trigger: "test")
            #expect(report.totals[.matched] == 2, "run \(run)")
            let calls = gateway.take()
            #expect(calls.contains(.init(account: 1, market: .futures, symbols: nil)), "run \(run): account 1 lists in full")
        }
        #expect(try await runner.store.accountSnapshot(AccountID(1)).lastSweepRun.isEmpty)
        // Account 2 has nothing to ask per symbol (cheaper than a sweep): its sweeps are recorded.
        #expect(try await runner.store.accountSnapshot(AccountID(2)).lastSweepRun[.futures] != nil)
    }

    @Test func aFailedListingDoesNotCountAndExpensiveSymbolListsSweep() async throws {
        let gateway = Gateway(orders: [1: [Self.order(1, "BTCUSDT"), Self.order(2, "ETHUSDT")]])
        let runner = try await Self.runner(gateway, sweepEvery: 2)
        gateway.failing.withLock { $0 = [1] }
        _ = try await runner.pass(trigger: "test")
        _ = try await runner.pass(trigger: "test")
        // Account 1 never had a complete sweep: it keeps sweeping.
        #expect(gateway.take().filter { $0.account == 1 }.map(\.symbols) == [nil, nil])
        gateway.failing.withLock { $0 = [] }
        _ = try await runner.pass(trigger: "test")
        _ = try await runner.pass(trigger: "test")
        // Run 3 is its first complete sweep; run 4 lists symbols ((4 + 1) mod 2 ≠ 0); run 5 is its turn.
        _ = try await runner.pass(trigger: "test")
        #expect(gateway.take().filter { $0.account == 1 }.map(\.symbols) == [nil, ["BTCUSDT", "ETHUSDT"], nil])

        // When two symbols cost more than a sweep, it sweeps every pass.
        let costly = Gateway(orders: [1: [Self.order(1, "BTCUSDT"), Self.order(2, "ETHUSDT")]], symbolWeight: 50)
        let runner2 = try await Self.runner(costly, sweepEvery: 10)
        for _ in 1...3 { _ = try await runner2.pass(trigger: "test") }
        #expect(costly.take().filter { $0.account == 1 }.map(\.symbols) == [nil, nil, nil])
    }

    @Test func staggeredStartsAreEvenJitteredAndWithinTheSpread() {
        let spread = Duration.seconds(10)
        let offsets = ReconcileRunner.offsets(count: 1000, spread: spread, seed: 42)
        #expect(offsets.count == 1000)
        for (i, offset) in offsets.enumerated() {
            #expect(offset >= spread * (Double(i) / 1000) && offset < spread * (Double(i + 1) / 1000), "account \(i) in its own slot")
        }
        #expect(Set(offsets).count == 1000, "jittered, not on a grid")
        #expect(offsets == ReconcileRunner.offsets(count: 1000, spread: spread, seed: 42), "seeded")
        #expect(offsets != ReconcileRunner.offsets(count: 1000, spread: spread, seed: 43))
        #expect(ReconcileRunner.offsets(count: 5, spread: nil, seed: 1) == Array(repeating: .zero, count: 5))
    }
}
