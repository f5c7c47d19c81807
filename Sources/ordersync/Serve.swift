import ArgumentParser
import Foundation
import Logging
import OrderSyncApp
import ServiceLifecycle
import SyncRuntime
import SyncCore

struct ServeCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "serve",
        abstract: "Reconcile on a schedule: a pass every interval, one summary line per pass on stdout, full reports in the DB.",
        discussion: "SIGTERM or SIGINT lets the pass in flight finish its writes, then exits 0.")

    @OptionGroup var flags: ReconcileFlags
    @Option(name: .customLong("interval-seconds"), help: "Seconds from the start of one pass to the start of the next ([reconcile] interval_seconds, default 30); accounts are staggered over [reconcile] spread of it.")
    var intervalSeconds: Double?

    func validate() throws {
        if let intervalSeconds, intervalSeconds <= 0 { throw ValidationError("--interval-seconds must be positive") }
    }

    func run() async throws {
        let (service, gateway): (ReconcileService, BinanceGateway)
        do {
            let (options, file) = try flags.options()
            let interval = intervalSeconds ?? file.intervalSeconds
            (service, gateway) = try OrderSyncApp.reconcileService(options, interval: .milliseconds(Int64(interval * 1000)), spread: file.spread) { result in
                switch result {
                case .success(let report): print(report.summaryLine)
                case .failure(let error): print("pass failed: \(error)")
                }
                fflush(nil)
            }
        } catch {
            printError(error.description)
            throw ExitCode(2)
        }
        var logger = Logger(label: "ordersync.serve")
        logger.logLevel = .warning
        let group = ServiceGroup(configuration: .init(services: [service], gracefulShutdownSignals: [.sigterm, .sigint], logger: logger))
        try await group.run()
        await gateway.shutdown()
    }
}
