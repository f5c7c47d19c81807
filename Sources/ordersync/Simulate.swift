import ArgumentParser
import BinanceSimulator
import BithumbSimulator
import Foundation
import LocalStack
import Logging
import OrderSyncApp
import Scenarios
import ServiceLifecycle
import SyncCore
import UpbitSimulator

/// The exchanges `simulate` can stand in for.
enum SimulatedExchange: String, ExpressibleByArgument, CaseIterable {
    case binance, upbit, bithumb
}

struct Simulate: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Run an exchange simulator: Binance (spot /api/v3 and futures /fapi/v1 on one port), Upbit (/v1) or Bithumb (/v1, /v2).",
        discussion: """
            Loads the scenario's accounts of that exchange (api_key/api_secret) and their exchange orders, prints the base \
            URL, and serves until SIGINT or SIGTERM. The unsigned control API is under /_sim/ (Binance: truth, stats, act, \
            place, faults, ban, limits, mark; Upbit and Bithumb: truth, stats, act, place, faults, limits).
            """
    )

    @Option(help: "The exchange to simulate (binance, upbit, bithumb).")
    var exchange: SimulatedExchange = .binance

    @Option(help: "Port to listen on (0 picks a free one).")
    var port: Int = 0

    @Option(help: "Address to bind.")
    var host: String = "127.0.0.1"

    @Option(help: ArgumentHelp("Scenario JSON file (fixtures/README.md).", valueName: "file"))
    var scenario: String?

    @Option(name: .customLong("latency-ms"), help: "Latency added to every signed request, in ms.")
    var latencyMs: Int = 0

    @Option(help: "Seed for faults and generated ids.")
    var seed: UInt64 = 1

    @Option(name: .customLong("fault-rate"), help: "Probability (0–1) that a signed request meets a fault, spread over every fault kind.")
    var faultRate: Double = 0

    @Option(name: .customLong("weight-limit"), help: "Request weight per window for both products (default: the real 6000 spot, 2400 futures).")
    var weightLimit: Int?

    @Option(name: .customLong("window-seconds"), help: "Length of the weight window in seconds (the real one is 60).")
    var windowSeconds: Int = 60

    @Option(
        name: .customLong("extra-accounts"),
        help: "Add N accounts (ids 1001…, keys key-1…key-N, secrets secret-1…secret-N), e.g. for benchmarks."
    )
    var extraAccounts: Int = 0

    func validate() throws {
        guard (0...100_000).contains(extraAccounts) else { throw ValidationError("--extra-accounts must be between 0 and 100000") }
        if let weightLimit, weightLimit <= 0 { throw ValidationError("--weight-limit must be positive") }
        guard windowSeconds > 0 else { throw ValidationError("--window-seconds must be positive") }
        guard (0...65535).contains(port) else { throw ValidationError("--port \(port) is not a port (0–65535)") }
        guard latencyMs >= 0 else { throw ValidationError("--latency-ms must not be negative") }
        guard (0...1).contains(faultRate) else { throw ValidationError("--fault-rate \(faultRate) must be between 0 and 1") }
    }

    func run() async throws {
        if exchange != .binance { return try await runSpot() }
        let exchange: Exchange
        do {
            exchange = await SimulatorSetup.exchange(
                scenario: try scenario.map(EntryPoints.readSimulatorScenario),
                latencyMs: latencyMs,
                faultRate: faultRate,
                seed: seed,
                weightLimit: weightLimit,
                windowSeconds: windowSeconds
            )
        } catch {
            printError(error.description)
            throw ExitCode(2)
        }
        for i in stride(from: 1, through: extraAccounts, by: 1) {
            await exchange.addAccount(AccountID(Int64(1000 + i)), apiKey: "key-\(i)", secret: "secret-\(i)")
        }
        let host = self.host
        let app = Simulator(exchange: exchange).application(host: host, port: port) { bound in
            print("simulator listening on http://\(host):\(bound) (spot /api/v3, futures /fapi/v1, control /_sim/)")
            fflush(nil)
        }
        var logger = Logger(label: "ordersync.simulate")
        logger.logLevel = .warning
        let group = ServiceGroup(configuration: .init(services: [app], gracefulShutdownSignals: [.sigterm, .sigint], logger: logger))
        try await group.run()
    }

    /// Upbit's or Bithumb's simulator: the scenario's accounts of that exchange and their orders,
    /// the exchange's limits, latency.
    func runSpot() async throws {
        if weightLimit != nil || faultRate > 0 || windowSeconds != 60 {
            printError("--weight-limit, --window-seconds and --fault-rate are Binance's; \(exchange.rawValue)'s faults are set by POST /_sim/faults")
            throw ExitCode(2)
        }
        let book = exchange == .upbit ? UpbitExchange(clock: EntryPoints.wallClock) : BithumbSimulator.exchange(clock: EntryPoints.wallClock)
        do {
            if let scenario { await book.load(try EntryPoints.readSimulatorScenario(scenario), exchange: exchange.rawValue.uppercased()) }
        } catch {
            printError(error.description)
            throw ExitCode(2)
        }
        await book.setFaults(latencyMs: latencyMs, failingAccounts: [])
        for i in stride(from: 1, through: extraAccounts, by: 1) {
            await book.addAccount(accessKey: "key-\(i)", secret: "secret-\(i)", account: AccountID(Int64(1000 + i)))
        }
        let host = self.host
        let name = exchange.rawValue
        let announce: @Sendable (Int) async -> Void = { bound in
            print("\(name) simulator listening on http://\(host):\(bound) (\(name == "upbit" ? "/v1" : "/v1, /v2"), control /_sim/)")
            fflush(nil)
        }
        var logger = Logger(label: "ordersync.simulate")
        logger.logLevel = .warning
        let service: any Service =
            exchange == .upbit
            ? UpbitSimulator(exchange: book).application(host: host, port: port, onRunning: announce)
            : BithumbSimulator(exchange: book).application(host: host, port: port, onRunning: announce)
        let group = ServiceGroup(configuration: .init(services: [service], gracefulShutdownSignals: [.sigterm, .sigint], logger: logger))
        try await group.run()
    }
}
