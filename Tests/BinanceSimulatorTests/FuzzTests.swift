import BinanceSimulator
import Foundation
import NIOHTTP1
import SyncCore
import Testing

/// Random and mutated requests: the simulator answers each with a real error code (or success),
/// never a 5xx when no fault is configured, and stays up. Seed printed; ORDERSYNC_SEED overrides.
@Suite struct FuzzTests {
    static let count = 10_000
    static let knownCodes: Set<Int> = [
        -1003, -1013, -1021, -1022, -1100, -1102, -1116, -1121, -1130, -1131, -2010, -2011, -2013,
        -2014, -2015, -4014, -4015, -4023, -4116, -4120, -4164, -1,
    ]

    static let paths = [
        "/api/v3/ping", "/api/v3/time", "/api/v3/exchangeInfo", "/api/v3/openOrders", "/api/v3/order", "/fapi/v1/ping",
        "/fapi/v1/time", "/fapi/v1/exchangeInfo", "/fapi/v1/openOrders", "/fapi/v1/order", "/fapi/v1/batchOrders",
        "/fapi/v1/allOpenOrders", "/fapi/v1/algoOrder", "/fapi/v1/openAlgoOrders", "/api/v3/nothing", "/fapi/v2/order", "/",
        "/api/v3/order/", "/API/V3/ORDER", "/api/v3/../v3/order", "/fapi/v1/order%00",
    ]
    static let routes: [(HTTPMethod, String)] = [
        (.GET, "/api/v3/openOrders"), (.GET, "/api/v3/order"), (.POST, "/api/v3/order"), (.DELETE, "/api/v3/order"),
        (.GET, "/fapi/v1/openOrders"), (.GET, "/fapi/v1/order"), (.POST, "/fapi/v1/order"), (.DELETE, "/fapi/v1/order"),
        (.DELETE, "/fapi/v1/batchOrders"), (.POST, "/fapi/v1/algoOrder"), (.GET, "/fapi/v1/openAlgoOrders"),
        (.DELETE, "/fapi/v1/algoOrder"), (.GET, "/fapi/v1/algoOrder"), (.GET, "/api/v3/exchangeInfo"),
    ]
    static let names = [
        "symbol", "side", "type", "timeInForce", "quantity", "price", "stopPrice", "triggerPrice", "orderId",
        "origClientOrderId", "newClientOrderId", "orderIdList", "origClientOrderIdList", "orderidlist", "algoType",
        "algoId", "clientAlgoId", "recvWindow", "newOrderRespType", "timestamp", "SYMBOL",
    ]
    static let values = [
        "BTCUSDT", "ETHUSDT", "btcusdt", "NOPE", "BUY", "SELL", "LIMIT", "MARKET", "STOP_MARKET", "LIMIT_MAKER",
        "GTC", "IOC", "0.002", "0.001", "50000", "-1", "0", "1e3", "NaN", "abc", "99999999999999999999", "",
        "%zz", "%", "[1,2]", "[\"a\",\"b\"]", "[1,2,3,4,5,6,7,8,9,10,11]", "[]", "[x]", "\u{00e9}t\u{00e9}",
        "%F0%9F%92%A5", "a.b", "CONDITIONAL", "FULL", "60001", String(repeating: "z", count: 40),
    ]

