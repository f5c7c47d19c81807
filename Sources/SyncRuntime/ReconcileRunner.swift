import ServiceLifecycle
import SyncCore
import Synchronization

/// Runs reconciliation passes: for each account and market, list the exchange, read the DB,
/// decide, run the targeted queries the plan asks for, decide again, apply — under the account's
/// lock, accounts in parallel (bounded).
public struct ReconcileRunner: Sendable {
    public var store: any ReconcileStore
    public var gateway: any ExchangeGateway
    public var policy: ReconcilePolicy
    public var locks: AccountLocks
    public var now: @Sendable () -> Millis
    /// Accounts reconciled at once.
    public var parallelism: Int
    /// A complete no-symbol sweep of an account-market every this many passes (and on its first
    /// pass), phased by account so that each pass sweeps about 1/sweepEvery of the accounts; in
    /// between, when it is cheaper in request weight, only the symbols of its rows, registered
    /// orphans and claims are listed. 1: always sweep.
    public var sweepEvery: Int
    /// Called after each account with (accounts done, accounts in the pass).
    public var progress: (@Sendable (Int, Int) -> Void)?
    /// Called after each read of the origin's evidence (benchmarks count them).
    public var evidenceRead: (@Sendable (EvidenceRequest, OriginEvidence) -> Void)?
    /// Whether a scheduled pass reconciles this account now (nil: always). An account whose
    /// streams are healthy is reconciled less often (`StreamReconciler.isDue`).
    public var isDue: (@Sendable (AccountID) -> Bool)?
    /// Each account-market's passes in this process, for the sweep cadence.
    let turns = SweepTurns()

    public init(
        store: any ReconcileStore,
        gateway: any ExchangeGateway,
        policy: ReconcilePolicy,
        locks: AccountLocks = AccountLocks(),
        parallelism: Int = 16,
        sweepEvery: Int = 10,
        now: @escaping @Sendable () -> Millis
    ) {
        self.store = store
        self.gateway = gateway
        self.policy = policy
        self.locks = locks
        self.parallelism = max(1, parallelism)
        self.sweepEvery = max(1, sweepEvery)
        self.now = now
    }

    /// One pass over the active accounts (or only `only`), recorded as a run with its findings.
    ///
    /// `spread`: start the accounts evenly over this long, each at a jittered offset, so that a
    /// thousand accounts never list at once (the scheduled passes of `serve`). Accounts not yet
    /// started when a graceful shutdown begins are left for the next run; started ones finish.
    ///
    /// `sweep`: list every symbol of every account-market, whatever the sweep schedule, and query a
    /// row's order at its first miss instead of after `confirmations` (a resync after a stream's
    /// gap: the gap may have hidden any change, and only the exchange's final word closes a row).
    public func pass(only: Set<AccountID>? = nil, trigger: String, spread: Duration? = nil, sweep: Bool = false) async throws -> DriftReport {
        let started = now()
        let clock = ContinuousClock()
        let origin = clock.now
        // Read before the run is recorded, so a failed read leaves no run half-recorded.
        var recorded = try await withRecordedClaims()
        if sweep { recorded.policy.confirmations = 1 }
        let runner = recorded
        let runID = try await store.beginRun(trigger: trigger, now: started)
        let due = trigger == "schedule" ? isDue : nil
        let accounts = try await store.accounts().filter { $0.isActive && (only?.contains($0.id) ?? true) && (due?($0.id) ?? true) }
        let offsets = Self.offsets(count: accounts.count, spread: spread, seed: UInt64(bitPattern: runID))
        let markets = try await store.accountMarkets()
        var sections: [ReportSection] = []
        var done = 0
        try await withThrowingTaskGroup(of: [ReportSection].self) { group in
            var next = 0
            func launch() {
                let account = accounts[next]
                let offset = offsets[next]
                next += 1
                group.addTask {
                    if offset > .zero {
                        do {
                            try await cancelWhenGracefulShutdown { try await clock.sleep(until: origin + offset) }
                        } catch {
                            return []
                        }
                    }
                    if Task.isShuttingDownGracefully && offset > .zero { return [] }
                    return try await runner.reconcile(account, runID: runID, markets: markets[account.id] ?? [], sweep: sweep)
                }
            }
            while next < min(parallelism, accounts.count) { launch() }
            for try await result in group {
                sections += result
                done += 1
                progress?(done, accounts.count)
                if next < accounts.count { launch() }
            }
        }
        let report = DriftReport(runID: runID, trigger: trigger, startedAt: started, finishedAt: now(), sections: sections)
        try await store.finishRun(runID, report: report)
        return report
    }

