import Metrics
import OrderStore
import Prometheus
import ServiceLifecycle
import SyncCore
import SyncRuntime
import Synchronization
import WebhookServer

/// The metrics registry `/metrics` prints, and the factory that feeds it.
public struct Telemetry: Sendable {
    public let registry: PrometheusCollectorRegistry
    public let factory: PrometheusMetricsFactory

    public init() {
        registry = PrometheusCollectorRegistry()
        var factory = PrometheusMetricsFactory(registry: registry)
        factory.defaultDurationHistogramBuckets = [
            .milliseconds(5), .milliseconds(25), .milliseconds(100), .milliseconds(250), .milliseconds(500),
            .seconds(1), .seconds(2.5), .seconds(10), .seconds(30), .seconds(60),
        ]
        self.factory = factory
    }

    /// Records a pass: one count, findings by kind, its duration.
    func record(_ report: DriftReport) {
        Counter(label: "ordersync_passes_total", dimensions: [("trigger", report.trigger)], factory: factory).increment()
        for kind in FindingKind.allCases where report.totals[kind] > 0 {
            Counter(label: "ordersync_findings_total", dimensions: [("kind", kind.rawValue)], factory: factory).increment(by: report.totals[kind])
        }
        Metrics.Timer(label: "ordersync_pass_duration_seconds", dimensions: [], factory: factory)
            .recordMilliseconds(report.finishedAt - report.startedAt)
    }

    /// What the streams observed: events by market, phase and outcome, event→DB latency, streams
    /// per market and health, gaps; a resync is a pass; an event's findings go to the alert rules.
    func record(_ observation: StreamReconciler.Observation, book: Daemon.PassBook) {
        switch observation {
        case .event(let market, let phase, let outcome, let updateTime):
            Counter(
                label: "ordersync_stream_events_total",
                dimensions: [("market", market.rawValue), ("status", phase), ("outcome", outcome)],
                factory: factory
            ).increment()
            if let updateTime {
                Metrics.Timer(label: "ordersync_stream_event_latency_seconds", dimensions: [], factory: factory)
                    .recordMilliseconds(max(0, EntryPoints.wallClock() - updateTime))
            }
        case .health(let market, let tally):
            for health in [StreamReconciler.Health.healthy, .catchingUp, .gap] {
                Gauge(label: "ordersync_streams", dimensions: [("market", market.rawValue), ("state", health.rawValue)], factory: factory)
                    .record(tally[health] ?? 0)
            }
        case .gap(let market):
            Counter(label: "ordersync_stream_gaps_total", dimensions: [("market", market.rawValue)], factory: factory).increment()
        case .pass(let report):
            book.passed(report)
        case .findings(let report):
            book.alerter.observe(report)
        }
    }

    func record(_ report: CancelReport) {
        for (outcome, n) in [
            ("cancelled", report.totals.cancelled), ("already_closed", report.totals.alreadyClosed), ("failed", report.totals.failed),
        ] where n > 0 {
            Counter(label: "ordersync_cancels_total", dimensions: [("outcome", outcome)], factory: factory).increment(by: n)
        }
        Metrics.Timer(label: "ordersync_cancel_duration_seconds", dimensions: [], factory: factory).recordMilliseconds(report.durationMs)
    }
}

/// The daemon's parts, built once: store, exchange gateway, reconciler and canceller sharing one
/// set of per-account locks, and the webhook's backend over them.
public final class Daemon: WebhookBackend {
    public let db: OrderDatabase
    public let gateway: Venues
    public let runner: ReconcileRunner
    public let canceller: StrategyCanceller
    public let telemetry: Telemetry
    /// Tells the operator (`[alerts]`): fed every pass and cancel, delivering on its own tasks.
    public let alerter: Alerter
    /// The user data streams (`serve` with `[streams] enabled`), else nil.
    public let streams: StreamReconciler?
    private let book: PassBook

    /// What every pass updates, whoever ran it (the scheduler, the webhook, a stream's resync):
    /// its metrics, the alert rules, `/healthz`'s last pass.
    final class PassBook: Sendable {
        let telemetry: Telemetry
        let alerter: Alerter
        let last = Mutex<(at: Millis?, errors: Int)>((nil, 0))
        init(telemetry: Telemetry, alerter: Alerter) {
            self.telemetry = telemetry
            self.alerter = alerter
        }
        func passed(_ report: DriftReport) {
            telemetry.record(report)
            alerter.observe(report)
            last.withLock { $0 = (report.finishedAt, report.errorCount) }
        }
    }

