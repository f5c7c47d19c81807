import Foundation
import OrderStore
import Scenarios
import SyncCore
import Synchronization
import Testing

@testable import SyncRuntime

/// `StrategyCanceller` against the real store (SQLite in memory) and a fake `CancelGateway`: it
/// sends exactly the requests the core plans under the venue's limits, holds each account's lock
/// from its first request until its own resolution is written, and writes the resolutions of
/// accounts answering together in fewer transactions than accounts (group commit).
@Suite struct CancellerTests {
    static let now: Millis = 1_800_000_000_000

    /// A value shared with escaping closures.
    final class Shared<T: Sendable>: Sendable {
        private let value: Mutex<T>
        init(_ initial: T) { value = Mutex(initial) }
        func with<R: Sendable>(_ body: (inout T) -> R) -> R { value.withLock { body(&$0) } }
    }

    /// Records every request; answers each order cancelled, after `hold` lets it go.
    final class Gateway: CancelGateway {
        let limits: [Market: CancelLimits]
        let sent = Mutex<[(account: Int64, market: Market, request: CancelRequest)]>([])
        /// Called while a request is "on the wire" (before its answer is returned).
        let during: @Sendable (AccountRecord, CancelRequest) async -> Void

        init(limits: [Market: CancelLimits], during: @escaping @Sendable (AccountRecord, CancelRequest) async -> Void = { _, _ in }) {
            self.limits = limits
            self.during = during
        }

        func supports(_ account: AccountRecord) -> Bool { account.exchange == "BINANCE" }
        func cancelLimits(_ account: AccountRecord, market: Market) -> CancelLimits { limits[market] ?? .singles }
        func send(_ request: CancelRequest, account: AccountRecord, market: Market) async -> [OrderCancelOutcome] {
            sent.withLock { $0.append((account.id.rawValue, market, request)) }
            await during(account, request)
            return request.rows.map { row in
                .cancelled(
                    ExchangeOrder(
                        id: row.exchangeOrderID,
                        clientOrderID: nil,
                        symbol: row.symbol,
                        side: row.side,
                        type: OrderType("LIMIT"),
                        status: .canceled,
                        price: row.price ?? .zero,
                        quantity: row.quantity,
                        executedQuantity: .zero,
                        time: now
                    )
                )
            }
        }
    }

    /// Counts the resolution transactions the canceller asks for.
    final class CountingStore: CancelStore {
        let db: OrderDatabase
        let resolutions = Mutex<[Int]>([])
        /// When set, the first resolution waits until the test opens it.
        let gate: Shared<CheckedContinuation<Void, Never>?>?
        let firstSeen = Shared(false)
        init(db: OrderDatabase, holdFirst: Bool = false) {
            self.db = db
            gate = holdFirst ? Shared(nil) : nil
        }
        func strategyAccess(groupName: String) async throws -> StrategyAccess? { try await db.strategyAccess(groupName: groupName) }
        func accounts() async throws -> [AccountRecord] { try await db.accounts() }
        func openOrders(links: Set<StrategyLinkID>) async throws -> [OpenOrderRow] { try await db.openOrders(links: links) }
        func recordCancelIntents(requestID: String, rows: [(row: OpenOrderRow, account: AccountID)], now: Millis) async throws {
            try await db.recordCancelIntents(requestID: requestID, rows: rows, now: now)
        }
        func resolveCancels(requestID: String, _ items: [CancelResolution], now: Millis) async throws {
            if let gate,
                !firstSeen.with({ seen in
                    defer { seen = true }
                    return seen
                })
            {
                await withCheckedContinuation { c in gate.with { $0 = c } }
            }
            resolutions.withLock { $0.append(Set(items.map(\.account)).count) }
            try await db.resolveCancels(requestID: requestID, items, now: now)
        }
        func unresolvedCancels() async throws -> [PendingCancel] { try await db.unresolvedCancels() }
        func settleCancelsWithoutRows(requestID: String, openOrderIDs: [OpenOrderRowID], now: Millis) async throws {
            try await db.settleCancelsWithoutRows(requestID: requestID, openOrderIDs: openOrderIDs, now: now)
        }
    }

