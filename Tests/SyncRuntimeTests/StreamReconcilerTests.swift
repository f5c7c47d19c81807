import Foundation
import OrderStore
import SyncCore
import Synchronization
import Testing

@testable import SyncRuntime

/// The stream reconciler without an exchange: when a scheduled pass reconciles an account that has
/// streams (on a test clock), the rolling run, and how an event for an order without a row is decided.
@Suite struct StreamReconcilerTests {
    final class Clock: Sendable {
        let now = Mutex<Millis>(1_000_000)
        func advance(_ ms: Millis) { now.withLock { $0 += ms } }
    }

    @Test func aHealthyAccountIsDueOncePerIntervalAndAnyOtherAlways() async throws {
        let clock = Clock()
        var runner = try await RequestEconomyTests.runner(RequestEconomyTests.Gateway(orders: [:]))
        runner.now = { clock.now.withLock { $0 } }
        let streams = StreamReconciler(runner: runner, venues: Venues([]), healthyInterval: 300_000)
        let one = AccountID(1)
        let futures = StreamReconciler.Key(account: one, market: .futures)
        let spot = StreamReconciler.Key(account: one, market: .spot)
        // No stream at all (polling only): due every pass.
        #expect(streams.isDue(one) && streams.isDue(one))
        // Catching up: due.
        streams.setHealth(.catchingUp, futures)
        #expect(streams.isDue(one))
        // Healthy: not due until the interval since the last scheduled pass (less 1%) is over.
        streams.setHealth(.healthy, futures)
        #expect(!streams.isDue(one))
        clock.advance(296_999)
        #expect(!streams.isDue(one), "296.999 s after: not yet")
        clock.advance(1)
        #expect(streams.isDue(one), "297 s after (300 s less 1%): due")
        #expect(!streams.isDue(one), "and counted from now")
        // One of two markets not healthy: due every pass.
        streams.setHealth(.gap, spot)
        #expect(streams.isDue(one) && streams.isDue(one))
        // Both healthy again: not due (its last pass was just now).
        streams.setHealth(.healthy, spot)
        #expect(!streams.isDue(one))
        // The tally the metrics read follows every change.
        #expect(streams.state.withLock { $0.tally[.futures] } == [.catchingUp: 0, .healthy: 1])
        #expect(streams.state.withLock { $0.tally[.spot] } == [.gap: 0, .healthy: 1])
        streams.setHealth(nil, spot)
        #expect(streams.state.withLock { $0.tally[.spot] } == [.gap: 0, .healthy: 0])
    }

    /// Events that arrive together share one rolling run: none is begun and left `running` empty
    /// (the benchmark's 10,000 events once left 931 of them), and the roll finishes it.
    @Test func concurrentEventsShareOneRollingRunAndTheRollFinishesIt() async throws {
        let runner = try await RequestEconomyTests.runner(RequestEconomyTests.Gateway(orders: [:]))
        let db = try #require(runner.store as? OrderDatabase)
        let streams = StreamReconciler(runner: runner, venues: Venues([]))
        let ids = try await withThrowingTaskGroup(of: Int64.self) { group in
            for _ in 0..<50 { group.addTask { try await streams.currentRun() } }
            return try await group.reduce(into: Set<Int64>()) { $0.insert($1) }
        }
        #expect(ids.count == 1)
        #expect(try await db.rows("SELECT id FROM sync_runs WHERE trigger = 'stream'").count == 1)
        try await streams.roll(force: true)
        #expect(try await db.rows("SELECT id FROM sync_runs WHERE trigger = 'stream' AND status = 'running'").isEmpty)
        // The next event begins a new run.
        #expect(try await streams.currentRun() != ids.first)
    }

