import AsyncHTTPClient
import Foundation
import SyncCore
import SyncTestSupport
import Testing
import UpbitAPI
import UpbitSimulator

/// pyupbit (PyPI), an Upbit client this project did not write, against the Upbit simulator with
/// only its host changed; and ordersync's own client kept under a per-account limit by its pacer.
@Suite struct IndependentUpbitClientTests {
    /// The simulator on the wall clock (its per-second windows are real seconds).
    static func withSimulator(limits: UpbitExchange.Limits, _ body: (UpbitExchange, String) async throws -> Void) async throws {
        let exchange = UpbitExchange(limits: limits, clock: { Millis(Date().timeIntervalSince1970 * 1000) })
        await exchange.addAccount(accessKey: "access-1", secret: "secret-1", account: AccountID(1))
        try await UpbitSimulator(exchange: exchange).withRunning { try await body(exchange, $0) }
    }

    @Test(.enabled(if: IndependentClient.required, "pyupbit is not installed: run scripts/test"))
    func pyupbitPlacesListsQueriesAndCancels() async throws {
        try await Self.withSimulator(limits: UpbitExchange.Limits()) { exchange, base in
            // Bounded: the script makes about 25 requests.
            let (status, output) = try await IndependentClient.run("independent_upbit_client.py", [base, "access-1", "secret-1"])
            #expect(status == 0, "\(output)")
            #expect(output.contains(" passed, 0 failed"))
            #expect(await exchange.wideCancels == 0)
            let truth = await exchange.truth()
            #expect(truth.count == 3 && truth.allSatisfy { $0.order.state == "cancel" }, "\(truth)")
        }
    }

    /// The simulator's answers of the kinds the official examples show have their field names and
    /// JSON types (fields the examples leave out as null are not compared).
    @Test func theSimulatorsAnswersHaveTheExamplesShapes() async throws {
        try await Self.withSimulator(limits: UpbitExchange.Limits()) { _, base in
            let client = UpbitClient(baseURL: base, accessKey: "access-1", secret: Secret("secret-1"))
            let placed = try await client.place(market: "KRW-BTC", side: .buy, volume: "0.01", price: "90000000")
            func get(_ path: String, _ query: String) async throws -> (Int, Any) {
                var request = HTTPClientRequest(url: base + path + "?" + query)
                request.headers.add(
                    name: "Authorization",
                    value: UpbitAuth.authorization(accessKey: "access-1", secret: Secret("secret-1"), query: query)
                )
                let answer = try await HTTPClient.shared.execute(request, timeout: .seconds(10))
                return (Int(answer.status.code), try JSONSerialization.jsonObject(with: Data(buffer: try await answer.body.collect(upTo: 1 << 20))))
            }
            for (file, path, query, many) in [
                ("upbit_get_order_response.json", "/v1/order", "uuid=\(placed.id.rawValue)", false),
                ("upbit_orders_open_response.json", "/v1/orders/open", "market=KRW-BTC", true),
            ] {
                let example = try JSONSerialization.jsonObject(with: try Data(contentsOf: examples.appendingPathComponent(file)))
                let (status, answer) = try await get(path, query)
                #expect(status == 200)
                let want = jsonShape(many ? (example as! [Any])[0] : example)
                let got = jsonShape(many ? (answer as! [Any])[0] : answer)
                for (field, type) in want { #expect(got[field] == type, "\(file) \(field): example \(type), simulator \(got[field] ?? "absent")") }
            }
            let exampleError = try JSONSerialization.jsonObject(
                with: try Data(contentsOf: examples.appendingPathComponent("upbit_error_order_not_found.json"))
            )
            let (status, error) = try await get("/v1/order", "uuid=nope")
            #expect(status == 404)
            #expect(jsonShape((error as! [String: Any])["error"]!) == jsonShape((exampleError as! [String: Any])["error"]!))
            #expect(((error as! [String: Any])["error"] as? [String: Any])?["name"] as? String == "order_not_found")
        }
    }

    /// Three requests per second allowed: twelve queries through a client paced at three meet no
    /// 429 (however fast or slow the machine, the pacer never lets four go within a second).
    @Test func thePacerKeepsAClientUnderItsLimit() async throws {
        var limits = UpbitExchange.Limits()
        limits.perSecond["default"] = 3
        try await Self.withSimulator(limits: limits) { exchange, base in
            var client = UpbitClient(baseURL: base, accessKey: "access-1", secret: Secret("secret-1"))
            client.pacer = RequestPacer(perSecond: 3)
            client.retriesAfter429 = 0
            for _ in 0..<12 { _ = try await client.openOrders(market: "KRW-BTC") }
            #expect(await exchange.refused == 0)
            #expect(await exchange.requestCounts["GET /v1/orders/open"] == 12)
        }
    }
}