    /// Strategy 1 ("f") on `accounts` futures accounts with `perAccount` BTCUSDT rows each (and
    /// two algo rows on account 1), a spot strategy ("s") with three rows on account 1, and a
    /// second futures strategy on account 1 that must not be touched.
    static func store(accounts: Int, perAccount: Int) async throws -> OrderDatabase {
        var accountItems: [String] = []
        var links: [String] = []
        var rows: [String] = []
        for a in 1...accounts {
            accountItems.append(#"{"id": \#(a), "user_id": 1, "name": "a\#(a)", "api_key": "k\#(a)", "api_secret": "s\#(a)"}"#)
            links.append(#"{"id": \#(a), "strategy_id": 1, "account_id": \#(a)}"#)
            for k in 0..<perAccount {
                rows.append(
                    #"{"strategy_account_id": \#(a), "exchange_order_id": "\#(a * 1000 + k)", "symbol": "BTC/USDT", "side": "BUY", "price": "\#(50000 + k)", "quantity": "0.01"}"#
                )
            }
        }
        links.append(#"{"id": 9001, "strategy_id": 2, "account_id": 1}"#)
        links.append(#"{"id": 9002, "strategy_id": 3, "account_id": 1}"#)
        rows.append(
            #"{"strategy_account_id": 1, "exchange_order_id": "algo:71", "symbol": "BTCUSDT", "side": "SELL", "order_type": "STOP_MARKET", "stop_price": "40000", "quantity": "0.01"}"#
        )
        rows.append(
            #"{"strategy_account_id": 1, "exchange_order_id": "algo:72", "symbol": "BTCUSDT", "side": "SELL", "order_type": "STOP_MARKET", "stop_price": "41000", "quantity": "0.01"}"#
        )
        rows.append(
            #"{"strategy_account_id": 9001, "exchange_order_id": "777", "symbol": "BTCUSDT", "side": "BUY", "price": "1000", "quantity": "0.01"}"#
        )
        for k in 0..<3 {
            rows.append(
                #"{"strategy_account_id": 9002, "exchange_order_id": "\#(880 + k)", "symbol": "ETHUSDT", "side": "BUY", "price": "\#(2000 + k)", "quantity": "0.1"}"#
            )
        }
        let text = """
            {"name": "canceller",
             "users": [{"id": 1, "username": "u", "webhook_token": "t"}],
             "accounts": [\(accountItems.joined(separator: ","))],
             "strategies": [{"id": 1, "user_id": 1, "name": "F", "group_name": "f", "market_type": "FUTURES"},
                            {"id": 2, "user_id": 1, "name": "Other", "group_name": "other", "market_type": "FUTURES"},
                            {"id": 3, "user_id": 1, "name": "S", "group_name": "s", "market_type": "SPOT"}],
             "strategy_accounts": [\(links.joined(separator: ","))],
             "db_orders": [\(rows.joined(separator: ","))]}
            """
        let db = try await OrderDatabase.inMemory()
        _ = try await db.migrate()
        try await db.load(try Scenario.parse(Data(text.utf8), file: "canceller.json"), now: now)
        return db
    }

    static func target(_ db: OrderDatabase, _ group: String) async throws -> CancelTarget {
        let access = try #require(try await db.strategyAccess(groupName: group))
        return CancelTarget(access: access, links: access.links)
    }

    static let binanceLike: [Market: CancelLimits] = [
        .futures: CancelLimits(batchSize: 10, batchPerSymbol: true), .spot: CancelLimits(batchSize: 1, concurrency: 2),
    ]

    @Test func sendsExactlyThePlannedRequestsAndNothingOutsideTheScope() async throws {
        let db = try await Self.store(accounts: 2, perAccount: 23)
        let gateway = Gateway(limits: Self.binanceLike)
        let canceller = StrategyCanceller(store: db, gateway: gateway, locks: AccountLocks(), now: { Self.now })
        let report = try await canceller.execute(try await Self.target(db, "f"), requestID: "r1")
        #expect(report.totals.selected == 48 && report.totals.cancelled == 48)
        let sent = gateway.sent.withLock { $0 }
        // Account 1: 23 regular orders as batches of 10, 10 and 3, the two algo orders one by one; account 2: 10, 10, 3.
        let sizes = Dictionary(grouping: sent, by: \.account).mapValues { $0.map(\.request.rows.count).sorted() }
        #expect(sizes == [1: [1, 1, 3, 10, 10], 2: [3, 10, 10]])
        for item in sent {
            if case .batch(let symbol, let rows) = item.request {
                #expect(symbol == "BTCUSDT" && rows.allSatisfy { $0.exchangeOrderID.namespace == nil })
            }
            #expect(item.request.rows.allSatisfy { $0.link == StrategyLinkID(item.account) })  // strategy f's links only
        }
        // What the report says is what the exchange was asked, and the other strategies' rows are untouched.
        #expect(Set(sent.flatMap(\.request.rows).map(\.id)) == Set(report.accounts.flatMap(\.orders).map(\.openOrderID)))
        #expect(try await db.openOrders(links: [StrategyLinkID(9001), StrategyLinkID(9002)]).count == 4)
        #expect(try await db.openOrders(links: [StrategyLinkID(1), StrategyLinkID(2)]).isEmpty)
        #expect(try await db.cancelIntentStates() == ["cancelled": 48])

        // Spot: one order a request, at most the venue's concurrency in flight.
        let inFlight = Shared((now: 0, peak: 0))
        let spot = Gateway(limits: Self.binanceLike) { _, _ in
            inFlight.with {
                $0.now += 1
                $0.peak = max($0.peak, $0.now)
            }
            await Task.yield()
            inFlight.with { $0.now -= 1 }
        }
        let spotReport = try await StrategyCanceller(store: db, gateway: spot, locks: AccountLocks(), now: { Self.now })
            .execute(try await Self.target(db, "s"), requestID: "r2")
        #expect(spotReport.totals.cancelled == 3 && spot.sent.withLock { $0.map(\.request.rows.count) } == [1, 1, 1])
        #expect(inFlight.with { $0.peak } <= 2)
    }

    @Test func everyRequestIsSentAfterTheIntentsOfItsOrdersAreDurable() async throws {
        let db = try await Self.store(accounts: 30, perAccount: 12)
        // What the store holds as unresolved while each request is on the wire.
        let missing = Shared<[Int64]>([])
        let requests = Shared(0)
        let gateway = Gateway(limits: Self.binanceLike) { _, request in
            let pending = Set((try? await db.unresolvedCancels())?.filter { $0.requestID == "r1" }.map(\.openOrderID) ?? [])
            let absent = request.rows.map(\.id).filter { !pending.contains($0) }
            missing.with { $0 += absent.map(\.rawValue) }
            requests.with { $0 += 1 }
        }
        let report = try await StrategyCanceller(store: db, gateway: gateway, locks: AccountLocks(), now: { Self.now })
            .execute(try await Self.target(db, "f"), requestID: "r1")
        #expect(report.totals.cancelled == 362)
        #expect(requests.with { $0 } == 30 * 2 + 2)  // 12 orders: batches of 10 and 2 per account; account 1's two algo orders alone
        #expect(missing.with { $0 }.isEmpty, "orders sent before their intent was recorded: \(missing.with { $0 })")
        #expect(try await db.cancelIntentStates() == ["cancelled": 362])
    }

    @Test func theAccountLockIsHeldUntilItsOwnResolutionIsWritten() async throws {
        let db = try await Self.store(accounts: 1, perAccount: 5)
        let locks = AccountLocks()
        // While the cancel is on the wire, someone else (a pass) asks for the account's lock and,
        // once it has it, reads the rows: the cancel's resolution must already be there.
        let seen = Shared<[Int]?>(nil)
        let waiter = Shared<Task<Void, any Error>?>(nil)
        let gateway = Gateway(limits: Self.binanceLike) { account, _ in
            let task = Task {
                try await locks.withLock(account.id) {
                    let rows = try await db.openOrders(links: [StrategyLinkID(1)])
                    seen.with { $0 = [rows.count] }
                }
            }
            waiter.with { if $0 == nil { $0 = task } }
        }
        let report = try await StrategyCanceller(store: db, gateway: gateway, locks: locks, now: { Self.now })
            .execute(try await Self.target(db, "f"), requestID: "r1")
        #expect(report.totals.cancelled == 7)  // five BTCUSDT orders and the two algo orders
        try await waiter.with { $0 }?.value
        #expect(seen.with { $0 } == [0], "the other holder got the lock before the resolution was written")
    }

    @Test func resolutionsOfAccountsAnsweringTogetherShareTransactions() async throws {
        let db = try await Self.store(accounts: 40, perAccount: 3)
        let store = CountingStore(db: db)
        let report = try await StrategyCanceller(store: store, gateway: Gateway(limits: Self.binanceLike), locks: AccountLocks(), now: { Self.now })
            .execute(try await Self.target(db, "f"), requestID: "r1")
        #expect(report.totals.cancelled == 122)
        let transactions = store.resolutions.withLock { $0 }
        #expect(transactions.reduce(0, +) == 40, "every account resolved exactly once")
        print("CancellerTests: 40 accounts resolved in \(transactions.count) transaction(s): \(transactions)")

        // Deterministically: while the first transaction is being written, the 39 others queue for one.
        let held = CountingStore(db: db, holdFirst: true)
        let commits = GroupCommit<CancelResolution> { try await held.resolveCancels(requestID: "r1", $0, now: Self.now) }
        let rows = try await db.openOrders(links: [StrategyLinkID(9001)])
        try await withThrowingTaskGroup(of: Void.self) { group in
            for a in 1...40 {
                group.addTask { try await commits.write(rows.map { CancelResolution(row: $0, account: AccountID(Int64(a)), outcome: .notFound) }) }
            }
            let deadline = ContinuousClock.now + .seconds(60)
            while await commits.waiting < 39 || held.gate?.with({ $0 }) == nil {
                try #require(ContinuousClock.now < deadline, "the writers did not queue")
                try await Task.sleep(for: .milliseconds(1))
            }
            held.gate?.with {
                $0?.resume()
                $0 = nil
            }
            try await group.waitForAll()
        }
        #expect(held.resolutions.withLock { $0 } == [1, 39])
        #expect(try await db.cancelIntentStates() == ["cancelled": 122])
        #expect(try await db.openOrders(links: Set((1...40).map { StrategyLinkID(Int64($0)) })).isEmpty)
    }
}