    /// This runner with the claims recorded in the database (`ordersync claim`) beside the
    /// configured ones, read afresh each pass so that a claim written while `serve` runs counts
    /// from its next pass. Where both claim an account and symbol for different links, the
    /// configuration's claim wins (`ordersync claim` refuses such a claim when given the file).
    func withRecordedClaims() async throws -> ReconcileRunner {
        let recorded = try await store.operatorClaims()
        guard !recorded.isEmpty else { return self }
        var runner = self
        runner.policy.attributor.claims = policy.attributor.claims.adding(recorded)
        return runner
    }

    /// Start offsets: account i of n at spread × (i + u)/n, u uniform in [0, 1) from a seeded
    /// generator — even spacing, jittered, never two accounts scheduled together by construction.
    static func offsets(count: Int, spread: Duration?, seed: UInt64) -> [Duration] {
        guard let spread, spread > .zero, count > 1 else { return Array(repeating: .zero, count: count) }
        var rng = SeededGenerator(seed: seed &* 0x9E37_79B9_7F4A_7C15 | 1)
        return (0..<count).map { i in spread * ((Double(i) + Double.random(in: 0..<1, using: &rng)) / Double(count)) }
    }

    /// Whether an account-market sweeps on its pass number `pass`: never swept, its turn ((pass +
    /// account) mod sweepEvery, so turns are spread over the accounts), or sweepEvery passes since
    /// its last sweep (passes that skipped it, e.g. `--account`, or whose sweep failed).
    ///
    /// A pass is numbered by its run the first time this process passes the account-market (the
    /// last sweep's run read from the database), then one more each time this process passes it:
    /// an account in every run counts as the runs do, and one whose passes are rarer — every stream
    /// interval while its streams are healthy — counts its own passes, not the runs between them
    /// (counted in runs, it swept on every pass: seven times the weight of its per-symbol listing).
    func sweepDue(account: AccountID, pass: Int64, lastSweep: Int64?) -> Bool {
        guard let last = lastSweep else { return true }
        return pass - last >= Int64(sweepEvery) || (pass &+ account.rawValue) % Int64(sweepEvery) == 0
    }

    /// The listing for one account-market: a full sweep when one is due or when per-symbol calls
    /// would cost more weight; otherwise only the symbols of interest (none: nothing to ask).
    /// `recordSweep`: whether this sweep is worth remembering — only when per-symbol listing was the
    /// cheaper choice (a sweep it replaces is what the record schedules); when the full listing is
    /// chosen by cost anyway (a venue that pages every order, an account with many
    /// symbols) the record would be a write per account per pass that no pass reads. Without one the
    /// first pass that could list per symbol sweeps, and records it.
    func listing(
        _ account: AccountRecord,
        _ market: Market,
        _ snapshot: AccountSnapshot,
        runID: Int64,
        sweep: Bool = false
    ) async -> (listing: ExchangeListing, recordSweep: Bool, pass: Int64) {
        let symbols = snapshot.symbolsOfInterest(market: market, extra: policy.attributor.claims.symbols(account: account.id))
        let turn = turns.next(account.id, market, runID: runID, lastSweepRun: snapshot.lastSweepRun[market])
        let sweepDue = sweep || sweepDue(account: account.id, pass: turn.pass, lastSweep: turn.lastSweep)
        let fullByCost =
            gateway.listingWeight(account, market: market, symbols: symbols.count) >= gateway.listingWeight(account, market: market, symbols: nil)
        if sweepDue || fullByCost {
            return (await gateway.listing(account, market: market, symbols: nil), !fullByCost, turn.pass)
        }
        if symbols.isEmpty { return (ExchangeListing(coverage: .complete, scope: .symbols([]), orders: []), false, turn.pass) }
        return (await gateway.listing(account, market: market, symbols: symbols), false, turn.pass)
    }

