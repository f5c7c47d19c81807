import ServiceLifecycle
import SyncCore
import Synchronization

/// Drift within a second: every active account's order streams, each event applied at once
/// through the same decision rules as a listing (an order-scoped listing), under the account's
/// lock, as one rolling run (`trigger` "stream") in the history. Passes stay the safety net:
/// after any gap (a connection's start included) the account is resynced by a full listing
/// before its stream is called healthy, and a healthy account's scheduled passes come every
/// `healthyInterval` instead of every pass (`isDue`).
///
/// Events are idempotent and order-safe: an event older than (or equal to) the last one seen for
/// its order is dropped (by update time, then final after open, then by the filled quantity, which
/// only grows), and an event that would lower a row's filled quantity is dropped. An event the
/// decision leaves in flight — an order without a row inside the grace period (its row may be a
/// moment behind), a row the origin updated inside it — is decided again when the grace ends, from
/// a query of the order's state then, not at the next pass.
public final class StreamReconciler: Service, Sendable {
    public enum Health: String, Sendable {
        /// Connecting, or between a gap and the end of its resync: passes as usual.
        case catchingUp = "catching_up"
        /// Connected and resynced: its events are trusted; scheduled passes are rarer.
        case healthy
        /// Disconnected: reconnecting.
        case gap
    }

    struct Key: Hashable {
        var account: AccountID
        var market: Market
    }

    /// An order's last event: its update time, whether final, what it had filled.
    struct Rank: Comparable {
        var time: Millis
        var final: Bool
        var filled: Amount
        static func < (a: Rank, b: Rank) -> Bool {
            if a.time != b.time { return a.time < b.time }
            if a.final != b.final { return !a.final }
            return a.filled < b.filled
        }
    }

    struct Deferred {
        var order: ExchangeOrder
        var due: Millis
        var attempts: Int
    }

    struct State {
        var health: [Key: Health] = [:]
        var seen: [Key: [ExchangeOrderID: Rank]] = [:]
        var deferred: [Key: [ExchangeOrderID: Deferred]] = [:]
        var resyncs: Set<AccountID> = []
        var covered: [AccountID: Millis] = [:]
        var run: (id: Int64, started: Millis)?
        var sections: [ReportSection] = []
        var counts = Counts()
    }

    /// What the streams did, for metrics and tests.
    public struct Counts: Sendable, Hashable {
        public var events = 0
        public var applied = 0
        public var stale = 0
        public var deferred = 0
        public var gaps = 0
        public var resyncs = 0
    }

    let runner: ReconcileRunner
    let venues: Venues
    let healthyInterval: Millis
    let rollEvery: Duration
    let state = Mutex(State())
    /// Called after each event is applied, with the event's update time (latency metrics).
    let onApplied: @Sendable (Millis) -> Void

    public init(
        runner: ReconcileRunner,
        venues: Venues,
        healthyInterval: Millis = 300_000,
        rollEvery: Duration = .seconds(60),
        onApplied: @escaping @Sendable (Millis) -> Void = { _ in }
    ) {
        self.runner = runner
        self.venues = venues
        self.healthyInterval = healthyInterval
        self.rollEvery = rollEvery
        self.onApplied = onApplied
    }

    public var counts: Counts { state.withLock { $0.counts } }

    /// Each followed account-market's health.
    public var health: [(account: AccountID, market: Market, health: Health)] {
        state.withLock { s in s.health.map { ($0.key.account, $0.key.market, $0.value) } }.sorted {
            ($0.account, $0.market) < ($1.account, $1.market)
        }
    }

    /// For the runner's scheduled passes: an account whose every stream is healthy is due once per
    /// `healthyInterval` (counted from its last resync or scheduled pass); any other account always.
    public func isDue(_ account: AccountID) -> Bool {
        let now = runner.now()
        return state.withLock { s in
            // Its followed markets' health, looked up (not a scan of every account's).
            let states = Market.allCases.compactMap { s.health[Key(account: account, market: $0)] }
            let healthy = !states.isEmpty && states.allSatisfy { $0 == .healthy }
            if healthy, let last = s.covered[account], now - last < healthyInterval { return false }
            s.covered[account] = now
            return true
        }
    }