    init(
        runner: ReconcileRunner,
        gateway: Venues,
        db: OrderDatabase,
        options: ReconcileOptions,
        telemetry: Telemetry,
        alertLog: (@Sendable (String) -> Void)?
    ) {
        self.db = db
        self.gateway = gateway
        self.telemetry = telemetry
        var sinks = AlertSinks(options.config.alerts, environment: options.environment)
        sinks.printer = alertLog
        let alerter = Alerter(
            sinks: sinks,
            rules: AlertRules(unresolvedPasses: options.config.alerts.unresolvedPasses, failingPasses: options.config.alerts.failingPasses),
            store: db,
            now: EntryPoints.wallClock
        )
        self.alerter = alerter
        let book = PassBook(telemetry: telemetry, alerter: alerter)
        self.book = book
        if options.streams {
            let streams = StreamReconciler(
                runner: runner,
                venues: gateway,
                healthyInterval: Millis(options.config.reconcile.streamIntervalSeconds * 1000),
                refreshEvery: .milliseconds(Int64(options.config.streams.refreshSeconds * 1000)),
                observe: { telemetry.record($0, book: book) }
            )
            var scheduled = runner
            scheduled.isDue = { streams.isDue($0) }
            self.runner = scheduled
            self.streams = streams
        } else {
            self.runner = runner
            self.streams = nil
        }
        canceller = StrategyCanceller(
            store: db,
            gateway: gateway,
            locks: runner.locks,
            parallelism: options.config.cancel.parallelism,
            now: EntryPoints.wallClock
        )
    }

    /// Opens the database and builds every part from `options`; `alertLog` prints each alert
    /// (`serve`'s output).
    public static func make(
        _ options: ReconcileOptions,
        telemetry: Telemetry = Telemetry(),
        alertLog: (@Sendable (String) -> Void)? = nil
    ) async throws(AppError) -> Daemon {
        let (runner, gateway, db) = try await EntryPoints.makeRunner(options)
        return Daemon(runner: runner, gateway: gateway, db: db, options: options, telemetry: telemetry, alertLog: alertLog)
    }

    /// Book-keeping after every pass, whatever triggered it.
    public func passed(_ report: DriftReport) { book.passed(report) }

    public func strategyAccess(groupName: String) async throws -> StrategyAccess? {
        try await db.strategyAccess(groupName: groupName)
    }

    public func cancel(_ target: CancelTarget, requestID: String) async throws -> CancelReport {
        let report = try await canceller.execute(target, requestID: requestID)
        telemetry.record(report)
        alerter.observe(report, at: EntryPoints.wallClock())
        return report
    }

    public func reconcile(accounts: Set<AccountID>) async throws -> DriftReport {
        let report = try await runner.pass(only: accounts, trigger: "webhook")
        passed(report)
        return report
    }

    public func health() async -> Health {
        let last = book.last.withLock { $0 }
        let streams = self.streams?.accounts.map { a in
            StreamAccount(
                accountID: a.account,
                markets: a.markets.mapValues { $0?.rawValue ?? "none" },
                onStreams: a.onStreams
            )
        }
        return Health(lastPassAt: last.at, lastPassErrors: last.errors, streams: streams)
    }

    /// Finishes the cancels a stopped process left unresolved (see `StrategyCanceller.resume`).
    public func resumeCancels() async throws -> [CancelReport] {
        let reports = try await canceller.resume()
        for report in reports {
            telemetry.record(report)
            alerter.observe(report, at: EntryPoints.wallClock())
        }
        return reports
    }

    /// The webhook server over this daemon.
    public func webhook(_ settings: WebhookSettings) -> WebhookServer {
        WebhookServer(backend: self, settings: settings, registry: telemetry.registry, factory: telemetry.factory, now: EntryPoints.wallClock)
    }

    /// The scheduled reconciler, reporting each pass to `onPass` after the daemon's book-keeping.
    public func scheduler(
        interval: Duration,
        spread: Double,
        onPass: @escaping @Sendable (Result<DriftReport, any Error>) -> Void
    ) -> ReconcileService {
        ReconcileService(runner: runner, interval: interval, spread: interval * spread) { [self] result in
            if case .success(let report) = result { passed(report) }
            onPass(result)
        }
    }

    public func shutdown() async {
        await alerter.finish()
        await gateway.shutdown()
        await db.close()
    }
}
