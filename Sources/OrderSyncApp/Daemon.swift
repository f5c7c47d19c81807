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
    private let last = Mutex<Health>(Health(lastPassAt: nil, lastPassErrors: 0))

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
        if options.streams {
            let factory = telemetry.factory
            let latency = Metrics.Timer(label: "ordersync_stream_event_latency_seconds", dimensions: [], factory: factory)
            let streams = StreamReconciler(
                runner: runner,
                venues: gateway,
                healthyInterval: Millis(options.config.reconcile.streamIntervalSeconds * 1000),
                onApplied: { time in latency.recordMilliseconds(max(0, EntryPoints.wallClock() - time)) }
            )
            var scheduled = runner
            scheduled.isDue = { streams.isDue($0) }
            self.runner = scheduled
            self.streams = streams
        } else {
            self.runner = runner
            self.streams = nil
        }
        var sinks = AlertSinks(options.config.alerts, environment: options.environment)
        sinks.printer = alertLog
        alerter = Alerter(
            sinks: sinks,
            rules: AlertRules(unresolvedPasses: options.config.alerts.unresolvedPasses, failingPasses: options.config.alerts.failingPasses),
            store: db,
            now: EntryPoints.wallClock
        )
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
    public func passed(_ report: DriftReport) {
        telemetry.record(report)
        alerter.observe(report)
        last.withLock { $0 = Health(lastPassAt: report.finishedAt, lastPassErrors: report.errorCount) }
    }

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

    public func health() async -> Health { last.withLock { $0 } }

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
