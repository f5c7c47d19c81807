import BinanceSimulator
import Foundation
import NIOHTTP1
import SyncCore
import Testing

@Suite struct ControlTests {
    @Test func marketActivityShowsInListingsQueriesAndTheTruth() async throws {
        try await Harness.with { h in
            let a = try await h.restingFutures()
            let b = try await h.restingFutures()
            let c = try await h.restingFutures()
            let partial = try await h.raw(
                .POST,
                "/_sim/act",
                body: #"{"account_id":1,"market":"FUTURES","order_id":\#(a),"action":"partial_fill","quantity":"0.001"}"#
            )
            #expect(partial.status == 200, "\(partial.body)")
            _ = try await h.raw(.POST, "/_sim/act", body: #"{"account_id":1,"market":"FUTURES","order_id":\#(b),"action":"fill"}"#)
            _ = try await h.raw(.POST, "/_sim/act", body: #"{"account_id":1,"market":"FUTURES","order_id":\#(c),"action":"expire"}"#)
            let open = try #require(try await h.signed(.GET, "/fapi/v1/openOrders").json as? [[String: Any]])
            #expect(open.count == 1)
            #expect(open.first?["status"] as? String == "PARTIALLY_FILLED" && open.first?["executedQty"] as? String == "0.001")
            let filled = try await h.signed(.GET, "/fapi/v1/order", [("symbol", "BTCUSDT"), ("orderId", String(b))])
            #expect((filled.json as? [String: Any])?["status"] as? String == "FILLED")
            #expect(try await h.signed(.DELETE, "/fapi/v1/order", [("symbol", "BTCUSDT"), ("orderId", String(c))]).code == -2011)

            // An order placed by hand is listed like any other; the truth holds every order.
            let hand = try await h.raw(
                .POST,
                "/_sim/place",
                body:
                    #"{"account_id":1,"market":"SPOT","symbol":"ETHUSDT","side":"SELL","type":"LIMIT","price":"9000","quantity":"0.01","client_order_id":"manual-1"}"#
            )
            #expect(hand.status == 200, "\(hand.body)")
            let spot = try #require(try await h.signed(.GET, "/api/v3/openOrders", [("symbol", "ETHUSDT")]).json as? [[String: Any]])
            #expect(spot.map { $0["clientOrderId"] as? String } == ["manual-1"])
            let truth = await h.exchange.truth()
            #expect(truth.count == 4)
            #expect(Set(truth.map(\.status)) == [.partiallyFilled, .filled, .expired, .new])
            let viaHTTP = try #require(try await h.raw(.GET, "/_sim/truth").json as? [[String: Any]])
            #expect(viaHTTP.count == 4)

            // Bad control requests are 400 with a reason, and change nothing.
            let bad = try await h.raw(.POST, "/_sim/act", body: #"{"account_id":1,"market":"FUTURES","order_id":\#(a),"action":"explode"}"#)
            #expect(bad.status == 400 && bad.body.contains("action must be one of"))
            #expect(await h.exchange.truth() == truth)
        }
    }

    @Test func wideCancelsAreCounted() async throws {
        try await Harness.with { h in
            _ = try await h.restingFutures()
            _ = try await h.restingSpot()
            #expect(await h.exchange.wideCancelCalls.isEmpty)
            #expect(try await h.signed(.DELETE, "/fapi/v1/allOpenOrders", [("symbol", "BTCUSDT")]).status == 200)
            #expect(try await h.signed(.DELETE, "/api/v3/openOrders", [("symbol", "BTCUSDT")]).status == 200)
            // Nothing open any more: spot answers -2011, and the call still counts.
            #expect(try await h.signed(.DELETE, "/api/v3/openOrders", [("symbol", "BTCUSDT")]).code == -2011)
            #expect(try await h.signed(.DELETE, "/fapi/v1/algoOpenOrders", [("symbol", "BTCUSDT")]).status == 200)
            #expect(
                await h.exchange.wideCancelCalls == [
                    "DELETE /fapi/v1/allOpenOrders": 1, "DELETE /api/v3/openOrders": 2, "DELETE /fapi/v1/algoOpenOrders": 1,
                ]
            )
            let stats = try #require(try await h.raw(.GET, "/_sim/stats").json as? [String: Any])
            #expect((stats["wide_cancels"] as? [String: Int])?["DELETE /api/v3/openOrders"] == 2)
        }
    }

    @Test func algoOrdersLiveApartFromRegularOrders() async throws {
        try await Harness.with { h in
            let placed = try await h.signed(
                .POST,
                "/fapi/v1/algoOrder",
                [
                    ("algoType", "CONDITIONAL"), ("symbol", "BTCUSDT"), ("side", "SELL"),
                    ("type", "STOP_MARKET"), ("quantity", "0.002"), ("triggerPrice", "50000"), ("clientAlgoId", "stop-1"),
                ]
            )
            #expect(placed.status == 200, "\(placed.body)")
            let algoID = try Harness.orderID(placed, key: "algoId")
            #expect((try await h.signed(.GET, "/fapi/v1/openOrders").json as? [Any])?.isEmpty == true)
            let algos = try #require(try await h.signed(.GET, "/fapi/v1/openAlgoOrders").json as? [[String: Any]])
            #expect(algos.map { $0["clientAlgoId"] as? String } == ["stop-1"])
            #expect(algos.first?["algoStatus"] as? String == "NEW" && algos.first?["triggerPrice"] as? String == "50000.0")
            let cancelled = try await h.signed(.DELETE, "/fapi/v1/algoOrder", [("algoId", String(algoID))])
            #expect(cancelled.status == 200 && (cancelled.json as? [String: Any])?["code"] as? String == "200")
            let query = try await h.signed(.GET, "/fapi/v1/algoOrder", [("clientAlgoId", "stop-1")])
            #expect((query.json as? [String: Any])?["algoStatus"] as? String == "CANCELED")
            #expect(try await h.signed(.DELETE, "/fapi/v1/algoOrder", [("algoId", String(algoID))]).code == -2011)
        }
    }
}

@Suite struct FaultTests {
    static func faulted(_ configure: (inout FaultSettings) -> Void) -> SimulatorConfiguration {
        var f = FaultSettings()
        configure(&f)
        return SimulatorConfiguration(faults: f, seed: 7)
    }

    @Test func unknownOutcomeFaultsApplyTheRequestAndThenFail() async throws {
        for (setting, status, code) in [(\FaultSettings.unknownAfterApply, 503, -1000), (\.timeoutAfterApply, 500, -1007)] {
            try await Harness.with(Self.faulted { $0[keyPath: setting] = 1 }) { h in
                let reply = try await h.signed(
                    .POST,
                    "/fapi/v1/order",
                    [
                        ("symbol", "BTCUSDT"), ("side", "BUY"), ("type", "LIMIT"), ("timeInForce", "GTC"),
                        ("quantity", "0.002"), ("price", "50000"), ("newClientOrderId", "maybe-1"),
                    ]
                )
                #expect(reply.status == status && reply.code == code, "\(reply.body)")
                // The order exists though the client was told otherwise.
                #expect(await h.exchange.truth().map(\.clientOrderID) == ["maybe-1"])
            }
        }
    }

    @Test func failuresBeforeProcessingChangeNothing() async throws {
        try await Harness.with(Self.faulted { $0.serverError = 1 }) { h in
            let reply = try await h.signed(
                .POST,
                "/fapi/v1/order",
                [("symbol", "BTCUSDT"), ("side", "BUY"), ("type", "LIMIT"), ("timeInForce", "GTC"), ("quantity", "0.002"), ("price", "50000")]
            )
            #expect(reply.status == 500 && reply.code == -1000)
            #expect(await h.exchange.truth().isEmpty)
            // Unsigned endpoints are never faulted.
            #expect(try await h.raw(.GET, "/fapi/v1/time").status == 200)
        }
        try await Harness.with(Self.faulted { $0.rateLimitStorm = 1 }) { h in
            let reply = try await h.signed(.GET, "/fapi/v1/openOrders")
            #expect(reply.status == 429 && reply.headers["retry-after"] == "1")
        }
        try await Harness.with(Self.faulted { $0.dropConnection = 1 }) { h in
            await #expect(throws: (any Error).self) { try await h.signed(.GET, "/fapi/v1/openOrders") }
        }
    }

    @Test func truncatedBodiesAreInvalidJSON() async throws {
        try await Harness.with(Self.faulted { $0.truncateBody = 1 }) { h in
            let reply = try await h.signed(
                .POST,
                "/fapi/v1/order",
                [("symbol", "BTCUSDT"), ("side", "BUY"), ("type", "LIMIT"), ("timeInForce", "GTC"), ("quantity", "0.002"), ("price", "50000")]
            )
            #expect(reply.status == 200 && reply.json == nil && !reply.body.isEmpty, "\(reply.body)")
            #expect(await h.exchange.truth().count == 1)
        }
    }

    @Test func clockSkewIsSeenByTimestampChecks() async throws {
        try await Harness.with(Self.faulted { $0.clockSkewMs = -3000 }) { h in
            // The exchange runs 3 s behind: a client stamping with its own clock is "ahead".
            #expect(try await h.signed(.GET, "/fapi/v1/openOrders").code == -1021)
            let serverTime = try #require((try await h.raw(.GET, "/fapi/v1/time").json as? [String: Any])?["serverTime"] as? Int)
            #expect(Int64(serverTime) == h.clock.now - 3000)
            #expect(try await h.signed(.GET, "/fapi/v1/openOrders", timestamp: Int64(serverTime)).status == 200)
        }
    }
}
