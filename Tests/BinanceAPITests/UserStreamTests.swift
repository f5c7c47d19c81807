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

    /// The connection is read while an event is applied, which is what keeps it answering the
    /// exchange's pings (the WebSocket client answers a ping only while its frames are read): a
    /// late pong is a dropped connection, and each drop a resync's weight. Decided by what was
    /// read, not by how fast: with room for two events waiting, the first event's apply is held
    /// until the simulator no longer has the connection (its pings an hour apart, so only the
    /// client ends it), which happens only when the client has read the three events behind it
    /// (the third does not fit) and closed the connection it no longer reads. Read and applied in
    /// one loop, nothing more is read while the first is held, and the hold runs out at its
    /// deadline; so it does when a client that stopped reading leaves the connection open. What was
    /// read is applied in order before the gap, and the gap says why.
    @Test(arguments: [Market.futures, .spot])
    func eventsAreReadWhileOneIsApplied(_ market: Market) async throws {
        var simulator = SimulatorConfiguration()
        simulator.streams.pingInterval = .seconds(3600)
        try await Rig.with(accounts: 1, simulator: simulator, streams: true, streamEventBuffer: 2) { rig in
            let told = Told()
            let released = Mutex(false)
            let streams = rig.exchange.streams
            let follower = Task {
                await rig.client().follow(market) { signal in
                    let first = told.signals.withLock { s in
                        s.append(signal)
                        return s.count == 2
                    }
                    guard first, case .order = signal else { return }
                    let deadline = ContinuousClock.now + .seconds(60)
                    while streams.connectionCount[Product(market), default: 0] > 0, ContinuousClock.now < deadline {
                        try? await Task.sleep(for: .milliseconds(20))
                    }
                    released.withLock { $0 = streams.connectionCount[Product(market), default: 0] == 0 }
                }
            }
            defer { follower.cancel() }
            try await eventually("the stream is live") { told.signals.withLock { $0.contains(.live) } }
            // The client is live once the upgrade is answered; the simulator sends events to the
            // connection once its handler has registered it (a moment later on a busy machine).
            try await eventually("the simulator has the connection") { streams.connectionCount[Product(market), default: 0] == 1 }
            var placed: [ExchangeOrderID] = []
            for price in ["50000", "50001", "50002", "50003"] { placed.append(try await rig.resting(market: market, price: price)) }
            try await eventually("the connection ended", timeout: .seconds(90)) { told.gaps > 0 }
            let signals = told.signals.withLock { s in Array(s.prefix { if case .gap = $0 { false } else { true } }) }
            let gap = told.signals.withLock { s in s.first { if case .gap = $0 { true } else { false } } }
            #expect(released.withLock { $0 }, "the first event was held until the client closed the connection")
            #expect(signals.first == .live && signals.count == 4, "live and three orders before the gap: \(signals)")
            #expect(
                signals.compactMap { if case .order(let o, _) = $0 { o.id } else { nil } } == Array(placed.prefix(3)),
                "the first three orders, in their order"
            )
            #expect(gap == .gap(reason: "more than 2 events waiting to be applied"))
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