    /// An open order's event without a row, its grace over, is decided from a query under the lock:
    /// a finished order is never adopted from an event older than the database's knowledge, and
    /// one still open follows attribution. An event for a row needs no query.
    @Test func anEventWithoutARowIsDecidedByTheExchangesWordNow() async throws {
        let gateway = RequestEconomyTests.Gateway(orders: [:])
        let runner = try await RequestEconomyTests.runner(gateway)
        let db = try #require(runner.store as? OrderDatabase)
        let streams = StreamReconciler(runner: runner, venues: Venues([]))
        let account = try #require(try await runner.store.accounts().first { $0.id == AccountID(2) })
        let key = StreamReconciler.Key(account: account.id, market: .futures)
        func manual(_ id: Int64, _ status: ExchangeOrderStatus) -> ExchangeOrder {
            var o = RequestEconomyTests.order(id, "BTCUSDT", client: "manual-\(id)")
            o.status = status
            return o
        }
        // Withheld: the event says open, the exchange has filled it since.
        gateway.answers.withLock { $0[ExchangeOrderID("50")] = .found(manual(50, .filled)) }
        await streams.handle(.order(manual(50, .new), updateTime: RequestEconomyTests.now - 5_000), account: account, key: key)
        #expect(gateway.queried.withLock { $0 } == [ExchangeOrderID("50")])
        #expect(try await db.rows("SELECT exchange_order_id FROM sync_orphans").isEmpty, "a finished order is not registered")
        // Still open: registered as a foreign orphan.
        gateway.answers.withLock { $0[ExchangeOrderID("51")] = .found(manual(51, .new)) }
        await streams.handle(.order(manual(51, .new), updateTime: RequestEconomyTests.now - 5_000), account: account, key: key)
        #expect(try await db.rows("SELECT exchange_order_id FROM sync_orphans").compactMap { $0.text(0) } == ["51"])
        // An event for an order with a row (account 1's order 1): decided from the event itself.
        let first = try #require(try await runner.store.accounts().first { $0.id == AccountID(1) })
        var fill = RequestEconomyTests.order(1, "BTCUSDT")
        fill.status = .filled
        await streams.handle(.order(fill, updateTime: RequestEconomyTests.now), account: first, key: .init(account: first.id, market: .futures))
        #expect(gateway.queried.withLock { $0.count } == 2, "no query for an event with a row")
        #expect(
            try await db.rows("SELECT final_status FROM sync_order_history WHERE exchange_order_id = '1'").compactMap { $0.text(0) } == ["FILLED"]
        )
    }

    /// The database as the event path reads it: each snapshot asked for, whole or of named orders.
    final class ReadLog: ReconcileStore {
        let base: any ReconcileStore
        let reads = Mutex<[String]>([])
        /// While set, every plan's write fails, as a database that refuses writes.
        let refuseWrites = Mutex(false)
        struct Refused: Error {}
        init(_ base: any ReconcileStore) { self.base = base }
        func accounts() async throws -> [AccountRecord] { try await base.accounts() }
        func accountSnapshot(_ account: AccountID) async throws -> AccountSnapshot {
            reads.withLock { $0.append("account \(account.rawValue)") }
            return try await base.accountSnapshot(account)
        }
        func orderSnapshot(_ account: AccountID, orders: [ExchangeOrderID]) async throws -> AccountSnapshot {
            reads.withLock { $0.append("orders \(account.rawValue) \(orders.map(\.rawValue).joined(separator: ","))") }
            return try await base.orderSnapshot(account, orders: orders)
        }
        func accountMarkets() async throws -> [AccountID: Set<Market>] { try await base.accountMarkets() }
        func originEvidence(_ request: EvidenceRequest) async throws -> OriginEvidence { try await base.originEvidence(request) }
        func beginRun(trigger: String, now: Millis) async throws -> Int64 { try await base.beginRun(trigger: trigger, now: now) }
        func apply(_ plan: ReconcilePlan, runID: Int64, now: Millis, recordSweep: Bool) async throws -> ApplyResult {
            if refuseWrites.withLock({ $0 }) { throw Refused() }
            return try await base.apply(plan, runID: runID, now: now, recordSweep: recordSweep)
        }
        func finishRun(_ id: Int64, report: DriftReport) async throws { try await base.finishRun(id, report: report) }
        func operatorClaims() async throws -> [OperatorClaim] { try await base.operatorClaims() }
    }

    /// A stream reconciler over the economy tests' database behind a `ReadLog`, and account 1's
    /// futures stream.
    static func logged(
        _ gateway: RequestEconomyTests.Gateway
    ) async throws -> (StreamReconciler, OrderDatabase, ReadLog, AccountRecord, StreamReconciler.Key) {
        var runner = try await RequestEconomyTests.runner(gateway)
        let db = try #require(runner.store as? OrderDatabase)
        let log = ReadLog(db)
        runner.store = log
        let first = try #require(try await runner.store.accounts().first { $0.id == AccountID(1) })
        return (StreamReconciler(runner: runner, venues: Venues([])), db, log, first, .init(account: first.id, market: .futures))
    }

    /// An event for an order with a row reads that order's rows, not the account's (a busy stream
    /// reading every row per event was most of its database time); an order without a row, once
    /// its grace is over, is attributed on the whole account, as a pass would.
    @Test func anEventReadsItsOrdersRowsAndAnOrphanTheWholeAccount() async throws {
        let gateway = RequestEconomyTests.Gateway(orders: [:])
        let (streams, db, log, first, key) = try await Self.logged(gateway)
        #expect(try await db.accountSnapshot(first.id).rows.count > 1, "the account has other rows")
        var partial = RequestEconomyTests.order(1, "BTCUSDT")
        partial.status = .partiallyFilled
        partial.executedQuantity = Amount("0.001")!
        await streams.handle(.order(partial, updateTime: RequestEconomyTests.now), account: first, key: key)
        #expect(log.reads.withLock { $0 } == ["orders 1 1"])
        #expect(try await db.rows("SELECT filled_quantity FROM open_orders WHERE exchange_order_id = '1'").first?[0] == .double(0.001))
        // A manual order, its grace over: the query, then the whole account for attribution.
        var manual = RequestEconomyTests.order(60, "BTCUSDT", client: "manual-60")
        manual.status = .new
        gateway.answers.withLock { $0[ExchangeOrderID("60")] = .found(manual) }
        await streams.handle(.order(manual, updateTime: RequestEconomyTests.now - 5_000), account: first, key: key)
        #expect(log.reads.withLock { Array($0.dropFirst()) } == ["orders 1 60", "account 1"])
        #expect(try await db.rows("SELECT exchange_order_id FROM sync_orphans").compactMap { $0.text(0) } == ["60"])
    }

    /// An event whose write fails is not lost to the next pass (up to the stream interval away): the
    /// account is resynced soon, its stream is not trusted until then, and the same event, repeated,
    /// is applied rather than dropped as already seen.
    @Test func anEventWhoseWriteFailsBringsAResyncAndIsNotCountedAsSeen() async throws {
        let (streams, db, log, first, key) = try await Self.logged(RequestEconomyTests.Gateway(orders: [:]))
        streams.setHealth(.healthy, key)
        var fill = RequestEconomyTests.order(1, "BTCUSDT")
        fill.status = .filled
        log.refuseWrites.withLock { $0 = true }
        await streams.handle(.order(fill, updateTime: RequestEconomyTests.now), account: first, key: key)
        #expect(streams.state.withLock { $0.resyncs } == [first.id])
        #expect(streams.state.withLock { $0.health[key] } == .catchingUp)
        #expect(streams.isDue(first.id), "an account catching up is due every pass")
        log.refuseWrites.withLock { $0 = false }
        await streams.handle(.order(fill, updateTime: RequestEconomyTests.now), account: first, key: key)
        #expect(streams.counts.stale == 0 && streams.counts.applied == 1)
        #expect(
            try await db.rows("SELECT final_status FROM sync_order_history WHERE exchange_order_id = '1'").compactMap { $0.text(0) } == ["FILLED"]
        )
    }
}
