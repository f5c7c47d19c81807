import ServiceLifecycle
import SyncCore

/// Reconciliation on a schedule, as a Service: a pass starts every `interval` (at once if the
/// previous one overran), its accounts staggered over `spread`, until graceful shutdown. Accounts
/// already started finish their writes; those still waiting for their slot and the wait between
/// passes are abandoned.
public struct ReconcileService: Service {
    let runner: ReconcileRunner
    let interval: Duration
    let spread: Duration
    let onPass: @Sendable (Result<DriftReport, any Error>) -> Void

    public init(
        runner: ReconcileRunner,
        interval: Duration,
        spread: Duration = .zero,
        onPass: @escaping @Sendable (Result<DriftReport, any Error>) -> Void
    ) {
        self.runner = runner
        self.interval = interval
        self.spread = min(spread, interval)
        self.onPass = onPass
    }

    public func run() async throws {
        let clock = ContinuousClock()
        while !Task.isShuttingDownGracefully && !Task.isCancelled {
            let start = clock.now
            // Shielded from cancellation (an unstructured task): a started account runs to the end
            // of its transactions. Graceful shutdown still reaches the staggering waits through the
            // inherited task-local.
            let runner = self.runner
            let spread = self.spread
            let result = await Task { () async -> Result<DriftReport, any Error> in
                do { return .success(try await runner.pass(trigger: "schedule", spread: spread)) } catch { return .failure(error) }
            }.value
            onPass(result)
            do {
                let next = start + interval
                try await cancelWhenGracefulShutdown { try await clock.sleep(until: next) }
            } catch {
                return
            }
        }
    }
}

extension DriftReport {
    /// One line for a log or a terminal: run, accounts, what changed, errors, duration.
    public var summaryLine: String {
        let t = totals
        let accounts = Set(sections.map(\.accountID)).count
        return "pass \(runID.map(String.init) ?? "-") at \(UTC.iso8601(startedAt)): \(accounts) accounts, \(sections.count) account-markets; "
            + "drifted \(t[.drifted]), closed \(t[.closed]), adopted \(t[.adopted]), stale? \(t[.staleSuspected]), "
            + "unresolved \(t[.unresolved]), orphans \(t[.foreignOrphan]), errors \(errorCount); \(finishedAt - startedAt) ms"
    }
}
