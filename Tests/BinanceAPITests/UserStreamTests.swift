import BinanceSimulator
import Foundation
import SyncCore
import Synchronization
import Testing

@testable import BinanceAPI

/// The user data stream client against the simulator's streams.
@Suite struct UserStreamTests {
    /// What a follower was told, in order.
    final class Told: Sendable {
        let signals = Mutex<[StreamSignal]>([])
        var orders: [ExchangeOrderID] {
            signals.withLock { $0.compactMap { if case .order(let o, _) = $0 { o.id } else { nil } } }
        }
        var gaps: Int { signals.withLock { $0.filter { if case .gap = $0 { true } else { false } }.count } }
    }

    /// An event slow to apply (its account's lock, the database) does not stop the connection
    /// from answering the exchange's pings: with pings every 100 ms (the simulator closes a
    /// connection whose last ping is unanswered at the next), the first event held for twenty
    /// ping periods leaves the connection up, and the events behind it are applied after it, in
    /// their order, and the next one after them on the same connection. Read and applied in one
    /// loop, the connection closed after two periods: a gap and a new connection before the next.
    @Test(arguments: [Market.futures, .spot])
    func aSlowEventDoesNotStopThePongs(_ market: Market) async throws {
        var simulator = SimulatorConfiguration()
        simulator.streams.pingInterval = .milliseconds(100)
        try await Rig.with(accounts: 1, simulator: simulator, streams: true) { rig in
            let told = Told()
            let holding = Mutex(true)
            let follower = Task {
                await rig.client().follow(market) { signal in
                    told.signals.withLock { $0.append(signal) }
                    // The first order's apply takes twenty ping periods.
                    if case .order = signal, holding.withLock({ $0 }) {
                        try? await Task.sleep(for: .seconds(2))
                        holding.withLock { $0 = false }
                    }
                }
            }
            defer { follower.cancel() }
            try await eventually("the stream is live") { told.signals.withLock { $0.contains(.live) } }
            var placed: [ExchangeOrderID] = []
            for price in ["50000", "50001", "50002"] { placed.append(try await rig.resting(market: market, price: price)) }
            try await eventually("all three events applied", timeout: .seconds(60)) { told.orders.count >= 3 }
            // One more order once the hold is over: on the same connection, nothing between.
            placed.append(try await rig.resting(market: market, price: "50003"))
            try await eventually("the fourth event applied", timeout: .seconds(60)) { told.orders.count >= 4 }
            let signals = told.signals.withLock { $0 }
            #expect(told.orders == placed)
            #expect(
                signals.count == 5 && signals.first == .live && told.gaps == 0,
                "the connection stayed up while the first event was applied: \(signals)"
            )
        }
    }

    func eventually(_ what: String, timeout: Duration = .seconds(30), _ condition: () -> Bool) async throws {
        let deadline = ContinuousClock.now + timeout
        while !condition() {
            guard ContinuousClock.now < deadline else {
                Issue.record("not within \(timeout): \(what)")
                return
            }
            try await Task.sleep(for: .milliseconds(20))
        }
    }
}
