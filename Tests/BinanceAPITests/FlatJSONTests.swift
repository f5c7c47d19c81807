import FlatJSON
import Foundation
import SyncCore
import Testing

@testable import BinanceAPI

/// The fast order-list reader against `JSONDecoder`: on every document, either the same orders or
/// a fallback to `JSONDecoder` (so the same answer, error included).
@Suite struct FlatJSONTests {
    static func orders(_ list: [Wire.Order]) -> [ExchangeOrder?] { list.map { try? $0.exchangeOrder() } }
    static func algos(_ list: [Wire.AlgoOrder]) -> [ExchangeOrder?] { list.map { try? $0.exchangeOrder() } }

    /// The two decoders' outcomes for one body, as comparable text.
    static func both<T: FlatDecodable>(
        _ type: T.Type,
        _ body: [UInt8],
        _ show: ([T]) -> [ExchangeOrder?]
    ) -> (fast: String, reference: String, usedFast: Bool) {
        let fast: String
        do { fast = "\(show(try Wire.decodeList(type, body, "test")))" } catch { fast = "error" }
        let reference = (try? JSONDecoder().decode([T].self, from: Data(body))).map { "\(show($0))" } ?? "error"
        let usedFast = FlatJSON.objects(body, keys: T.flatKeys).map { objects in objects.allSatisfy { T(flat: $0) != nil } } ?? false
        return (fast, reference, usedFast)
    }

    @Test func theOfficialExamplesReadTheSame() throws {
        for name in ["futures_openOrders.json", "spot_openOrders.json"] {
            let url = fixtures.appendingPathComponent("binance/\(name)")
            guard let data = try? Data(contentsOf: url) else { continue }
            let r = Self.both(Wire.Order.self, Array(data), Self.orders)
            #expect(r.fast == r.reference && r.usedFast, "\(name)")
        }
    }

    @Test func randomAndMutatedDocumentsReadTheSame() {
        let seed = SeededGenerator.seed(fallback: 0x0F1A7, environment: ProcessInfo.processInfo.environment)
        print("FlatJSONTests seed \(seed) (ORDERSYNC_SEED overrides)")
        var rng = SeededGenerator(seed: seed)
        func pick<T>(_ xs: [T]) -> T { xs[Int.random(in: 0..<xs.count, using: &rng)] }
        func space() -> String { pick(["", "", " ", "\n  ", "\t"]) }
        var fastUsed = 0
        var documents = 0
        for _ in 0..<3_000 {
            var objects: [String] = []
            for _ in 0..<Int.random(in: 0...4, using: &rng) {
                var fields: [(String, String)] = [
                    ("symbol", "\"\(pick(["BTCUSDT", "ETHUSDT", "SOL\\u0055SDT", "ÄBC"]))\""),
                    ("orderId", pick(["123", "9007199254740993", "-1", "1.0", "\"42\"", "1e3"])),
                    ("clientOrderId", pick(["\"web_1\"", "null", "\"os1-7b-k3J9x2pQ4m\"", "\"quo\\\"te\"", "7"])),
                    ("price", pick(["\"60000.10\"", "\"0\"", "60000", "\"abc\""])),
                    ("origQty", "\"0.010\""), ("executedQty", pick(["\"0\"", "\"0.004\""])),
                    ("status", pick(["\"NEW\"", "\"PARTIALLY_FILLED\"", "\"WEIRD\""])), ("type", "\"LIMIT\""),
                    ("side", pick(["\"BUY\"", "\"SELL\"", "\"buy\""])),
                    ("stopPrice", pick(["\"0\"", "\"59000\"", "null"])), ("time", pick(["1700000000000", "null", "\"t\""])),
                    ("updateTime", "1700000000001"),
                    ("positionSide", "\"BOTH\""), ("reduceOnly", pick(["false", "true"])), ("avgPrice", pick(["\"0.00000\"", "1.5e-3"])),
                    ("nested", pick(["{\"a\": [1, {\"b\": null}], \"c\": \"x\"}", "[]", "{}", "[[[]]]"])),
                ]
                if Bool.random(using: &rng) { fields.remove(at: Int.random(in: 0..<fields.count, using: &rng)) }
                if Int.random(in: 0..<10, using: &rng) == 0 { fields.append(pick(fields)) }  // a duplicate key
                fields.shuffle(using: &rng)
                objects.append("{" + fields.map { "\(space())\"\($0.0)\"\(space()):\(space())\($0.1)" }.joined(separator: ",") + space() + "}")
            }
            var text = space() + "[" + objects.joined(separator: "," + space()) + "]" + space()
            switch Int.random(in: 0..<8, using: &rng) {
            case 0 where !text.isEmpty: text.removeLast(Int.random(in: 1...min(8, text.count), using: &rng))  // truncated
            case 1: text += pick(["x", ",", "]", "{}"])  // trailing garbage
            default: break
            }
            let r = Self.both(Wire.Order.self, Array(text.utf8), Self.orders)
            #expect(r.fast == r.reference, "seed \(seed): \(text)")
            documents += 1
            if r.usedFast { fastUsed += 1 }
        }
        // The generator is meant to exercise the fast path, not only the fallback.
        #expect(fastUsed > documents / 10, "fast path used on \(fastUsed) of \(documents)")
    }

    @Test func algoListsReadTheSame() {
        let body =
            #"[{"algoId": 2000001, "clientAlgoId": "stop-1", "algoType": "CONDITIONAL", "orderType": "STOP_MARKET", "symbol": "BTCUSDT", "side": "SELL", "positionSide": "BOTH", "timeInForce": "GTC", "quantity": "0.002", "algoStatus": "NEW", "actualOrderId": "", "actualPrice": "0.00000", "triggerPrice": "50000.0", "price": "0.0", "icebergQuantity": null, "createTime": 1700000000000, "updateTime": 1700000000000, "triggerTime": 0, "goodTillDate": 0}]"#
        let r = Self.both(Wire.AlgoOrder.self, Array(body.utf8), Self.algos)
        #expect(r.fast == r.reference && r.usedFast && r.fast != "error")
    }
}
