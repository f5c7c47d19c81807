import SyncCore

/// An Upbit-compatible exchange's state (spot; KRW, BTC and USDT quote markets): accounts by access
/// key, their orders, the nonces seen, per-second request counts per rate-limit group, and the
/// counters tests read (requests by endpoint, orders named by cancels, account-wide cancels).
public actor UpbitExchange {
    public struct Order: Sendable, Hashable {
        public var uuid: String
        public var accessKey: String
        public var market: String
        /// `bid` or `ask`.
        public var side: String
        public var ordType: String
        public var price: String?
        public var volume: String?
        public var executedVolume: String
        /// `wait`, `watch`, `done` or `cancel`.
        public var state: String
        public var createdAt: Millis
        public var identifier: String?
    }

    /// Requests per second and rate-limit group (EXCHANGES.md §2.3).
    public struct Limits: Sendable {
        public var perSecond: [String: Int] = ["default": 30, "order": 8, "order-cancel-all": 1]
        public init() {}
    }

    public static let markets = ["KRW-BTC", "KRW-ETH", "KRW-XRP", "BTC-ETH", "BTC-XRP", "USDT-BTC", "USDT-ETH"]

    let clock: @Sendable () -> Millis
    var limits: Limits
    var secrets: [String: String] = [:]
    var orders: [String: Order] = [:]
    var nonces: Set<String> = []
    var window: (second: Millis, counts: [String: Int]) = (0, [:])
    var nextOrder = 1
    /// Requests served, by `METHOD path`.
    public private(set) var requestCounts: [String: Int] = [:]
    /// How often each order was named by a cancel request.
    public private(set) var namedOrders: [String: Int] = [:]
    /// Calls of `DELETE /v1/orders/open` (the account-wide cancel ordersync never makes).
    public private(set) var wideCancels = 0
    /// Requests refused with 429.
    public private(set) var refused = 0

    public init(limits: Limits = Limits(), clock: @escaping @Sendable () -> Millis) {
        self.limits = limits
        self.clock = clock
    }

    public func addAccount(accessKey: String, secret: String) { secrets[accessKey] = secret }
    func secret(for accessKey: String) -> String? { secrets[accessKey] }

    /// Whether `nonce` is new (it is then remembered: reuse is refused, as on the real exchange).
    func useNonce(_ nonce: String) -> Bool { nonces.insert(nonce).inserted }

    /// Counts one request of `group` in the current second; the remaining calls, or nil when over.
    func admit(_ endpoint: String, group: String) -> Int? {
        let second = clock() / 1000
        if window.second != second { window = (second, [:]) }
        let limit = limits.perSecond[group] ?? 30
        let used = window.counts[group, default: 0]
        guard used < limit else {
            refused += 1
            return nil
        }
        window.counts[group] = used + 1
        requestCounts[endpoint, default: 0] += 1
        return limit - used - 1
    }

    // MARK: orders

    public func place(
        accessKey: String,
        market: String,
        side: String,
        ordType: String,
        price: String?,
        volume: String?,
        identifier: String?
    )
        throws(UpbitAPIError) -> Order
    {
        guard Self.markets.contains(market) else { throw .init(404, "market_does_not_exist", "market \(market) does not exist") }
        guard side == "bid" || side == "ask" else { throw .validation("side must be bid or ask") }
        guard ["limit", "price", "market", "best"].contains(ordType) else { throw .validation("ord_type \(ordType) is not supported") }
        if ordType == "limit" {
            guard let price, Amount(price).map({ $0 > .zero }) == true, let volume, Amount(volume).map({ $0 > .zero }) == true else {
                throw .validation("a limit order needs a positive price and volume")
            }
        }
        if let identifier {
            guard !identifier.isEmpty else { throw .validation("identifier must not be empty") }
            // Unique among all of the user's orders, successful or not.
            guard !orders.values.contains(where: { $0.accessKey == accessKey && $0.identifier == identifier }) else {
                throw .validation("identifier \(identifier) was used before")
            }
        }
        let uuid = Self.uuid(nextOrder)
        nextOrder += 1
        let order = Order(
            uuid: uuid,
            accessKey: accessKey,
            market: market,
            side: side,
            ordType: ordType,
            price: price,
            volume: volume,
            executedVolume: "0",
            state: "wait",
            createdAt: clock(),
            identifier: identifier
        )
        orders[uuid] = order
        return order
    }

    /// A UUID-shaped id that never repeats (the real ones are random; tests need them stable).
    static func uuid(_ n: Int) -> String {
        let hex = String(n, radix: 16)
        let tail = String(repeating: "0", count: max(0, 12 - hex.count)) + hex
        return "5e1a0000-0000-4000-8000-\(tail)"
    }

    func find(_ accessKey: String, uuid: String?, identifier: String?) -> Order? {
        if let uuid { return orders[uuid].flatMap { $0.accessKey == accessKey ? $0 : nil } }
        if let identifier { return orders.values.first { $0.accessKey == accessKey && $0.identifier == identifier } }
        return nil
    }

    func open(_ accessKey: String, market: String?, states: Set<String>, ascending: Bool) -> [Order] {
        orders.values
            .filter { $0.accessKey == accessKey && states.contains($0.state) && (market == nil || $0.market == market) }
            .sorted { ascending ? ($0.createdAt, $0.uuid) < ($1.createdAt, $1.uuid) : ($0.createdAt, $0.uuid) > ($1.createdAt, $1.uuid) }
    }

    /// Cancels one resting order; nil when it is unknown or already final.
    func cancel(_ accessKey: String, uuid: String?, identifier: String?) -> Order? {
        guard var order = find(accessKey, uuid: uuid, identifier: identifier) else { return nil }
        namedOrders[order.uuid, default: 0] += 1
        guard order.state == "wait" || order.state == "watch" else { return nil }
        let before = order
        order.state = "cancel"
        orders[order.uuid] = order
        return before
    }

    func cancelAll(_ accessKey: String) -> [Order] {
        wideCancels += 1
        var cancelled: [Order] = []
        for order in open(accessKey, market: nil, states: ["wait"], ascending: false).prefix(20) {
            if let c = cancel(accessKey, uuid: order.uuid, identifier: nil) { cancelled.append(c) }
        }
        return cancelled
    }

    // MARK: market activity (tests)

    /// Fills `volume` of a resting order (all of it: `done`).
    public func fill(uuid: String, volume: String? = nil) {
        guard var order = orders[uuid], order.state == "wait" else { return }
        let total = Amount(order.volume ?? "0") ?? .zero
        let executed = min(total, (Amount(order.executedVolume) ?? .zero).adding(volume.flatMap { Amount($0) } ?? total) ?? total)
        order.executedVolume = executed.description
        if executed == total { order.state = "done" }
        orders[uuid] = order
    }

    /// An order's current state (tests).
    public func order(_ uuid: String) -> Order? { orders[uuid] }
}

/// An Upbit error answer: HTTP status and `{"error": {"name", "message"}}`.
public struct UpbitAPIError: Error, Sendable, Hashable {
    public var status: Int
    public var name: String
    public var message: String
    public init(_ status: Int, _ name: String, _ message: String) {
        self.status = status
        self.name = name
        self.message = message
    }
    static func validation(_ message: String) -> UpbitAPIError { UpbitAPIError(400, "validation_error", message) }
    static let notFound = UpbitAPIError(404, "order_not_found", "주문을 찾지 못했습니다.")
    static func unauthorized(_ name: String, _ message: String) -> UpbitAPIError { UpbitAPIError(401, name, message) }
}
