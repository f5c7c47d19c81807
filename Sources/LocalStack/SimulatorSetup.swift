import BinanceSimulator
import OrderSyncApp
import Scenarios
import SyncCore

#if canImport(FoundationEssentials)
import FoundationEssentials
#else
import Foundation
#endif

/// Builds a simulator from `ordersync simulate`'s options.
public enum SimulatorSetup {
    /// - Parameters:
    ///   - weightLimit: request weight per window for both products (nil: the real 6000 spot / 2400 futures).
    ///   - windowSeconds: the weight window (60 on the real exchange).
    public static func exchange(
        scenario: Scenario?,
        latencyMs: Int,
        faultRate: Double,
        seed: UInt64,
        weightLimit: Int? = nil,
        windowSeconds: Int = 60,
        loadedAt: Millis? = nil
    ) async -> Exchange {
        var faults = FaultSettings.uniform(faultRate)
        faults.latencyMs = latencyMs
        var limits = RateLimits(windowSeconds: windowSeconds)
        if let weightLimit {
            limits.spotWeight = weightLimit
            limits.futuresWeight = weightLimit
        }
        let exchange = Exchange(configuration: SimulatorConfiguration(limits: limits, faults: faults, seed: seed), clock: EntryPoints.wallClock)
        if let scenario { await exchange.load(scenario, at: loadedAt) }
        return exchange
    }
}