    public func run() async throws {
        // The accounts to follow; a database that cannot be read yet is tried again (the passes
        // report it), never a reason to stop the daemon.
        var read: ([AccountRecord], [AccountID: Set<Market>])?
        while read == nil {
            do {
                read = (try await runner.store.accounts().filter(\.isActive), try await runner.store.accountMarkets())
            } catch {
                do { try await cancelWhenGracefulShutdown { try await Task.sleep(for: .seconds(5)) } } catch { return }
            }
        }
        let (accounts, markets) = read!
        await withDiscardingTaskGroup { group in
            for account in accounts {
                for market in (markets[account.id] ?? []).sorted() {
                    guard let streams = venues.streams(for: account, market: market) else { continue }
                    let key = Key(account: account.id, market: market)
                    state.withLock { $0.health[key] = .catchingUp }
                    group.addTask {
                        await streams.follow(account, market: market) { signal in await self.handle(signal, account: account, key: key) }
                    }
                }
            }
            group.addTask { await self.every(.milliseconds(100)) { await self.recheckDeferred(accounts) } }
            group.addTask { await self.every(.milliseconds(200)) { await self.resync() } }
            group.addTask { await self.every(self.rollEvery) { try? await self.roll() } }
            try? await gracefulShutdown()
            group.cancelAll()
        }
        try? await roll(force: true)
    }

    func every(_ period: Duration, _ body: @Sendable () async -> Void) async {
        while !Task.isCancelled {
            do { try await Task.sleep(for: period) } catch { return }
            await body()
        }
    }

    func handle(_ signal: StreamSignal, account: AccountRecord, key: Key) async {
        switch signal {
        case .live:
            state.withLock { s in
                s.health[key] = .catchingUp
                s.resyncs.insert(key.account)
            }
        case .gap:
            state.withLock { s in
                s.health[key] = .gap
                s.counts.gaps += 1
            }
        case .order(let order, let time):
            let rank = Rank(time: time, final: !order.status.isOpen, filled: order.executedQuantity)
            let fresh = state.withLock { s in
                s.counts.events += 1
                if let last = s.seen[key]?[order.id], rank <= last {
                    s.counts.stale += 1
                    return false
                }
                s.seen[key, default: [:]][order.id] = rank
                if s.seen[key]!.count > 20_000 {
                    // Forget the older half: an event that old is a pass's business by now.
                    let cut = s.seen[key]!.values.map(\.time).sorted()[10_000]
                    s.seen[key] = s.seen[key]!.filter { $0.value.time >= cut }
                }
                return true
            }
            guard fresh else { return }
            // A failed write leaves the order to the next pass; only a written event is timed.
            guard (try? await apply(order, account: account, market: key.market, attempt: 0)) != nil else { return }
            onApplied(time)
        }
    }

