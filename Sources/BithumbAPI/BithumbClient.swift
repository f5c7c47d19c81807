import AsyncHTTPClient
import NIOCore
import NIOHTTP1
import SyncCore
import UpbitAPI

/// One Bithumb account's REST calls on API 2.0 (EXCHANGES.md §3): Upbit's signing scheme plus the
/// `timestamp` claim, HS256 (the origin's request shape); the v2 order endpoints current clients
/// use — `GET /v2/orders/pending` (cursor `next_key`), `DELETE /v2/order`, `POST /v2/orders/cancel`
/// (thirty ids, the batch), `POST /v2/orders` — and v1's `GET /v1/order` and `GET /v1/orders`
/// (by ids) to query. Requests are paced per category, as Bithumb limits them per address:
/// cancels, batch cancels and everything else each have a pacer.
public struct BithumbClient: Sendable {
    var transport: UpbitClient
    let cancelPacer: RequestPacer?
    let batchPacer: RequestPacer?

    /// Orders `POST /v2/orders/cancel` takes at most.
    public static let batchLimit = 30
    /// Orders a page of `GET /v2/orders/pending` holds at most.
    public static let pageSize = 100

    /// `pacer` paces listings and queries (the "other" category); `cancelPacer` single cancels;
    /// `batchPacer` batch cancels.
    public init(
        baseURL: String,
        accessKey: String,
        secret: Secret,
        http: HTTPClient = .shared,
        timeout: TimeAmount = .seconds(10),
        pacer: RequestPacer? = nil,
        cancelPacer: RequestPacer? = nil,
        batchPacer: RequestPacer? = nil
    ) {
        transport = UpbitClient(baseURL: baseURL, accessKey: accessKey, secret: secret, http: http)
        transport.algorithm = .hs256
        transport.timestampClaim = true
        transport.timeout = timeout
        transport.pacer = pacer
        self.cancelPacer = cancelPacer
        self.batchPacer = batchPacer
    }

    func call(_ method: HTTPMethod, _ path: String, _ params: [(String, String)], pacer: RequestPacer? = nil) async throws(UpbitError) -> [UInt8] {
        var t = transport
        if let pacer { t.pacer = pacer }
        return try await t.call(method, path, params)
    }

    /// `GET /v2/orders/pending`'s answer. Its envelope is UNVERIFIED in Bithumb's documents
    /// (README § Bithumb): `{"orders": [...], "has_next": bool, "next_key": "…"}`, the orders as
    /// v1's order objects.
    struct Pending: Decodable {
        var orders: [UpbitWire.Order]
        var has_next: Bool?
        var next_key: String?
    }

    /// Every resting order (`wait`, then `watch`), in `market` or all markets, page by page to the end.
    public func openOrders(market: String?) async throws(UpbitError) -> [ExchangeOrder] {
        var orders: [ExchangeOrder] = []
        for state in ["wait", "watch"] {
            var cursor: String?
            repeat {
                var params: [(String, String)] = market.map { [("market", $0)] } ?? []
                params += [("state", state), ("limit", String(Self.pageSize)), ("order_by", "asc")]
                if let cursor { params.append(("next_key", cursor)) }
                let page = try UpbitWire.decode(Pending.self, try await call(.GET, "/v2/orders/pending", params))
                for order in page.orders { orders.append(try order.exchangeOrder()) }
                cursor = page.has_next == true ? page.next_key : nil
            } while cursor != nil
        }
        return orders
    }

    public func order(id: String) async throws(UpbitError) -> ExchangeOrder {
        try UpbitWire.decode(UpbitWire.Order.self, try await call(.GET, "/v1/order", [("uuid", id)])).exchangeOrder()
    }

    /// Orders by id in any state (`GET /v1/orders` with `uuids[]`, at most 100).
    public func orders(ids: [String]) async throws(UpbitError) -> [ExchangeOrder] {
        guard !ids.isEmpty else { return [] }
        guard ids.count <= 100 else { throw UpbitError(.rejected, "a query by ids names at most 100 orders") }
        var params = ids.map { ("uuids[]", $0) }
        params += [("limit", "100"), ("order_by", "asc")]
        var orders: [ExchangeOrder] = []
        for order in try UpbitWire.orders(try await call(.GET, "/v1/orders", params)) {
            orders.append(try order.exchangeOrder())
        }
        return orders
    }

    struct Accepted: Decodable {
        var order_id: String
    }

    /// Cancels one order (`DELETE /v2/order`); returns when the cancel was accepted.
    public func cancel(id: String) async throws(UpbitError) {
        _ = try UpbitWire.decode(Accepted.self, try await call(.DELETE, "/v2/order", [("order_id", id)], pacer: cancelPacer))
    }

    struct BatchAnswer: Decodable {
        var success: [Accepted]
        var fail: [Accepted]?
    }

    /// Cancels up to thirty orders by id (`POST /v2/orders/cancel`); the ids accepted.
    public func cancel(ids: [String]) async throws(UpbitError) -> Set<String> {
        guard ids.count <= Self.batchLimit else { throw UpbitError(.rejected, "a batch cancel names at most \(Self.batchLimit) orders") }
        let answer = try UpbitWire.decode(
            BatchAnswer.self,
            try await call(.POST, "/v2/orders/cancel", ids.map { ("order_ids[]", $0) }, pacer: batchPacer)
        )
        return Set(answer.success.map(\.order_id))
    }

    public func markets() async throws(UpbitError) -> [String] {
        struct Market: Decodable { var market: String }
        return try UpbitWire.decode([Market].self, try await call(.GET, "/v1/market/all", [])).map(\.market)
    }

    /// Places a limit order (`POST /v2/orders`; tests and the demo); the new order's id.
    public func place(market: String, side: Side, volume: String, price: String, clientOrderID: String? = nil) async throws(UpbitError) -> String {
        var params = [("market", market), ("side", side == .buy ? "bid" : "ask"), ("order_type", "limit"), ("price", price), ("volume", volume)]
        if let clientOrderID { params.append(("client_order_id", clientOrderID)) }
        return try UpbitWire.decode(Accepted.self, try await call(.POST, "/v2/orders", params)).order_id
    }
}

extension BithumbClient: SpotOrderClient {
    /// `wait` and `watch` are listed separately.
    public static var listingRequests: Int { 2 }
}

/// Bithumb as a venue: its limits are per address and category (EXCHANGES.md §3.3: 140 requests
/// per second for cancels and for everything else, 20 for batch cancels), so every account shares
/// one pacer of each.
public typealias BithumbGateway = SpotVenue<BithumbClient>

extension SpotVenue where Client == BithumbClient {
    public init(
        baseURL: String,
        environment: [String: String],
        maxConnections: Int = 64,
        timeout: TimeAmount = .seconds(10),
        perSecond: Int = 140,
        batchPerSecond: Int = 20
    ) {
        let other = RequestPacer(perSecond: perSecond)
        let cancels = RequestPacer(perSecond: perSecond)
        let batches = RequestPacer(perSecond: batchPerSecond)
        self.init(
            exchange: "BITHUMB",
            name: "Bithumb",
            environment: environment,
            maxConnections: maxConnections,
            pacer: { _ in other },
            makeClient: { keys, http, pacer in
                BithumbClient(
                    baseURL: baseURL,
                    accessKey: keys.apiKey,
                    secret: keys.secret,
                    http: http,
                    timeout: timeout,
                    pacer: pacer,
                    cancelPacer: cancels,
                    batchPacer: batches
                )
            }
        )
    }
}
