import Hummingbird
import Logging
import SimulatorSupport
import SyncCore
import UpbitSimulator

/// A Bithumb-compatible exchange (API 2.0, spot): the v1 endpoints it shares with Upbit (with its
/// `timestamp` claim, HS256 tokens, `client_order_id`, `C0101…` order ids, limits per address and
/// category: EXCHANGES.md §3) and its v2 order endpoints — `GET /v2/orders/pending` with its
/// `next_key` cursor, `DELETE /v2/order`, `POST /v2/orders/cancel` (thirty ids), `POST /v2/orders`.
/// The same control API under `/_sim/` as the other simulators. Where Bithumb's documents leave a
/// shape UNVERIFIED (the pending list's envelope), the choice is in README § Bithumb.
public struct BithumbSimulator: Sendable {
    public let exchange: UpbitExchange

    public init(exchange: UpbitExchange) { self.exchange = exchange }

    /// A book with Bithumb's ids and limits.
    public static func exchange(clock: @escaping @Sendable () -> Millis) -> UpbitExchange {
        UpbitExchange(limits: UpbitExchange.bithumbLimits, idStyle: .bithumb, clock: clock)
    }

    public func router() -> Router<BasicRequestContext> {
        let router = UpbitSimulator(exchange: exchange, dialect: .bithumb).router()
        let exchange = exchange
        @Sendable func serve(
            _ request: Request,
            _ endpoint: String,
            _ group: String,
            _ body: @escaping @Sendable (String, Params) async throws -> JSON
        ) async throws -> Response {
            try await UpbitSimulator.serve(exchange, .bithumb, request, endpoint, group: group, body)
        }
        router.get("/v2/orders/pending") { request, _ in
            try await serve(request, "GET /v2/orders/pending", "default") { key, params in
                let state = params.first("state") ?? "wait"
                guard state == "wait" || state == "watch" else { throw UpbitAPIError.validation("state is wait or watch") }
                let limit = Int(params.first("limit") ?? "100") ?? 0
                guard (1...100).contains(limit) else { throw UpbitAPIError.validation("limit 1 to 100") }
                let orderBy = params.first("order_by") ?? "desc"
                guard orderBy == "asc" || orderBy == "desc" else { throw UpbitAPIError.validation("order_by is asc or desc") }
                var all = await exchange.open(key, market: params.first("market"), states: [state], ascending: orderBy == "asc")
                if let cursor = params.first("next_key") {
                    guard let i = all.firstIndex(where: { $0.uuid == cursor }) else { throw UpbitAPIError.validation("next_key is not a cursor") }
                    all.removeFirst(i + 1)
                }
                let page = Array(all.prefix(limit))
                let more = all.count > limit
                return .object([
                    ("orders", .array(page.map { UpbitSimulator.json($0, .bithumb) })), ("has_next", .bool(more)),
                    ("next_key", more ? .string(page.last!.uuid) : .null),
                ])
            }
        }
        router.delete("/v2/order") { request, _ in
            try await serve(request, "DELETE /v2/order", "cancel") { key, params in
                guard let order = await exchange.cancel(key, uuid: params.first("order_id"), identifier: params.first("client_order_id")) else {
                    throw UpbitAPIError.notFound
                }
                return .object([("order_id", .string(order.uuid)), ("created_at", .string(UTC.iso8601(order.createdAt)))])
            }
        }
        router.post("/v2/orders/cancel") { request, _ in
            try await serve(request, "POST /v2/orders/cancel", "batch") { key, params in
                var success: [JSON] = []
                var fail: [JSON] = []
                for ref in try params.named(ids: "order_ids[]", clientIDs: "client_order_ids[]", limit: 30, names: "order_ids or client_order_ids") {
                    if let order = await exchange.cancel(key, uuid: ref.uuid, identifier: ref.identifier) {
                        success.append(.object([("order_id", .string(order.uuid)), ("created_at", .string(UTC.iso8601(order.createdAt)))]))
                    } else {
                        let named: (String, String) = ref.uuid.map { ("order_id", $0) } ?? ("client_order_id", ref.identifier ?? "")
                        fail.append(.object([(named.0, .string(named.1)), ("error_code", .string("order_not_found"))]))
                    }
                }
                return .object([("success", .array(success)), ("fail", .array(fail))])
            }
        }
        router.post("/v2/orders") { request, _ in
            try await serve(request, "POST /v2/orders", "order") { key, params in
                guard let market = params.first("market"), let side = params.first("side"), let type = params.first("order_type") else {
                    throw UpbitAPIError.validation("market, side and order_type are required")
                }
                let order = try await exchange.place(
                    accessKey: key,
                    market: market,
                    side: side,
                    ordType: type,
                    price: params.first("price"),
                    volume: params.first("volume"),
                    identifier: params.first("client_order_id")
                )
                return .object([
                    ("order_id", .string(order.uuid)), ("market", .string(order.market)), ("side", .string(order.side)),
                    ("order_type", .string(order.ordType)), ("created_at", .string(UTC.iso8601(order.createdAt))),
                ])
            }
        }
        return router
    }

    /// The Hummingbird application on `host:port` (0: a free port, given to `onRunning`).
    public func application(
        host: String = "127.0.0.1",
        port: Int = 0,
        onRunning: @escaping @Sendable (Int) async -> Void = { _ in }
    )
        -> some ApplicationProtocol
    {
        UpbitSimulator.application(router(), label: "bithumb-simulator", host: host, port: port, onRunning: onRunning)
    }

    /// This simulator on a free loopback port for the duration of `body`, which gets its base URL.
    public func withRunning(_ body: (String) async throws -> Void) async throws {
        let port = AsyncStream<Int>.makeStream()
        try await UpbitSimulator.running(application { port.continuation.yield($0) }, port.stream, body)
    }
}
