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
        /// Per market, how many followed streams are in each health (kept with `health`).
        var tally: [Market: [Health: Int]] = [:]
        /// The accounts followed or polled, by id, with the markets that have no stream.
        var accounts: [AccountID: AccountRecord] = [:]
        var unstreamed: [AccountID: Set<Market>] = [:]
        var seen: [Key: [ExchangeOrderID: Rank]] = [:]
        var deferred: [Key: [ExchangeOrderID: Deferred]] = [:]
        var resyncs: Set<AccountID> = []
        var covered: [AccountID: Millis] = [:]
        var run: Task<(id: Int64, started: Millis), any Error>?
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

    /// What the streams tell the daemon's book-keeping (metrics, alerts, `/healthz`), as it happens.
    public enum Observation: Sendable {
        /// An order's event: its market, its phase, what became of it (`applied`, `stale` — a
        /// duplicate or older than one already seen — or `failed`, its write), and for an applied
        /// one the exchange's update time (event→DB latency).
        case event(market: Market, phase: String, outcome: String, updateTime: Millis?)
        /// How many of a market's followed streams are in each health, after a change.
        case health(market: Market, tally: [Health: Int])
        /// A stream ended (reconnecting).
        case gap(market: Market)
        /// A resync pass finished (a pass like any other: telemetry, alerts, last pass).
        case pass(DriftReport)
        /// An event's decision found something (an orphan registered or adopted, a row closed):
        /// one section, trigger `stream`, for the alert rules at once rather than at the roll.
        case findings(DriftReport)
    }

    /// What `/healthz` says of one followed or polled account.
    public struct AccountStreams: Sendable, Hashable {
        public var account: AccountID
        /// Each of its markets: its stream's health, or nil where the venue has no stream (polling only).
        public var markets: [Market: Health?]
        /// Every market on a healthy stream.
        public var onStreams: Bool { !markets.isEmpty && markets.values.allSatisfy { $0 == .healthy } }
    }

    let runner: ReconcileRunner
    let venues: Venues
    let healthyInterval: Millis
    let rollEvery: Duration
    let refreshEvery: Duration
    let state = Mutex(State())
    /// The history's trigger of the streams' rolling run (and of their findings' reports).
    public static let trigger = DriftReport.streamTrigger
    let observe: @Sendable (Observation) -> Void

    /// `refreshEvery`: how often the accounts to follow are read again (an account added,
    /// deactivated, its keys or markets changed while the daemon runs).
    public init(
        runner: ReconcileRunner,
        venues: Venues,
        healthyInterval: Millis = 300_000,
        rollEvery: Duration = .seconds(60),
        refreshEvery: Duration = .seconds(30),
        observe: @escaping @Sendable (Observation) -> Void = { _ in }
    ) {
        self.runner = runner
        self.venues = venues
        self.healthyInterval = healthyInterval
        self.rollEvery = rollEvery
        self.refreshEvery = refreshEvery
        self.observe = observe
    }

    public var counts: Counts { state.withLock { $0.counts } }

    /// Each followed account-market's health.
    public var health: [(account: AccountID, market: Market, health: Health)] {
        state.withLock { s in s.health.map { ($0.key.account, $0.key.market, $0.value) } }.sorted {
            ($0.account, $0.market) < ($1.account, $1.market)
        }
    }

    /// Every active account with markets: on streams, or on polling only (no stream for a market,
    /// or a stream not healthy), by account id.
    public var accounts: [AccountStreams] {
        state.withLock { s in
            s.accounts.keys.sorted().map { id in
                var markets: [Market: Health?] = [:]
                for market in s.unstreamed[id] ?? [] { markets[market] = .some(nil) }
                for market in Market.allCases { if let h = s.health[Key(account: id, market: market)] { markets[market] = h } }
                return AccountStreams(account: id, markets: markets)
            }
        }
    }

    /// Sets a stream's health (nil: no longer followed), keeping the tally; the market's new tally,
    /// when it changed, for the observer.
    static func set(_ health: Health?, _ key: Key, in s: inout State) -> [Health: Int]? {
        let old = s.health[key]
        guard old != health else { return nil }
        s.health[key] = health
        if let old { s.tally[key.market, default: [:]][old, default: 0] -= 1 }
        if let health { s.tally[key.market, default: [:]][health, default: 0] += 1 }
        return s.tally[key.market] ?? [:]
    }

    func setHealth(_ health: Health?, _ key: Key) {
        if let tally = state.withLock({ Self.set(health, key, in: &$0) }) { observe(.health(market: key.market, tally: tally)) }
    }

    /// For the runner's scheduled passes: an account whose every stream is healthy is due once per
    /// `healthyInterval` (counted from its last resync or scheduled pass, less 1% so that a pass a few
    /// milliseconds early is not put off by a whole interval); any other account always.
    public func isDue(_ account: AccountID) -> Bool {
        let now = runner.now()
        let period = healthyInterval - healthyInterval / 100
        return state.withLock { s in
            // Its followed markets' health, looked up (not a scan of every account's).
            let states = Market.allCases.compactMap { s.health[Key(account: account, market: $0)] }
            let healthy = !states.isEmpty && states.allSatisfy { $0 == .healthy }
            if healthy, let last = s.covered[account], now - last < period { return false }
            s.covered[account] = now
            return true
        }
    }

    public func run() async throws {
        await withDiscardingTaskGroup { group in
            group.addTask { await self.every(.milliseconds(100)) { await self.recheckDeferred() } }
            group.addTask { await self.every(.milliseconds(200)) { await self.resync() } }
            group.addTask { await self.every(self.rollEvery) { try? await self.roll() } }
            await follow()
            group.cancelAll()
        }
        try? await roll(force: true)
    }

    /// Follows every active account's streams until shutdown, reading the accounts again every
    /// `refreshEvery`: a new account or market is followed, one gone or deactivated is let go, one
    /// whose record changed (its keys) is followed anew. A database that cannot be read is tried
    /// again at the next refresh (the passes report it), never a reason to stop the daemon.
    func follow() async {
        var followers: [Key: (record: AccountRecord, task: Task<Void, Never>)] = [:]
        while true {
            if let accounts = try? await runner.store.accounts().filter(\.isActive), let markets = try? await runner.store.accountMarkets() {
                var wanted: [Key: (record: AccountRecord, streams: any OrderStreams)] = [:]
                var unstreamed: [AccountID: Set<Market>] = [:]
                for account in accounts {
                    for market in markets[account.id] ?? [] {
                        if let streams = venues.streams(for: account, market: market) {
                            wanted[Key(account: account.id, market: market)] = (account, streams)
                        } else {
                            unstreamed[account.id, default: []].insert(market)
                        }
                    }
                }
                for (key, follower) in followers where wanted[key]?.record != follower.record {
                    follower.task.cancel()
                    await follower.task.value
                    followers[key] = nil
                    forget(key)
                }
                for (key, (account, streams)) in wanted.sorted(by: { ($0.key.account, $0.key.market) < ($1.key.account, $1.key.market) })
                where followers[key] == nil {
                    setHealth(.catchingUp, key)
                    followers[key] = (
                        account,
                        Task {
                            await streams.follow(account, market: key.market) { signal in await self.handle(signal, account: account, key: key) }
                        }
                    )
                }
                state.withLock { s in
                    s.accounts = Dictionary(accounts.filter { markets[$0.id]?.isEmpty == false }.map { ($0.id, $0) }, uniquingKeysWith: { a, _ in a })
                    s.unstreamed = unstreamed
                }
            }
            do { try await cancelWhenGracefulShutdown { try await Task.sleep(for: self.refreshEvery) } } catch { break }
        }
        for follower in followers.values { follower.task.cancel() }
        for follower in followers.values { await follower.task.value }
    }

    /// A stream no longer followed: its health, what was seen and deferred.
    func forget(_ key: Key) {
        setHealth(nil, key)
        state.withLock { s in
            s.seen[key] = nil
            s.deferred[key] = nil
        }
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
            setHealth(.catchingUp, key)
            state.withLock { s in _ = s.resyncs.insert(key.account) }
        case .gap:
            setHealth(.gap, key)
            state.withLock { s in s.counts.gaps += 1 }
            observe(.gap(market: key.market))
        case .order(let order, let time):
            let rank = Rank(time: time, final: !order.status.isOpen, filled: order.executedQuantity)
            let (fresh, previous): (Bool, Rank?) = state.withLock { s in
                s.counts.events += 1
                let last = s.seen[key]?[order.id]
                if let last, rank <= last {
                    s.counts.stale += 1
                    return (false, last)
                }
                s.seen[key, default: [:]][order.id] = rank
                if s.seen[key]!.count > 20_000 {
                    // Forget the older half: an event that old is a pass's business by now.
                    let cut = s.seen[key]!.values.map(\.time).sorted()[10_000]
                    s.seen[key] = s.seen[key]!.filter { $0.value.time >= cut }
                }
                return (true, last)
            }
            let phase = order.status.phase.rawValue
            guard fresh else { return observe(.event(market: key.market, phase: phase, outcome: "stale", updateTime: nil)) }
            guard (try? await apply(order, account: account, market: key.market, attempt: 0)) != nil else {
                // Not written (the database refused): the event is not counted as seen (a repeat
                // of it is applied), and the account is resynced soon, its stream not trusted
                // until then, rather than left to a pass up to `healthyInterval` away.
                state.withLock { s in
                    if s.seen[key]?[order.id] == rank { s.seen[key]?[order.id] = previous }
                    _ = s.resyncs.insert(key.account)
                }
                setHealth(.catchingUp, key)
                return observe(.event(market: key.market, phase: phase, outcome: "failed", updateTime: nil))
            }
            // Only a written event is timed.
            observe(.event(market: key.market, phase: phase, outcome: "applied", updateTime: time))
        }
    }

    /// Decides one order's event against the account's rows and writes the plan.
    ///
    /// An open order without a row is decided only from the exchange's word *now*: its state
    /// queried under the account's lock once its grace is over (at once for an event that arrives
    /// late; at grace end for one deferred, `refresh`). An event can be older than the database's
    /// knowledge — a pass may have closed the order's row by query while the event was withheld —
    /// and adopting a finished order from it would give it a second row and a second close.
    func apply(_ event: ExchangeOrder, account: AccountRecord, market: Market, attempt: Int, refresh: Bool = false) async throws {
        let key = Key(account: account.id, market: market)
        let runner = self.runner
        let runID = try await currentRun()
        let outcome: (order: ExchangeOrder, section: ReportSection?, due: Millis?)? = try await runner.locks.withLock(account.id) {
            var order = event
            // The order's own rows, found by id: an event is about one order, and reading the
            // account's every row per event was most of a busy stream's database time.
            var snapshot = try await runner.store.orderSnapshot(account.id, orders: order.ids)
            guard snapshot.markets.contains(market) else { return (order, nil, nil) }
            func rowOf(_ order: ExchangeOrder) -> OpenOrderRow? {
                snapshot.rows.first { $0.market == market && order.ids.contains($0.exchangeOrderID) }
            }
            var row = rowOf(order)
            if refresh || (row == nil && order.status.isOpen && runner.now() - order.time >= runner.policy.grace) {
                guard case .found(let now) = await runner.gateway.query(account, market: market, symbol: event.symbol, id: event.id) else {
                    return nil
                }
                order = now
                if order.ids != event.ids { snapshot = try await runner.store.orderSnapshot(account.id, orders: order.ids) }
                row = rowOf(order)
                // Still without a row: attribution, which spells an adopted row the way the link's
                // other rows are spelled, decides on the whole account as a pass would.
                if row == nil { snapshot = try await runner.store.accountSnapshot(account.id) }
            }
            // Fills only grow: an open order's event below the row's fill is older than the row.
            if let row, order.status.isOpen, order.executedQuantity < row.filledQuantity { return (order, nil, nil) }
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
            return (order, plan.findings.contains { $0.kind != .matched && $0.kind != .inFlight } ? section : nil, due)
        }
        guard let outcome else { return }  // a deferred order the exchange no longer knows: the passes' business
        let order = outcome.order
        if let section = outcome.section {
            let now = runner.now()
            observe(.findings(DriftReport(runID: runID, trigger: Self.trigger, startedAt: now, finishedAt: now, sections: [section])))
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
    func recheckDeferred() async {
        let now = runner.now()
        let (due, byID): ([(Key, Deferred)], [AccountID: AccountRecord]) = state.withLock { s in
            var out: [(Key, Deferred)] = []
            for (key, items) in s.deferred {
                for (id, item) in items where item.due <= now {
                    out.append((key, item))
                    s.deferred[key]![id] = nil
                }
                if s.deferred[key]!.isEmpty { s.deferred[key] = nil }
            }
            return (out, out.isEmpty ? [:] : s.accounts)
        }
        guard !due.isEmpty else { return }
        await withDiscardingTaskGroup { group in
            for (key, item) in due {
                guard let account = byID[key.account] else { continue }
                group.addTask { try? await self.apply(item.order, account: account, market: key.market, attempt: item.attempts, refresh: true) }
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
        guard let report = try? await runner.pass(only: accounts, trigger: "resync", sweep: true) else {
            state.withLock { s in s.resyncs.formUnion(accounts) }
            return
        }
        observe(.pass(report))
        let tallies: [Market: [Health: Int]] = state.withLock { s in
            s.counts.resyncs += accounts.count
            var changed: [Market: [Health: Int]] = [:]
            for (key, health) in s.health where accounts.contains(key.account) && health == .catchingUp {
                if let tally = Self.set(.healthy, key, in: &s) { changed[key.market] = tally }
            }
            for account in accounts { s.covered[account] = started }
            return changed
        }
        for (market, tally) in tallies.sorted(by: { $0.key < $1.key }) { observe(.health(market: market, tally: tally)) }
    }

    /// The rolling run the events are written in, begun by the first event that needs one: events
    /// that arrive while it is being begun wait for the same run (one run, never an empty one left
    /// `running`).
    func currentRun() async throws -> Int64 {
        let begun: Task<(id: Int64, started: Millis), any Error> = state.withLock { s in
            if let run = s.run { return run }
            let now = runner.now()
            let store = runner.store
            let task = Task { (id: try await store.beginRun(trigger: Self.trigger, now: now), started: now) }
            s.run = task
            return task
        }
        do {
            return try await begun.value.id
        } catch {
            // Not begun (the database refused): the next event tries again.
            state.withLock { s in if s.run == begun { s.run = nil } }
            throw error
        }
    }

    /// Finishes the rolling run with what it found, when it found something (or `force`).
    func roll(force: Bool = false) async throws {
        let taken: (run: Task<(id: Int64, started: Millis), any Error>, sections: [ReportSection])? = state.withLock { s in
            guard let run = s.run, force || !s.sections.isEmpty else { return nil }
            let sections = s.sections
            s.run = nil
            s.sections = []
            return (run, sections)
        }
        guard let taken, let run = try? await taken.run.value else { return }
        let finished = (id: run.id, started: run.started, sections: taken.sections)
        let report = DriftReport(
            runID: finished.id,
            trigger: Self.trigger,
            startedAt: finished.started,
            finishedAt: runner.now(),
            sections: finished.sections
        )
        try await runner.store.finishRun(finished.id, report: report)
    }
}
