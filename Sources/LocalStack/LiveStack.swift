import BinanceSimulator
import BithumbSimulator
import Logging
import OrderStore
import OrderSyncApp
import Scenarios
import ServiceLifecycle
import SyncCore
import UpbitSimulator
import WebhookServer

/// The whole daemon in one process on loopback: the simulators (Binance's and Upbit's) on free
/// ports loaded from a scenario, the scenario's DB side in a SQLite file, a `Daemon` pointed at the simulator and its
/// webhook server on a free port. Used by `ordersync demo`, the end-to-end tests and benchmarks.
public struct LiveStack: Sendable {
    public let exchange: Exchange
    public let upbit: UpbitExchange
    public let bithumb: UpbitExchange
    public let daemon: Daemon
    public let simulatorURL: String
    public let upbitURL: String
    public let bithumbURL: String
    public let webhookURL: String
    let simulatorGroup: ServiceGroup
    let serverGroup: ServiceGroup
    let runs: Task<Void, Never>

    /// Starts everything on the scenario at `scenarioPath` (read here unless the caller read it
    /// already); `configure` adjusts the daemon's options and the webhook's settings.
    public static func start(
        scenarioPath: String,
        scenario: Scenario? = nil,
        databasePath: String,
        latencyMs: Int = 0,
        weightLimit: Int? = nil,
        configure: (inout ReconcileOptions, inout WebhookSettings) -> Void = { _, _ in }
    ) async throws(AppError) -> LiveStack {
        let world: Scenario
        if let scenario { world = scenario } else { world = try EntryPoints.readScenario(scenarioPath) }
        // Both sides' ages count from one moment: a placeholder row written seconds before its order
        // stays seconds before it however long the database takes to open on a busy machine.
        let loadedAt = EntryPoints.wallClock()
        let exchange = await SimulatorSetup.exchange(
            scenario: world,
            latencyMs: latencyMs,
            faultRate: 0,
            seed: 1,
            weightLimit: weightLimit,
            loadedAt: loadedAt
        )
        let upbit = UpbitExchange(clock: EntryPoints.wallClock)
        await upbit.load(world, at: loadedAt)
        await upbit.setFaults(latencyMs: latencyMs, failingAccounts: [])
        let bithumb = BithumbSimulator.exchange(clock: EntryPoints.wallClock)
        await bithumb.load(world, exchange: "BITHUMB", at: loadedAt)
        await bithumb.setFaults(latencyMs: latencyMs, failingAccounts: [])
        let db = try await EntryPoints.openDatabase(databasePath, maxConnections: 1)
        do { try await db.load(world, now: loadedAt) } catch {
            await db.close()
            throw AppError("\(scenarioPath): \(error)")
        }
        await db.close()
        var logger = Logger(label: "ordersync.live")
        logger.logLevel = .critical
        let simulatorPort = AsyncStream<Int>.makeStream()
        let webhookPort = AsyncStream<Int>.makeStream()
        let upbitPort = AsyncStream<Int>.makeStream()
        let simulator = Simulator(exchange: exchange).application(port: 0) { simulatorPort.continuation.yield($0) }
        let bithumbPort = AsyncStream<Int>.makeStream()
        let upbitSimulator = UpbitSimulator(exchange: upbit).application(port: 0) { upbitPort.continuation.yield($0) }
        let bithumbSimulator = BithumbSimulator(exchange: bithumb).application(port: 0) { bithumbPort.continuation.yield($0) }
        let simulatorGroup = ServiceGroup(configuration: .init(services: [simulator, upbitSimulator, bithumbSimulator], logger: logger))
        let simulatorRun = Task { try? await simulatorGroup.run() }
        guard let simPort = await simulatorPort.stream.first(where: { _ in true }), let upPort = await upbitPort.stream.first(where: { _ in true }),
            let bitPort = await bithumbPort.stream.first(where: { _ in true })
        else { throw AppError("the simulators did not start") }
        var options = ReconcileOptions(databasePath: databasePath)
        options.config.exchange.spotURL = "http://127.0.0.1:\(simPort)"
        options.config.exchange.futuresURL = options.config.exchange.spotURL
        options.config.exchange.upbitURL = "http://127.0.0.1:\(upPort)"
        options.config.exchange.bithumbURL = "http://127.0.0.1:\(bitPort)"
        var settings = WebhookSettings()
        settings.port = 0
        configure(&options, &settings)
        let daemon: Daemon
        do { daemon = try await Daemon.make(options) } catch {
            await simulatorGroup.triggerGracefulShutdown()
            await simulatorRun.value
            throw error
        }
        let server = daemon.webhook(settings).application { webhookPort.continuation.yield($0) }
        // With `options.streams`, the user data streams run beside the webhook, as in `serve`.
        let services: [any Service] = (daemon.streams.map { [$0] } ?? []) + [server]
        let serverGroup = ServiceGroup(configuration: .init(services: services, logger: logger))
        let serverRun = Task { try? await serverGroup.run() }
        guard let hookPort = await webhookPort.stream.first(where: { _ in true }) else { throw AppError("the webhook did not start") }
        return LiveStack(
            exchange: exchange,
            upbit: upbit,
            bithumb: bithumb,
            daemon: daemon,
            simulatorURL: options.config.exchange.spotURL,
            upbitURL: options.config.exchange.upbitURL,
            bithumbURL: options.config.exchange.bithumbURL,
            webhookURL: "http://127.0.0.1:\(hookPort)",
            simulatorGroup: simulatorGroup,
            serverGroup: serverGroup,
            runs: Task {
                await serverRun.value
                await simulatorRun.value
            }
        )
    }

    /// Stops the webhook (and the streams), then the simulator, and closes the daemon's HTTP clients.
    public func stop() async {
        await serverGroup.triggerGracefulShutdown()
        await simulatorGroup.triggerGracefulShutdown()
        await runs.value
        await daemon.shutdown()
    }
}
