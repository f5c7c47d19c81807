import BinanceAPI
import BinanceSimulator
import Foundation
import OriginKeys
import SyncCore
import Testing

@Suite struct ClientTests {
    @Test func listsQueriesAndCancelsOnBothMarkets() async throws {
        try await Rig.with { rig in
            let client = rig.client()
            let spot = try await rig.resting(market: .spot, client: "s-1")
            let a = try await rig.resting()
            let b = try await rig.resting(symbol: "ETHUSDT", price: "3000")
            let algo = try await rig.exchange.placeAlgoByHand(
                NewOrder(
                    symbol: "BTCUSDT",
                    side: .sell,
                    type: "STOP_MARKET",
                    quantity: Amount("0.002"),
                    stopPrice: Amount("40000"),
                    clientOrderID: "stop-1"
                ),
                account: AccountID(1)
            )

            let spotListing = await client.openOrders(.spot)
            #expect(spotListing.coverage == .complete && spotListing.orders.map(\.id) == [spot])
            let futures = await client.openOrders(.futures)
            #expect(futures.coverage == .complete)
            #expect(Set(futures.orders.map(\.id)) == [a, b, .algo(algo.id)])
            #expect(futures.orders.first { $0.isAlgo }?.stopPrice == Amount("40000"))
            let btc = await client.openOrders(.futures, symbol: "BTCUSDT")
            #expect(btc.scope == .symbols(["BTCUSDT"]) && Set(btc.orders.map(\.id)) == [a, .algo(algo.id)])
            // Another account sees none of these.
            #expect(await rig.client(2).openOrders(.futures).orders.isEmpty)

            #expect(try await client.order(.spot, symbol: "BTCUSDT", .client("s-1", algo: false)).id == spot)
            #expect(try await client.order(.futures, symbol: "BTCUSDT", .id(.algo(algo.id))).clientOrderID == "stop-1")
            await #expect { try await client.order(.futures, symbol: "BTCUSDT", .id(.regular(42))) } throws: {
                ($0 as? BinanceError)?.kind == .notFound
            }

            guard case .cancelled(let cancelled) = await client.cancel(.spot, symbol: "BTCUSDT", spot) else {
                Issue.record("spot cancel")
                return
            }
            #expect(cancelled.status == .canceled && cancelled.clientOrderID == "s-1")
            guard case .cancelled(let algoCancelled) = await client.cancel(.futures, symbol: "BTCUSDT", .algo(algo.id)) else {
                Issue.record("algo cancel")
                return
            }
            #expect(algoCancelled.status == .canceled)
            #expect(await client.cancel(.futures, symbol: "BTCUSDT", .regular(42)) == .notFound)
            #expect(await rig.exchange.wideCancelCalls.isEmpty)
        }
    }

    @Test func aCancelThatMeetsAFillReportsTheFill() async throws {
        try await Rig.with { rig in
            let id = try await rig.resting()
            _ = try await rig.exchange.act(.fill, account: AccountID(1), product: .futures, id: Int64(id.rawValue)!)
            let outcome = await rig.client().cancel(.futures, symbol: "BTCUSDT", id)
            guard case .alreadyFinal(let order) = outcome else {
                Issue.record("\(outcome)")
                return
            }
            #expect(order.status == .filled && order.executedQuantity == Amount("0.002"))
        }
    }

    @Test func aBatchCancelNamesItsOrdersAndEachIsSettled() async throws {
        // A deadline no busy machine reaches: a timed-out batch would (rightly) be sent again; and
        // Binance's widest recvWindow, so that a query delayed on a busy machine is not refused
        // (-1021) and (rightly) sent again after a time resync.
        try await Rig.with(recvWindow: 60_000, requestTimeout: .seconds(300)) { rig in
            var ids: [ExchangeOrderID] = []
            for i in 0..<9 { ids.append(try await rig.resting(price: String(40000 + i * 10))) }
            _ = try await rig.exchange.act(.expire, account: AccountID(1), product: .futures, id: Int64(ids[4].rawValue)!)
            let outcomes = await rig.client().cancelBatch(symbol: "BTCUSDT", ids + [.regular(99)])
            #expect(outcomes.map(\.0) == ids + [.regular(99)])
            #expect(outcomes.filter { if case .cancelled = $0.1 { true } else { false } }.count == 8)
            #expect(outcomes[4].1.finalOrder?.status == .expired)
            #expect(outcomes.last?.1 == .notFound)
            // One batchOrders request for the ten; the two items it answered with errors settled by query.
            let stats = await rig.exchange.requestCounts
            #expect(stats["DELETE /fapi/v1/batchOrders"] == 1)
            #expect(stats["DELETE /fapi/v1/order"] == nil)
            #expect(stats["GET /fapi/v1/order"] == 2)

            // More than Binance's ten, or an algo order, is refused without a request.
            let eleven = await rig.client().cancelBatch(symbol: "BTCUSDT", (0..<11).map { .regular(Int64(1000 + $0)) })
            #expect(eleven.allSatisfy { if case .failed(let e) = $0.1 { e.kind == .rejected } else { false } })
            #expect(await rig.exchange.requestCounts["DELETE /fapi/v1/batchOrders"] == 1)
            #expect(
                AccountClient.cancelLimits(.futures, spotParallelism: 5)
                    == CancelLimits(batchSize: 10, batchPerSymbol: true, batchesConditional: false, concurrency: 64)
            )
            #expect(AccountClient.cancelLimits(.spot, spotParallelism: 5).batchSize == 1)
        }
    }

    @Test func clockSkewIsRecoveredByTimeSync() async throws {
        for skew in [Int64(3000), -3000] {
            var config = SimulatorConfiguration()
            config.faults.clockSkewMs = skew
            try await Rig.with(simulator: config) { rig in
                let listing = await rig.client().openOrders(.futures, symbol: "BTCUSDT")
                #expect(listing.coverage == .complete, "skew \(skew): \(listing.coverage)")
                // The simulator moves its clock while the client runs: -1021, resync, one retry.
                var moved = FaultSettings()
                moved.clockSkewMs = skew * 2
                await rig.exchange.setFaults(moved)
                #expect(await rig.client().openOrders(.spot).coverage == .complete)
            }
        }
    }

    @Test func errorsAreTypedAndCarryNoSecrets() async throws {
        try await Rig.with { rig in
            let bad = rig.session.account(Credentials(apiKey: "key-1", secret: Secret("not-the-secret")))
            let listing = await bad.openOrders(.futures, symbol: "BTCUSDT")
            guard case .failed(let reason) = listing.coverage else {
                Issue.record("\(listing.coverage)")
                return
            }
            #expect(reason.contains("authentication") && reason.contains("-1022"))
            #expect(!reason.contains("not-the-secret") && !reason.contains("signature=") && !reason.contains("timestamp="))
            let unknown = rig.session.account(Credentials(apiKey: "nobody", secret: Secret("x")))
            let outcome = await unknown.cancel(.futures, symbol: "BTCUSDT", .regular(1))
            guard case .failed(let error) = outcome else {
                Issue.record("\(outcome)")
                return
            }
            #expect(error.kind == .authentication && error.code == -2015)
        }
    }
}