    /// One account: every market in which it has links or rows.
    func reconcile(_ account: AccountRecord, runID: Int64, markets: Set<Market>, sweep: Bool = false) async throws -> [ReportSection] {
        guard gateway.supports(account) else {
            return [
                .unsupported(
                    account: account.id,
                    accountName: account.name,
                    exchange: account.exchange,
                    reason: "exchange \(account.exchange) is not supported"
                )
            ]
        }
        // Wait for request weight before taking the lock, so a cancel for this account never queues
        // behind a pass that waits for the next window (room for its dearest full listing).
        // A graceful shutdown ends the wait, and the account is left for the next run.
        let weight = markets.filter { gateway.offers($0, for: account) }.map { gateway.listingWeight(account, market: $0, symbols: nil) }.max() ?? 0
        if await !gateway.hasRoom(account, markets: markets, weight: weight) {
            await cancelWhenGracefulShutdown { await gateway.waitForRoom(account, markets: markets, weight: weight) }
        }
        if Task.isShuttingDownGracefully { return [] }
        return try await locks.withLock(account.id) {
            let snapshot = try await store.accountSnapshot(account.id)
            let groups = Dictionary(snapshot.links.map { ($0.id, $0.groupName) }, uniquingKeysWith: { a, _ in a })
            var sections: [ReportSection] = []
            for market in snapshot.markets {
                guard gateway.offers(market, for: account) else {
                    sections.append(
                        .unsupported(
                            account: account.id,
                            accountName: account.name,
                            exchange: account.exchange,
                            market: market,
                            reason: "\(account.exchange) has no \(market.rawValue) market; its rows there are left alone"
                        )
                    )
                    continue
                }
                let (listing, recordSweep, pass) = await listing(account, market, snapshot, runID: runID, sweep: sweep)
                let time = now()
                var input = snapshot.input(market: market, listing: listing, now: time)
                var plan = Reconciler.decide(input, policy: policy)
                if let request = plan.evidenceRequest {
                    let evidence = try await store.originEvidence(request)
                    input.evidence = evidence
                    evidenceRead?(request, evidence)
                }
                for query in plan.queries {
                    input.queryResults[query.id] = await gateway.query(account, market: market, symbol: query.symbol, id: query.id)
                }
                if !plan.queries.isEmpty || plan.evidenceRequest != nil {
                    plan = Reconciler.decide(input, policy: policy)
                }
                _ = try await store.apply(plan, runID: runID, now: time, recordSweep: recordSweep)
                if recordSweep && plan.isCompleteSweep { turns.swept(account.id, market, pass: pass) }
                sections.append(ReportSection(plan: plan, accountName: account.name, exchange: account.exchange, groups: groups))
            }
            return sections
        }
    }
}

/// Each account-market's pass count in this process and the count at its last complete sweep
/// (`ReconcileRunner.sweepDue`); shared by the runner's copies.
final class SweepTurns: Sendable {
    struct Key: Hashable {
        var account: AccountID
        var market: Market
    }
    let counts = Mutex<[Key: (pass: Int64, lastSweep: Int64?)]>([:])

    /// This pass's number and the last sweep's: the run's id and the database's last sweep run the
    /// first time, one more than the last pass after.
    func next(_ account: AccountID, _ market: Market, runID: Int64, lastSweepRun: Int64?) -> (pass: Int64, lastSweep: Int64?) {
        counts.withLock { counts in
            let key = Key(account: account, market: market)
            let next = counts[key].map { ($0.pass + 1, $0.lastSweep) } ?? (runID, lastSweepRun)
            counts[key] = next
            return next
        }
    }

    func swept(_ account: AccountID, _ market: Market, pass: Int64) {
        counts.withLock { $0[Key(account: account, market: market)]?.lastSweep = pass }
    }
}
