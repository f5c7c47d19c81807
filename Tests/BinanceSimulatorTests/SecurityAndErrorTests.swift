import BinanceSimulator
import Foundation
import NIOHTTP1
import SyncCore
import Testing

@Suite struct SigningTests {
    struct Vector: Decodable {
        var secretKey: String?
        var secret: String?
        var payload: String?
        var signedString: String?
        var expected: String?
        var signature: String?
    }

    @Test func officialHMACVectorsVerify() throws {
        let data = try Data(contentsOf: Harness.fixtures.appendingPathComponent("synthesized/hmac_test_vectors.json"))
        let root = try JSONSerialization.jsonObject(with: data)
        let vectors = (root as? [[String: Any]]) ?? ((root as? [String: Any])?["vectors"] as? [[String: Any]]) ?? []
        try #require(vectors.count >= 4, "vectors: \(root)")
        var checked = 0
        for v in vectors {
            guard let secret = (v["secretKey"] ?? v["secret"] ?? v["secret_key"]) as? String,
                let expected = (v["expected"] ?? v["signature"] ?? v["expected_signature"]) as? String
            else { continue }
            let payload: String
            if let p = (v["payload"] ?? v["signed_string"] ?? v["signedString"] ?? v["totalParams"]) as? String {
                payload = p
            } else if let q = (v["query"] ?? v["query_string"] ?? v["queryString"]) as? String {
                payload = q + ((v["body"] ?? v["request_body"] ?? v["requestBody"]) as? String ?? "")
            } else {
                continue
            }
            #expect(Signing.hmacHex(secret: secret, payload: payload) == expected, "\(v)")
            #expect(Signing.verify(signature: expected.uppercased(), secret: secret, payload: payload))
            #expect(!Signing.verify(signature: expected, secret: secret + "x", payload: payload))
            checked += 1
        }
        #expect(checked >= 4)
    }

    @Test func signatureIsRemovedFromWhereverItIs() {
        #expect(Signing.split(rawQuery: "a=1&signature=ab&b=2", rawBody: "").payload == "a=1&b=2")
        #expect(Signing.split(rawQuery: "a=1", rawBody: "b=2&signature=cd") == ("a=1b=2", "cd"))
        #expect(Signing.split(rawQuery: "", rawBody: "b=2").signature == nil)
    }
}

