import BinanceSimulator
import Foundation
import NIOHTTP1
import SyncCore
import Testing

/// The simulator's responses carry the official examples' field names with the same JSON types.
@Suite struct ShapeTests {
    static func example(_ name: String) throws -> Any {
        try JSONSerialization.jsonObject(with: Data(contentsOf: Harness.fixtures.appendingPathComponent(name)), options: [.fragmentsAllowed])
    }

    /// A JSON value reduced to its types (JSONDecoder never reads a number as a Bool).
    indirect enum Shape: Decodable {
        case null, bool, number, string
        case array([Shape])
        case object([String: Shape])
        init(from decoder: any Decoder) throws {
            let c = try decoder.singleValueContainer()
            if c.decodeNil() {
                self = .null
            } else if (try? c.decode(Bool.self)) != nil {
                self = .bool
            } else if (try? c.decode(Double.self)) != nil {
                self = .number
            } else if (try? c.decode(String.self)) != nil {
                self = .string
            } else if let a = try? c.decode([Shape].self) {
                self = .array(a)
            } else {
                self = .object(try c.decode([String: Shape].self))
            }
        }
        var name: String {
            switch self {
            case .null: "null"
            case .bool: "bool"
            case .number: "number"
            case .string: "string"
            case .array: "array"
            case .object: "object"
            }
        }
    }

    static func shape(_ v: Any) -> Shape {
        let data = try! JSONSerialization.data(withJSONObject: v, options: [.fragmentsAllowed])
        return try! JSONDecoder().decode(Shape.self, from: data)
    }

    /// Fields of `example` missing from `ours` or typed differently (`skip`: fields the example has
    /// only because of its order type, e.g. a trailing stop's `activatePrice`).
    static func mismatches(_ example: Any, _ ours: Any, skip: Set<String> = []) -> [String] {
        let e = shape(example)
        let o = shape(ours)
        guard case .object(let ef) = e, case .object(let of) = o else {
            return e.name == o.name ? [] : ["top-level \(e.name) vs \(o.name)"]
        }
        var out: [String] = []
        for (key, value) in ef where !skip.contains(key) {
            guard let mine = of[key] else {
                out.append("missing \(key)")
                continue
            }
            if value.name != mine.name && value.name != "null" && mine.name != "null" { out.append("\(key): \(value.name) vs \(mine.name)") }
        }
        return out.sorted()
    }

