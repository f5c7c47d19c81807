import AsyncHTTPClient
import Foundation
import SyncCore
import Synchronization
import Testing
import UpbitAPI

@testable import UpbitSimulator

/// The Upbit client against the Upbit simulator on loopback: placing, listing page by page,
/// querying, cancelling one and a batch, refusing bad tokens and reused nonces — never the
/// account-wide cancel.
@Suite struct ClientSimulatorTests {
    /// A clock the test moves (the simulator's per-second windows and order times).
    final class TestClock: Sendable {
        let ms = Mutex<Millis>(1_800_000_000_000)
        func now() -> Millis { ms.withLock { $0 } }
        func advance(_ by: Millis) { ms.withLock { $0 += by } }
    }

    static func withSimulator(_ body: (UpbitExchange, String, TestClock) async throws -> Void) async throws {
        let clock = TestClock()
        var limits = UpbitExchange.Limits()
        limits.perSecond["default"] = 1_000_000
        limits.perSecond["order"] = 1_000_000
        let exchange = UpbitExchange(limits: limits, clock: { clock.now() })
        await exchange.addAccount(accessKey: "access-1", secret: "secret-1")
        try await UpbitSimulator(exchange: exchange).withRunning { try await body(exchange, $0, clock) }
    }

    @Test func placeListQueryAndCancelByIdOnly() async throws {
        try await Self.withSimulator { exchange, url, clock in
            let client = UpbitClient(baseURL: url, accessKey: "access-1", secret: Secret("secret-1"))
            var placed: [ExchangeOrder] = []
            // 230 orders over two markets: three pages of a hundred.
            for i in 0..<230 {
                clock.advance(1)
                placed.append(
                    try await client.place(
                        market: i % 3 == 0 ? "KRW-ETH" : "KRW-BTC",
                        side: i % 2 == 0 ? .buy : .sell,
                        volume: "0.01",
                        price: "\(50_000_000 + i)",
                        identifier: i == 5 ? #"os1-"quoted"\5"# : "os1-\(i)"
                    )
                )
            }
            let listed = try await client.openOrders()
            #expect(listed.count == 230 && Set(listed.map(\.id)) == Set(placed.map(\.id)))
            #expect(listed.allSatisfy { $0.status.phase == .open } && listed.first?.clientOrderID == "os1-0")
            #expect(
                listed.contains { $0.clientOrderID == #"os1-"quoted"\5"# },
                "an identifier with quotes and a backslash survives the JSON body and its hash"
            )
            let eth = try await client.openOrders(market: "KRW-ETH")
            #expect(eth.count == 77 && eth.allSatisfy { $0.symbol == SymbolKey.of("ETH/KRW") })

            await exchange.fill(uuid: placed[1].id.rawValue, volume: "0.004")
            let partial = try await client.order(uuid: placed[1].id.rawValue)
            #expect(partial.status.phase == .partiallyFilled && partial.executedQuantity == Amount("0.004"))

            let one = try await client.cancel(uuid: placed[0].id.rawValue)
            #expect(one.id == placed[0].id)
            #expect(try await client.order(uuid: placed[0].id.rawValue).status.phase == .cancelled)
            // Cancelling it again: the exchange does not know it as cancellable.
            await #expect(throws: UpbitError.self) { _ = try await client.cancel(uuid: placed[0].id.rawValue) }

            let batch = Array(placed[2..<22].map(\.id.rawValue))
            let answer = try await client.cancel(uuids: batch)
            #expect(Set(answer.cancelled) == Set(batch) && answer.failed.isEmpty)
            let again = try await client.cancel(uuids: [placed[2].id.rawValue, placed[22].id.rawValue])
            #expect(again.cancelled == [placed[22].id.rawValue] && again.failed.count == 1)
            await #expect(throws: UpbitError.self) { _ = try await client.cancel(uuids: placed[30..<51].map(\.id.rawValue)) }

            #expect(try await client.openOrders().count == 230 - 22)
            #expect(await exchange.wideCancels == 0)
            #expect(await exchange.namedOrders[placed[2].id.rawValue] == 2)
        }
    }

    @Test func badTokensAndReusedNoncesAreRefused() async throws {
        try await Self.withSimulator { exchange, url, _ in
            let wrong = UpbitClient(baseURL: url, accessKey: "access-1", secret: Secret("not-the-secret"))
            let refused = await #expect(throws: UpbitError.self) { _ = try await wrong.openOrders() }
            #expect(refused?.kind == .authentication)
            var hs256 = UpbitClient(baseURL: url, accessKey: "access-1", secret: Secret("secret-1"))
            hs256.algorithm = .hs256
            #expect(try await hs256.openOrders().isEmpty)

            // The same token twice: its nonce is spent.
            let http = HTTPClient.shared
            var request = HTTPClientRequest(url: url + "/v1/orders/open?market=KRW-BTC")
            request.headers.add(
                name: "Authorization",
                value: UpbitAuth.authorization(accessKey: "access-1", secret: Secret("secret-1"), query: "market=KRW-BTC")
            )
            let first = try await http.execute(request, timeout: .seconds(10))
            #expect(first.status.code == 200 && first.headers["Remaining-Req"].first?.hasPrefix("group=default; min=1800; sec=") == true)
            let second = try await http.execute(request, timeout: .seconds(10))
            let body = String(buffer: try await second.body.collect(upTo: 1 << 16))
            #expect(second.status.code == 401 && body.contains("nonce_used"))
            // A query that is not the one hashed.
            var tampered = HTTPClientRequest(url: url + "/v1/orders/open?market=KRW-ETH")
            tampered.headers.add(
                name: "Authorization",
                value: UpbitAuth.authorization(accessKey: "access-1", secret: Secret("secret-1"), query: "market=KRW-BTC")
            )
            let mismatch = try await http.execute(tampered, timeout: .seconds(10))
            let mismatchBody = String(buffer: try await mismatch.body.collect(upTo: 1 << 16))
            #expect(mismatch.status.code == 401 && mismatchBody.contains("invalid_query_payload"))
            #expect(await exchange.wideCancels == 0)
        }
    }

    @Test func aGroupsPerSecondLimitAnswers429UntilTheNextSecondPerAccount() async throws {
        let clock = TestClock()
        var limits = UpbitExchange.Limits()
        limits.perSecond["default"] = 3
        let exchange = UpbitExchange(limits: limits, clock: { clock.now() })
        #expect(await exchange.admit("GET /v1/order", group: "default", accessKey: "a") == 2)
        #expect(await exchange.admit("GET /v1/order", group: "default", accessKey: "a") == 1)
        #expect(await exchange.admit("GET /v1/order", group: "default", accessKey: "a") == 0)
        #expect(await exchange.admit("GET /v1/order", group: "default", accessKey: "a") == nil)
        // Measured per account: another account's calls are not refused.
        #expect(await exchange.admit("GET /v1/order", group: "default", accessKey: "b") == 2)
        clock.advance(1000)
        #expect(await exchange.admit("GET /v1/order", group: "default", accessKey: "a") == 2)
        #expect(await exchange.refused == 1)
    }
}
