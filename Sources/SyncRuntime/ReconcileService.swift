import ServiceLifecycle
import SyncCore

/// Reconciliation on a schedule, as a Service: a pass, then a wait of `interval`, until graceful
/// shutdown. A pass that has started is never cancelled by shutdown (its writes finish); the wait is.
public struct ReconcileService: Service {
    let runner: ReconcileRunner
    let interval: Duration
    let onPass: @Sendable (Result<DriftReport, any Error>) -> Void

    public init(runner: ReconcileRunner, interval: Duration, onPass: @escaping @Sendable (Result<DriftReport, any Error>) -> Void) {
        self.runner = runner
        self.interval = interval
        self.onPass = onPass
    }

    public func run() async throws {
        while !Task.isShuttingDownGracefully && !Task.isCancelled {
            // Shielded from graceful shutdown: the pass runs to the end of its transactions.
            let runner = self.runner
            let result = await Task { () async -> Result<DriftReport, any Error> in
                do { return .success(try await runner.pass(trigger: "schedule")) } catch { return .failure(error) }
            }.value
            onPass(result)
            do {
                let interval = self.interval
                try await cancelWhenGracefulShutdown { try await Task.sleep(for: interval) }
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
