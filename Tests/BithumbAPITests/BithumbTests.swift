import AsyncHTTPClient
import Foundation
import SyncCore
import SyncTestSupport
import Testing
import UpbitAPI
import UpbitSimulator

@testable import BithumbAPI
@testable import BithumbSimulator

let repository = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()

/// Bithumb API 2.0: the official example payloads parse, the simulator answers in the same field
/// names and JSON types, ordersync's client works against it (v2 pending pages by `next_key`,
/// cancels one and thirty at a time, every token with its `timestamp`), and python-bithumb, a client
/// this project did not write, places, lists, queries, cancels and batch-cancels against it.
@Suite struct BithumbTests {
    static func example(_ name: String) throws -> Data { try Data(contentsOf: repository.appendingPathComponent("fixtures/bithumb/" + name)) }

    static func withSimulator(_ body: (UpbitExchange, String) async throws -> Void) async throws {
        let exchange = BithumbSimulator.exchange(clock: { Millis(Date().timeIntervalSince1970 * 1000) })
        await exchange.addAccount(accessKey: "access-1", secret: "secret-1", account: AccountID(1))
        try await BithumbSimulator(exchange: exchange).withRunning { try await body(exchange, $0) }
    }

    @Test func theOfficialExamplesParse() throws {
        let orders = try UpbitWire.decode([UpbitWire.Order].self, Array(try Self.example("bithumb_v1_orders_response.json"))).map {
            try $0.exchangeOrder()
        }
        #expect(orders.count == 1)
        #expect(orders[0].id.rawValue == "C0101000003152406454" && orders[0].status == ExchangeOrderStatus(.open, venueText: "wait"))
        #expect(orders[0].symbol == SymbolKey.of("BTC/KRW") && orders[0].price == Amount("9500000") && orders[0].side == .buy)
        let batch = try UpbitWire.decode(BithumbClient.BatchAnswer.self, Array(try Self.example("bithumb_v2_orders_cancel_response.json")))
        #expect(batch.success.map(\.order_id) == ["C0101000003152500274"] && batch.fail?.isEmpty == true)
    }

    @Test func theClientWorksAgainstTheSimulatorAndItsAnswersHaveTheExamplesShapes() async throws {
        try await Self.withSimulator { exchange, base in
            let client = BithumbClient(baseURL: base, accessKey: "access-1", secret: Secret("secret-1"))
            var ids: [String] = []
            // 130 resting orders over two markets: two pages of wait orders.
            for i in 0..<130 {
                ids.append(
                    try await client.place(
                        market: i % 2 == 0 ? "KRW-BTC" : "KRW-ETH",
                        side: .buy,
                        volume: "0.001",
                        price: String(90_000_000 - i),
                        clientOrderID: "os1-\(i)"
                    )
                )
            }
            #expect(ids.allSatisfy { $0.hasPrefix("C0101") && $0.count == 20 })
            let listed = try await client.openOrders(market: nil)
            #expect(listed.count == 130 && Set(listed.map(\.id.rawValue)) == Set(ids))
            #expect(listed.first { $0.id.rawValue == ids[0] }?.clientOrderID == "os1-0")
            #expect(await exchange.requestCounts["GET /v2/orders/pending"] == 3, "two pages of wait, one of watch")
            #expect(try await client.openOrders(market: "KRW-ETH").count == 65)

            // The simulator's order object has the example's fields and types (null fields are omitted).
            let example = try JSONSerialization.jsonObject(with: try Self.example("bithumb_v1_orders_response.json")) as! [Any]
            var request = HTTPClientRequest(url: base + "/v1/order?uuid=\(ids[0])")
            request.headers.add(
                name: "Authorization",
                value: UpbitAuth.authorization(
                    accessKey: "access-1",
                    secret: Secret("secret-1"),
                    query: "uuid=\(ids[0])",
                    timestamp: 1,
                    algorithm: .hs256
                )
            )
            let answer = try await HTTPClient.shared.execute(request, timeout: .seconds(10))
            let simulated = try JSONSerialization.jsonObject(with: Data(buffer: try await answer.body.collect(upTo: 1 << 20)))
            let expected = jsonShape(example[0]).filter { $0.key != "stp_type" }
            let got = jsonShape(simulated)
            for (field, type) in expected { #expect(got[field] == type, "\(field): example \(type), simulator \(got[field] ?? "absent")") }

            try await client.cancel(id: ids[0])
            #expect(try await client.order(id: ids[0]).status.phase == .cancelled)
            let refused = await #expect(throws: UpbitError.self) { try await client.cancel(id: ids[0]) }
            #expect(refused?.kind == .notFound)
            let batch = Array(ids[1...30])
            #expect(try await client.cancel(ids: batch) == Set(batch))
            await #expect(throws: UpbitError.self) { _ = try await client.cancel(ids: Array(ids[31...61])) }
            let settled = try await client.orders(ids: [ids[1], ids[2], ids[100]])
            #expect(settled.map(\.status.phase).sorted { $0.rawValue < $1.rawValue } == [.cancelled, .cancelled, .open])
            #expect(try await client.openOrders(market: nil).count == 130 - 31)
        }
    }

    @Test func aTokenWithoutItsTimestampIsRefused() async throws {
        try await Self.withSimulator { _, base in
            var request = HTTPClientRequest(url: base + "/v2/orders/pending?state=wait")
            request.headers.add(
                name: "Authorization",
                value: UpbitAuth.authorization(accessKey: "access-1", secret: Secret("secret-1"), query: "state=wait")
            )
            let answer = try await HTTPClient.shared.execute(request, timeout: .seconds(10))
            let body = String(buffer: try await answer.body.collect(upTo: 1 << 16))
            #expect(answer.status.code == 401 && body.contains("jwt_verification"), "\(body)")
        }
    }

    @Test(.enabled(if: IndependentClient.required, "python-bithumb is not installed: run scripts/test"))
    func pythonBithumbPlacesListsQueriesCancelsAndBatchCancels() async throws {
        try await Self.withSimulator { exchange, base in
            // Bounded: the script makes about 20 requests.
            let (status, output) = try await IndependentClient.run("independent_bithumb_client.py", [base, "access-1", "secret-1"])
            #expect(status == 0, "\(output)")
            #expect(output.contains(" passed, 0 failed"))
            let truth = await exchange.truth()
            #expect(truth.count == 4 && truth.allSatisfy { $0.order.state == "cancel" }, "\(truth)")
            #expect(await exchange.requestCounts["POST /v2/orders/cancel"] == 1)
        }
    }
}