    @Test func tenThousandRandomAndMutatedRequests() async throws {
        let seed = SeededGenerator.seed(fallback: 4242, environment: ProcessInfo.processInfo.environment)
        print("FuzzTests: seed \(seed), \(Self.count) requests")
        var config = SimulatorConfiguration()
        config.limits = RateLimits(spotWeight: 100_000_000, futuresWeight: 100_000_000)
        // A frozen clock: timestamps stay valid however long the run takes, so results do not depend on load.
        try await Harness.with(config) { h in
            var rng = SeededGenerator(seed: seed)
            var requests: [(HTTPMethod, String, String, String, [(String, String)])] = []
            for _ in 0..<Self.count { requests.append(Self.request(&rng, base: h)) }
            let tally = Tally()
            try await withThrowingTaskGroup(of: Void.self) { group in
                let lanes = 8
                for lane in 0..<lanes {
                    let mine = stride(from: lane, to: requests.count, by: lanes).map { requests[$0] }
                    group.addTask {
                        for (method, path, query, body, headers) in mine {
                            let reply = try await h.raw(method, path, query: query, body: body, headers: headers)
                            await tally.add(reply)
                        }
                    }
                }
                try await group.waitForAll()
            }
            let result = await tally.snapshot()
            print("FuzzTests: statuses \(result.statuses.sorted { $0.key < $1.key }), codes \(result.codes.sorted { $0.key < $1.key })")
            #expect(result.total == Self.count)
            #expect(result.statuses.keys.allSatisfy { $0 < 500 }, "5xx without faults: \(result.statuses) \(result.samples)")
            #expect(Set(result.codes.keys).isSubset(of: Self.knownCodes), "unexpected codes \(result.codes) \(result.samples)")
            // Every class of bad input met its real answer.
            for code in [-1022, -1102, -2014, -2015, -1121, -1100, -2011, -2013] { #expect(result.codes[code, default: 0] > 0, "never saw \(code)") }
            #expect(result.statuses[413, default: 0] > 0 && result.statuses[404, default: 0] > 0 && result.statuses[200, default: 0] > 0)
            // Still up and correct.
            #expect(try await h.raw(.GET, "/api/v3/ping").status == 200)
            #expect(try await h.signed(.GET, "/fapi/v1/openOrders", [("symbol", "BTCUSDT")], timestamp: h.clock.now).status == 200)
            #expect(await h.exchange.wideCancelCalls.values.reduce(0, +) >= 0)
        }
    }

    actor Tally {
        var total = 0
        var statuses: [Int: Int] = [:]
        var codes: [Int: Int] = [:]
        var samples: [String] = []
        func add(_ r: Harness.Reply) {
            total += 1
            statuses[r.status, default: 0] += 1
            if let code = r.code, r.status != 200 || code != 200 { codes[code, default: 0] += 1 }
            if (r.status >= 500 || (r.code.map { !FuzzTests.knownCodes.contains($0) && $0 != 200 } ?? false)) && samples.count < 5 {
                samples.append("\(r.status) \(r.body.prefix(200))")
            }
        }
        func snapshot() -> (total: Int, statuses: [Int: Int], codes: [Int: Int], samples: [String]) { (total, statuses, codes, samples) }
    }

    static func pick<T>(_ items: [T], _ rng: inout SeededGenerator) -> T { items[Int(rng.next() % UInt64(items.count))] }

    /// One request: a path, method, parameters (valid-looking or garbage), placed in the query or
    /// the body, signed correctly, wrongly or not at all, with a good, unknown or missing key.
    static func request(_ rng: inout SeededGenerator, base h: Harness) -> (HTTPMethod, String, String, String, [(String, String)]) {
        // Three in four requests go to a real route with its method, so the deep checks are reached.
        var method = pick([HTTPMethod.GET, .POST, .DELETE, .PUT], &rng)
        var path = pick(paths, &rng)
        if rng.next() % 4 != 0 { (method, path) = pick(routes, &rng) }
        var pairs: [String] = []
        for _ in 0..<Int(rng.next() % 7) {
            let name = pick(names, &rng)
            let value = rng.next() % 4 == 0 ? String(rng.next() % 1_000_000) : pick(values, &rng)
            let encoded = value.contains("%") ? value : (value.addingPercentEncoding(withAllowedCharacters: .alphanumerics) ?? value)
            pairs.append("\(name)=\(encoded)")
        }
        if rng.next() % 5 != 0 { pairs.append("timestamp=\(h.clock.now - Int64(rng.next() % 3) * 4000)") }
        if rng.next() % 20 == 0 { pairs.append(String(decoding: (0..<Int(rng.next() % 12)).map { _ in UInt8(33 + rng.next() % 90) }, as: UTF8.self)) }
        var payload = pairs.joined(separator: "&")
        switch rng.next() % 4 {
        case 0, 1: payload += "&signature=" + Harness.hmac(Harness.secret, payload)
        case 2: payload += "&signature=" + String(Harness.hmac(Harness.secret, payload).reversed())
        default: break
        }
        let key = pick([Harness.key, Harness.key, "unknown-key", "", "bad key"], &rng)
        let headers = key.isEmpty ? [] : [("X-MBX-APIKEY", key)]
        if rng.next() % 30 == 0 {
            return (.POST, path, "", payload + "&pad=" + String(repeating: "x", count: 70_000), headers)
        }
        return rng.next() % 2 == 0 ? (method, path, payload, "", headers) : (method, path, "", payload, headers)
    }
}
