import BinanceSimulator
import SyncCore

#if canImport(FoundationEssentials)
import FoundationEssentials
#else
import Foundation
#endif

/// Builds a simulator from `ordersync simulate`'s options.
public enum SimulatorSetup {
    /// The wall clock in milliseconds (the simulator's time source outside tests).
    public static let wallClock: @Sendable () -> Millis = { Int64(Date().timeIntervalSince1970 * 1000) }

    public static func exchange(scenarioPath: String?, latencyMs: Int, faultRate: Double, seed: UInt64) async throws(AppError) -> Exchange {
        var faults = FaultSettings.uniform(faultRate)
        faults.latencyMs = latencyMs
        let exchange = Exchange(configuration: SimulatorConfiguration(faults: faults, seed: seed), clock: wallClock)
        if let scenarioPath {
            let scenario = try OrderSyncApp.readScenario(scenarioPath)
            await exchange.load(scenario)
        }
        return exchange
    }
}