    /// Decides one order's event against the account's rows and writes the plan.
    func apply(_ order: ExchangeOrder, account: AccountRecord, market: Market, attempt: Int) async throws {
        let key = Key(account: account.id, market: market)
        let runner = self.runner
        let runID = try await currentRun()
        let outcome: (section: ReportSection?, due: Millis?) = try await runner.locks.withLock(account.id) {
            let snapshot = try await runner.store.accountSnapshot(account.id)
            guard snapshot.markets.contains(market) else { return (nil, nil) }
            let row = snapshot.rows.first { $0.market == market && order.ids.contains($0.exchangeOrderID) }
            // Fills only grow: an open order's event below the row's fill is older than the row.
            if let row, order.status.isOpen, order.executedQuantity < row.filledQuantity { return (nil, nil) }
            let now = runner.now()
            var input = snapshot.input(market: market, listing: .events([order]), now: now)
            // An order without a row follows attribution, the claims recorded in the database included.
            let policy = row == nil ? try await runner.withRecordedClaims().policy : runner.policy
            var plan = Reconciler.decide(input, policy: policy)
            if let request = plan.evidenceRequest {
                input.evidence = try await runner.store.originEvidence(request)
                plan = Reconciler.decide(input, policy: policy)
            }
            _ = try await runner.store.apply(plan, runID: runID, now: now, recordSweep: false)
            var due: Millis?
            if plan.findings.contains(where: { $0.kind == .inFlight && $0.exchangeOrderID.map(order.ids.contains) == true }) {
                let since = row.map { max($0.createdAt, $0.updatedAt) } ?? order.time
                due = max(since + policy.grace, now + 1_000 * Millis(attempt))
            }
            let groups = Dictionary(snapshot.links.map { ($0.id, $0.groupName) }, uniquingKeysWith: { a, _ in a })
            let section = ReportSection(plan: plan, accountName: account.name, exchange: account.exchange, groups: groups)
            return (plan.findings.contains { $0.kind != .matched && $0.kind != .inFlight } ? section : nil, due)
        }
        state.withLock { s in
            s.counts.applied += 1
            if let section = outcome.section { s.sections.append(section) }
            if let due = outcome.due, attempt < 3 {
                s.deferred[key, default: [:]][order.id] = Deferred(order: order, due: due, attempts: attempt + 1)
                s.counts.deferred += 1
            }
        }
    }

    /// Orders whose grace is over: their state now, by query, decided again.
    func recheckDeferred(_ accounts: [AccountRecord]) async {
        let now = runner.now()
        let due: [(Key, Deferred)] = state.withLock { s in
            var out: [(Key, Deferred)] = []
            for (key, items) in s.deferred {
                for (id, item) in items where item.due <= now {
                    out.append((key, item))
                    s.deferred[key]![id] = nil
                }
            }
            return out
        }
        guard !due.isEmpty else { return }
        let byID = Dictionary(accounts.map { ($0.id, $0) }, uniquingKeysWith: { a, _ in a })
        await withDiscardingTaskGroup { group in
            for (key, item) in due {
                guard let account = byID[key.account] else { continue }
                group.addTask {
                    let answer = await self.runner.gateway.query(account, market: key.market, symbol: item.order.symbol, id: item.order.id)
                    guard case .found(let order) = answer else { return }
                    try? await self.apply(order, account: account, market: key.market, attempt: item.attempts)
                }
            }
        }
    }

    /// One full pass over the accounts whose streams (re)connected, then they are healthy.
    func resync() async {
        let accounts = state.withLock { s in
            let out = s.resyncs
            s.resyncs = []
            return out
        }
        guard !accounts.isEmpty else { return }
        let started = runner.now()
        guard (try? await runner.pass(only: accounts, trigger: "resync", sweep: true)) != nil else {
            state.withLock { s in s.resyncs.formUnion(accounts) }
            return
        }
        state.withLock { s in
            s.counts.resyncs += accounts.count
            for (key, health) in s.health where accounts.contains(key.account) && health == .catchingUp {
                s.health[key] = .healthy
            }
            for account in accounts { s.covered[account] = started }
        }
    }

    func currentRun() async throws -> Int64 {
        if let run = state.withLock({ $0.run }) { return run.id }
        let now = runner.now()
        let id = try await runner.store.beginRun(trigger: "stream", now: now)
        return state.withLock { s in
            if let run = s.run { return run.id }  // another event began one first; this one stays empty
            s.run = (id, now)
            return id
        }
    }

    /// Finishes the rolling run with what it found, when it found something (or `force`).
    func roll(force: Bool = false) async throws {
        let finished: (id: Int64, started: Millis, sections: [ReportSection])? = state.withLock { s in
            guard let run = s.run, force || !s.sections.isEmpty else { return nil }
            let sections = s.sections
            s.run = nil
            s.sections = []
            return (run.id, run.started, sections)
        }
        guard let finished else { return }
        let report = DriftReport(
            runID: finished.id,
            trigger: "stream",
            startedAt: finished.started,
            finishedAt: runner.now(),
            sections: finished.sections
        )
        try await runner.store.finishRun(finished.id, report: report)
    }
}
