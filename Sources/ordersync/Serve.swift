import ArgumentParser
import Foundation
import Logging
import Metrics
import OrderSyncApp
import ServiceLifecycle
import SyncCore
import SyncRuntime
import WebhookServer

struct ServeCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "serve",
        abstract: "The daemon: reconcile on a schedule and serve the webhook (POST /api/webhook, GET /healthz, GET /metrics).",
        discussion: """
            One summary line per pass on stdout, and a line per alert ("alert <kind>: …", also sent to the [alerts] \
            sinks: Telegram, a signed JSON webhook); full reports and alerts in the DB. The webhook takes the origin app's payload for \
            CANCEL_ALL_ORDER and RECONCILE (docs/openapi.yaml). SIGTERM or SIGINT stops the webhook, lets the writes in \
            flight finish, then exits 0.
            """
    )

    @OptionGroup var flags: ReconcileFlags
    @Option(
        name: .customLong("interval-seconds"),
        help:
            "Seconds from the start of one pass to the start of the next ([reconcile] interval_seconds, default \(Int(defaults.reconcile.intervalSeconds))); accounts are staggered over [reconcile] spread of it."
    )
    var intervalSeconds: Double?
    @Option(
        help: ArgumentHelp("Webhook address ([webhook] listen, default \(defaults.webhook.listen); port 0 picks a free one).", valueName: "host:port")
    )
    var listen: String?

    func validate() throws {
        if let intervalSeconds, intervalSeconds <= 0 { throw ValidationError("--interval-seconds must be positive") }
        if let listen, OrdersyncConfig.listenAddress(listen) == nil {
            throw ValidationError("--listen \(listen): expected HOST:PORT, e.g. 127.0.0.1:8080")
        }
    }

    func run() async throws {
        let daemon: Daemon
        let interval: Double
        let spread: Double
        var settings = WebhookSettings()
        do {
            var options = try flags.options()
            options.streams = options.config.streams.enabled
            let config = options.config
            daemon = try await Daemon.make(options) { line in
                print(line)
                fflush(nil)
            }
            interval = intervalSeconds ?? config.reconcile.intervalSeconds
            spread = config.reconcile.spread
            let address = OrdersyncConfig.listenAddress(listen ?? config.webhook.listen)!
            settings.host = address.host
            settings.port = address.port
            settings.ratePerSecond = config.webhook.ratePerSecond
            settings.burst = config.webhook.burst
            settings.maxLagMs = config.webhook.maxLagMs
            settings.maxPassAgeMs = Millis(interval * 3000) + 60_000
        } catch {
            printError(error.description)
            throw ExitCode(2)
        }
        // Every metric of the process (exchange client included) goes to the registry /metrics prints.
        MetricsSystem.bootstrap(daemon.telemetry.factory)
        // Cancels a previous run recorded but did not resolve are finished before anything else.
        do {
            for report in try await daemon.resumeCancels() {
                print(
                    "resumed cancel \(report.requestID): \(report.totals.selected) order(s) — cancelled \(report.totals.cancelled), already closed \(report.totals.alreadyClosed), failed \(report.totals.failed)"
                )
            }
        } catch {
            print("resuming unresolved cancels failed: \(error)")
        }
        let scheduler = daemon.scheduler(interval: .milliseconds(Int64(interval * 1000)), spread: spread) { result in
            switch result {
            case .success(let report): print(report.summaryLine)
            case .failure(let error): print("pass failed: \(error)")
            }
            fflush(nil)
        }
        let host = settings.host
        let webhook = daemon.webhook(settings).application { port in
            print("webhook listening on http://\(host):\(port) (POST /api/webhook, GET /healthz, GET /metrics)")
            fflush(nil)
        }
        var logger = Logger(label: "ordersync.serve")
        logger.logLevel = .warning
        // Started in order, stopped in reverse: the webhook stops taking requests first.
        var services: [any Service] = [scheduler, webhook]
        if let streams = daemon.streams { services.insert(streams, at: 0) }
        let group = ServiceGroup(configuration: .init(services: services, gracefulShutdownSignals: [.sigterm, .sigint], logger: logger))
        try await group.run()
        await daemon.shutdown()
    }
}