@Suite struct ErrorTests {
    /// Each error of the issue, produced by the request that causes it on the real exchange.
    @Test func errorsComeFromTheirCauses() async throws {
        try await Harness.with { h in
            /// `code` 0 means a success body (no `code` field).
            func expect(_ reply: Harness.Reply, _ status: Int, _ code: Int, _ note: String) {
                #expect(reply.status == status && reply.code == (code == 0 ? nil : code), "\(note): \(reply.status) \(reply.body)")
            }
            let now = h.clock.now
            // Authentication and timing.
            expect(try await h.raw(.GET, "/fapi/v1/openOrders", query: "timestamp=\(now)"), 401, -2014, "no API key")
            expect(try await h.signed(.GET, "/fapi/v1/openOrders", key: "bad key with spaces"), 401, -2014, "malformed key")
            expect(try await h.signed(.GET, "/fapi/v1/openOrders", key: "unknown-key"), 401, -2015, "unknown key")
            expect(
                try await h.raw(.GET, "/api/v3/openOrders", query: "symbol=BTCUSDT&signature=00", headers: [("X-MBX-APIKEY", Harness.key)]),
                400,
                -1102,
                "no timestamp"
            )
            expect(
                try await h.raw(.GET, "/api/v3/openOrders", query: "timestamp=\(now)", headers: [("X-MBX-APIKEY", Harness.key)]),
                400,
                -1102,
                "no signature"
            )
            expect(try await h.signed(.GET, "/api/v3/openOrders", secret: "wrong"), 400, -1022, "wrong secret")
            expect(try await h.signed(.GET, "/api/v3/openOrders", timestamp: now + 1000), 400, -1021, "1000 ms ahead")
            expect(try await h.signed(.GET, "/api/v3/openOrders", timestamp: now + 999), 200, 0, "999 ms ahead is fine")
            expect(try await h.signed(.GET, "/api/v3/openOrders", timestamp: now - 5001), 400, -1021, "outside default recvWindow")
            expect(
                try await h.signed(.GET, "/api/v3/openOrders", [("recvWindow", "10000")], timestamp: now - 5001),
                200,
                0,
                "inside a wider recvWindow"
            )
            expect(try await h.signed(.GET, "/api/v3/openOrders", [("recvWindow", "60001")]), 400, -1131, "recvWindow over 60000")
            // Parameters.
            expect(try await h.signed(.GET, "/api/v3/order", [("orderId", "1")]), 400, -1102, "missing symbol")
            expect(try await h.signed(.GET, "/api/v3/order", [("symbol", "BTCUSDT")]), 400, -1102, "neither orderId nor origClientOrderId")
            expect(try await h.signed(.GET, "/api/v3/order", [("symbol", "BTCUSDT"), ("orderId", "abc")]), 400, -1102, "non-numeric orderId")
            expect(try await h.signed(.GET, "/api/v3/openOrders", [("symbol", "NOPEUSDT")]), 400, -1121, "invalid symbol")
            // Orders.
            _ = try await h.restingSpot(client: "dup-1")
            expect(
                try await h.signed(
                    .POST,
                    "/api/v3/order",
                    [
                        ("symbol", "BTCUSDT"), ("side", "BUY"), ("type", "LIMIT"), ("timeInForce", "GTC"),
                        ("quantity", "0.002"), ("price", "50000"), ("newClientOrderId", "dup-1"),
                    ]
                ),
                400,
                -2010,
                "duplicate spot client id"
            )
            _ = try await h.restingFutures(client: "dup-2")
            expect(
                try await h.signed(
                    .POST,
                    "/fapi/v1/order",
                    [
                        ("symbol", "BTCUSDT"), ("side", "BUY"), ("type", "LIMIT"), ("timeInForce", "GTC"),
                        ("quantity", "0.002"), ("price", "50000"), ("newClientOrderId", "dup-2"),
                    ]
                ),
                400,
                -4116,
                "duplicate futures client id"
            )
            expect(
                try await h.signed(
                    .POST,
                    "/api/v3/order",
                    [
                        ("symbol", "BTCUSDT"), ("side", "BUY"), ("type", "LIMIT"), ("timeInForce", "GTC"),
                        ("quantity", "0.002"), ("price", "50000"), ("newClientOrderId", "has.dot"),
                    ]
                ),
                400,
                -1100,
                "dot in a spot client id"
            )
            expect(
                try await h.signed(
                    .POST,
                    "/fapi/v1/order",
                    [
                        ("symbol", "BTCUSDT"), ("side", "BUY"), ("type", "STOP_MARKET"),
                        ("quantity", "0.002"), ("stopPrice", "50000"),
                    ]
                ),
                400,
                -4120,
                "conditional on /fapi/v1/order"
            )
            expect(try await h.signed(.DELETE, "/api/v3/order", [("symbol", "BTCUSDT"), ("orderId", "424242")]), 400, -2011, "cancel unknown spot")
            expect(
                try await h.signed(.DELETE, "/fapi/v1/order", [("symbol", "BTCUSDT"), ("orderId", "424242")]),
                400,
                -2011,
                "cancel unknown futures"
            )
            expect(try await h.signed(.GET, "/api/v3/order", [("symbol", "BTCUSDT"), ("orderId", "424242")]), 400, -2013, "query unknown")
            expect(
                try await h.signed(.GET, "/fapi/v1/order", [("symbol", "BTCUSDT"), ("origClientOrderId", "never")]),
                400,
                -2013,
                "query unknown client id"
            )
            // Another account's order is unknown to this key.
            let theirs = try await h.restingFutures(key: Harness.key2, secret: Harness.secret2)
            expect(
                try await h.signed(.DELETE, "/fapi/v1/order", [("symbol", "BTCUSDT"), ("orderId", String(theirs))]),
                400,
                -2011,
                "other account's order"
            )
            // Cancelling twice: the second is -2011 and the order keeps its first final state.
            let once = try await h.restingFutures()
            expect(try await h.signed(.DELETE, "/fapi/v1/order", [("symbol", "BTCUSDT"), ("orderId", String(once))]), 200, 0, "cancel")
            expect(try await h.signed(.DELETE, "/fapi/v1/order", [("symbol", "BTCUSDT"), ("orderId", String(once))]), 400, -2011, "cancel again")
            // Filters.
            expect(
                try await h.signed(
                    .POST,
                    "/api/v3/order",
                    [
                        ("symbol", "BTCUSDT"), ("side", "BUY"), ("type", "LIMIT"), ("timeInForce", "GTC"),
                        ("quantity", "0.002"), ("price", "50000.05"),
                    ]
                ),
                400,
                -1013,
                "price off the tick"
            )
            expect(
                try await h.signed(
                    .POST,
                    "/fapi/v1/order",
                    [
                        ("symbol", "BTCUSDT"), ("side", "BUY"), ("type", "LIMIT"), ("timeInForce", "GTC"),
                        ("quantity", "0.0025"), ("price", "50000"),
                    ]
                ),
                400,
                -4023,
                "quantity off the step"
            )
        }
    }

    @Test func weightIsChargedPerIPWith429ThenA418Ban() async throws {
        var config = SimulatorConfiguration()
        config.limits = RateLimits(spotWeight: 100, futuresWeight: 50, windowSeconds: 10, violationsBeforeBan: 2, banSeconds: 30)
        try await Harness.with(config) { h in
            let first = try await h.signed(.GET, "/fapi/v1/openOrders")  // 40 without symbol
            #expect(first.headers["x-mbx-used-weight-10s"] == "40")
            #expect(try await h.signed(.GET, "/fapi/v1/openOrders", [("symbol", "BTCUSDT")]).headers["x-mbx-used-weight-10s"] == "41")
            let over = try await h.signed(.GET, "/fapi/v1/openOrders")
            #expect(over.status == 429 && over.code == -1003 && over.headers["retry-after"] != nil, "\(over)")
            // Spot is another host with its own budget.
            #expect(try await h.signed(.GET, "/api/v3/openOrders").headers["x-mbx-used-weight-10s"] == "80")
            _ = try await h.signed(.GET, "/fapi/v1/openOrders")
            let banned = try await h.signed(.GET, "/fapi/v1/openOrders")
            #expect(banned.status == 418 && banned.code == -1003 && banned.headers["retry-after"] == "30", "\(banned)")
            // Still banned in the next window; free after the ban.
            h.clock.advance(10_000)
            #expect(try await h.signed(.GET, "/fapi/v1/time").status == 418)
            h.clock.advance(21_000)
            #expect(try await h.signed(.GET, "/fapi/v1/openOrders", [("symbol", "BTCUSDT")]).status == 200)
            // The control API reports the weight charged and the refusals (the 429s and 418s above).
            let stats = try #require(try await h.raw(.GET, "/_sim/stats").json as? [String: Any])
            #expect(stats["weight"] as? [String: Int] == ["futures": 40 + 1 + 1, "spot": 80])
            #expect(stats["rate_limited"] as? [String: Int] == ["futures": 4])
        }
    }
}