    @Test func everyOfficialExampleDecodesAndMatchesOurShape() async throws {
        // Every example file is valid JSON (the futures exchangeInfo page is not; only its rateLimits are kept).
        let files = try FileManager.default.contentsOfDirectory(atPath: Harness.fixtures.path).filter { $0.hasSuffix(".json") }
        #expect(files.count >= 30)
        for f in files { _ = try Self.example(f) }

        try await Harness.with { h in
            let trailing: Set<String> = ["activatePrice", "priceRate"]
            let openSpot = try await h.restingSpot(client: "shape-1")
            let spotOpen = try #require(try await h.signed(.GET, "/api/v3/openOrders").json as? [Any])
            #expect(Self.mismatches((try Self.example("spot_openOrders.json") as! [Any])[0], spotOpen[0]) == [])
            let spotQuery = try await h.signed(.GET, "/api/v3/order", [("symbol", "BTCUSDT"), ("orderId", String(openSpot))])
            #expect(Self.mismatches(try Self.example("spot_query_order.json"), spotQuery.json!) == [])
            for (resp, file) in [("ACK", "spot_new_order_ack.json"), ("RESULT", "spot_new_order_result.json"), ("FULL", "spot_new_order_full.json")] {
                let r = try await h.signed(
                    .POST,
                    "/api/v3/order",
                    [("symbol", "BTCUSDT"), ("side", "BUY"), ("type", "MARKET"), ("quantity", "0.001"), ("newOrderRespType", resp)]
                )
                #expect(Self.mismatches(try Self.example(file), r.json!) == [], "\(resp): \(r.body)")
                let fills = (r.json as? [String: Any])?["fills"] as? [Any]
                if resp == "FULL", let fill = fills?.first {
                    #expect(Self.mismatches(((try Self.example(file) as! [String: Any])["fills"] as! [Any])[0], fill) == [])
                }
            }
            let spotCancel = try await h.signed(
                .DELETE,
                "/api/v3/order",
                [("symbol", "BTCUSDT"), ("origClientOrderId", "shape-1"), ("newClientOrderId", "cancel-shape-1")]
            )
            #expect(Self.mismatches(try Self.example("spot_cancel_order.json"), spotCancel.json!) == [])
            #expect((spotCancel.json as! [String: Any])["clientOrderId"] as? String == "cancel-shape-1")
            #expect((spotCancel.json as! [String: Any])["origClientOrderId"] as? String == "shape-1")
            _ = try await h.restingSpot()
            let cancelAll = try #require(try await h.signed(.DELETE, "/api/v3/openOrders", [("symbol", "BTCUSDT")]).json as? [Any])
            #expect(Self.mismatches((try Self.example("spot_cancel_all_openOrders.json") as! [Any])[0], cancelAll[0]) == [])

            let fut = try await h.restingFutures()
            let futOpen = try #require(try await h.signed(.GET, "/fapi/v1/openOrders").json as? [Any])
            #expect(Self.mismatches((try Self.example("futures_openOrders.json") as! [Any])[0], futOpen[0], skip: trailing) == [])
            let futNew = try await h.signed(
                .POST,
                "/fapi/v1/order",
                [("symbol", "BTCUSDT"), ("side", "SELL"), ("type", "LIMIT"), ("timeInForce", "GTC"), ("quantity", "0.002"), ("price", "90000")]
            )
            #expect(Self.mismatches(try Self.example("futures_new_order.json"), futNew.json!, skip: trailing) == [])
            let futCancel = try await h.signed(.DELETE, "/fapi/v1/order", [("symbol", "BTCUSDT"), ("orderId", String(fut))])
            #expect(Self.mismatches(try Self.example("futures_cancel_order.json"), futCancel.json!, skip: trailing) == [])
            let second = try Harness.orderID(futNew)
            let batch = try #require(
                try await h.signed(.DELETE, "/fapi/v1/batchOrders", [("symbol", "BTCUSDT"), ("orderIdList", "[\(second),424242]")]).json as? [Any]
            )
            let officialBatch = try Self.example("futures_batch_cancel.json") as! [Any]
            #expect(batch.count == 2)
            #expect(Self.mismatches(officialBatch[0], batch[0], skip: trailing) == [])
            #expect(Self.mismatches(officialBatch[1], batch[1]) == [])
            #expect((batch[1] as? [String: Any])?["code"] as? Int == -2011)
            let all = try await h.signed(.DELETE, "/fapi/v1/allOpenOrders", [("symbol", "BTCUSDT")])
            #expect(Self.mismatches(try Self.example("futures_cancel_all.json"), all.json!) == [])
            #expect((all.json as? [String: Any])?["code"] as? Int == 200 && all.status == 200)

            for (path, file) in [("/api/v3/time", "spot_time.json"), ("/fapi/v1/time", "futures_time.json")] {
                #expect(Self.mismatches(try Self.example(file), try await h.raw(.GET, path).json!) == [])
            }
            let info = try #require(try await h.raw(.GET, "/api/v3/exchangeInfo").json as? [String: Any])
            let officialInfo = try Self.example("spot_exchangeInfo.json") as! [String: Any]
            #expect(Self.mismatches(officialInfo, info, skip: ["sors"]) == [])
            let symbol = try #require((info["symbols"] as? [Any])?.first)
            #expect(Self.mismatches((officialInfo["symbols"] as! [Any])[0], symbol) == [])
            let filters = try #require((symbol as? [String: Any])?["filters"] as? [[String: Any]])
            for official in try Self.example("spot_exchangeInfo_filters.json") as! [[String: Any]] {
                if let mine = filters.first(where: { $0["filterType"] as? String == official["filterType"] as? String }) {
                    #expect(Self.mismatches(official, mine, skip: ["maxNumOrders"]) == [] || official["filterType"] as? String == "MAX_NUM_ORDERS")
                }
            }
            let limits = try #require(info["rateLimits"] as? [Any])
            #expect(Self.mismatches((try Self.example("exchangeInfo_rateLimits.json") as! [Any])[0], limits[0]) == [])
            let futInfo = try #require(try await h.raw(.GET, "/fapi/v1/exchangeInfo").json as? [String: Any])
            #expect(
                Self.mismatches((try Self.example("futures_exchangeInfo_rateLimits.json") as! [Any])[0], (futInfo["rateLimits"] as! [Any])[0]) == []
            )

            // Error bodies: {"code": number, "msg": string}.
            let error = try await h.signed(.GET, "/api/v3/order", [("symbol", "BTCUSDT"), ("orderId", "1")])
            for file in files where file.hasPrefix("error_") || file.contains("synthesized") {
                if let official = try? Self.example(file) as? [String: Any], official["code"] != nil, official.count == 2 {
                    #expect(Self.mismatches(official, error.json!) == [], "\(file)")
                }
            }
        }
    }
}
