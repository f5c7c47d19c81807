import Scenarios
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
    /// ordersync's account id of each access key (for the control API's faults and truth).
    var accountIDs: [String: AccountID] = [:]
    var orders: [String: Order] = [:]
    /// Each account's order ids (a listing reads one account's orders, not the whole book).
    var idsByKey: [String: [String]] = [:]
    var nonces: Set<String> = []
    /// Per-second counts by access key (exchange groups are measured per account; `""`: unsigned
    /// requests, per address).
    var windows: [String: (second: Millis, counts: [String: Int])] = [:]
    var nextOrder = 1
    /// Added before every signed answer, ms.
    public var latencyMs = 0
    /// Accounts whose signed requests fail with 500.
    public var failingAccounts: Set<AccountID> = []
    /// Requests served, by `METHOD path`.
    public private(set) var requestCounts: [String: Int] = [:]
    /// How often each order was named by a cancel request.
    public private(set) var namedOrders: [String: Int] = [:]
    /// Calls of `DELETE /v1/orders/open` (the account-wide cancel ordersync never makes).
    public private(set) var wideCancels = 0
    /// Requests refused with 429.
    public private(set) var refused = 0

    /// How new order ids look: Upbit's UUIDs or Bithumb's `C0101…` numbers.
    public enum IDStyle: Sendable { case uuid, bithumb }
    let idStyle: IDStyle

    public init(limits: Limits = Limits(), idStyle: IDStyle = .uuid, clock: @escaping @Sendable () -> Millis) {
        self.limits = limits
        self.idStyle = idStyle
        self.clock = clock
    }

    /// Bithumb's limits (EXCHANGES.md §3.3): 140 per second per category and address, batch cancels 20.
    public static let bithumbLimits: Limits = {
        var l = Limits()
        l.perSecond = ["default": 140, "order": 140, "cancel": 140, "batch": 20, "market": 150]
        return l
    }()

    public func addAccount(accessKey: String, secret: String, account: AccountID? = nil) {
        secrets[accessKey] = secret
        if let account { accountIDs[accessKey] = account }
    }
    func secret(for accessKey: String) -> String? { secrets[accessKey] }
    func isFailing(_ accessKey: String) -> Bool { accountIDs[accessKey].map(failingAccounts.contains) ?? false }
    public func setFaults(latencyMs: Int, failingAccounts: Set<AccountID>) {
        self.latencyMs = max(0, latencyMs)
        self.failingAccounts = failingAccounts
    }
    public func setLimits(_ limits: Limits) { self.limits = limits }

    /// Whether `nonce` is new (it is then remembered: reuse is refused, as on the real exchange).
    func useNonce(_ nonce: String) -> Bool { nonces.insert(nonce).inserted }

    /// Counts one request of `group` in the current second; the remaining calls, or nil when over.
    func admit(_ endpoint: String, group: String, accessKey: String) -> Int? {
        let second = clock() / 1000
        var window = windows[accessKey] ?? (second, [:])
        if window.second != second { window = (second, [:]) }
        let limit = limits.perSecond[group] ?? 30
        let used = window.counts[group, default: 0]
        guard used < limit else {
            refused += 1
            return nil
        }
        window.counts[group] = used + 1
        windows[accessKey] = window
        requestCounts[endpoint, default: 0] += 1
        return limit - used - 1
    }

    /// Every order ever placed or seeded, with its account id, in id order.
    public func truth() -> [(account: AccountID?, order: Order)] {
        orders.values.sorted { $0.uuid < $1.uuid }.map { (accountIDs[$0.accessKey], $0) }
    }

    /// The access key of an account id (control API).
    public func accessKey(of account: AccountID) -> String? { accountIDs.first { $0.value == account }?.key }

    /// Puts an order in the book as it is (scenarios): its uuid as given, or the next one.
    public func seed(_ order: Order) {
        if orders[order.uuid] == nil { idsByKey[order.accessKey, default: []].append(order.uuid) }
        orders[order.uuid] = order
    }

    /// One account's orders.
    func book(_ accessKey: String) -> [Order] { (idsByKey[accessKey] ?? []).compactMap { orders[$0] } }

    /// The id `seed` would give the next order.
    public func nextUUID() -> String {
        defer { nextOrder += 1 }
        return id(nextOrder)
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
            guard !book(accessKey).contains(where: { $0.identifier == identifier }) else {
                throw .validation("identifier \(identifier) was used before")
            }
        }
        var uuid = id(nextOrder)
        nextOrder += 1
        while orders[uuid] != nil {
            uuid = id(nextOrder)
            nextOrder += 1
        }
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
        seed(order)
        return order
    }

    func id(_ n: Int) -> String {
        switch idStyle {
        case .uuid: return Self.uuid(n)
        case .bithumb:
            let digits = String(n)
            return "C0101" + String(repeating: "0", count: max(0, 15 - digits.count)) + digits
        }
    }

    /// A UUID-shaped id that never repeats (the real ones are random; tests need them stable).
    static func uuid(_ n: Int) -> String {
        let hex = String(n, radix: 16)
        let tail = String(repeating: "0", count: max(0, 12 - hex.count)) + hex
        return "5e1a0000-0000-4000-8000-\(tail)"
    }

    package func find(_ accessKey: String, uuid: String?, identifier: String?) -> Order? {
        if let uuid { return orders[uuid].flatMap { $0.accessKey == accessKey ? $0 : nil } }
        if let identifier { return book(accessKey).first { $0.identifier == identifier } }
        return nil
    }

    package func open(_ accessKey: String, market: String?, states: Set<String>, ascending: Bool) -> [Order] {
        book(accessKey)
            .filter { states.contains($0.state) && (market == nil || $0.market == market) }
            .sorted { ascending ? ($0.createdAt, $0.uuid) < ($1.createdAt, $1.uuid) : ($0.createdAt, $0.uuid) > ($1.createdAt, $1.uuid) }
    }

    /// Cancels one resting order; nil when it is unknown or already final.
    package func cancel(_ accessKey: String, uuid: String?, identifier: String?) -> Order? {
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

    /// Fills `volume` of a resting order (all of it: `done`); nil when it is not resting.
    @discardableResult
    public func fill(uuid: String, volume: String? = nil) -> Order? {
        guard var order = orders[uuid], order.state == "wait" else { return nil }
        let total = Amount(order.volume ?? "0") ?? .zero
        let executed = min(total, (Amount(order.executedVolume) ?? .zero).adding(volume.flatMap { Amount($0) } ?? total) ?? total)
        order.executedVolume = executed.description
        if executed == total { order.state = "done" }
        orders[uuid] = order
        return order
    }

    /// Cancels a resting order as if from elsewhere (the app, another program); nil when it is not resting.
    public func cancelElsewhere(uuid: String) -> Order? {
        guard var order = orders[uuid], order.state == "wait" || order.state == "watch" else { return nil }
        order.state = "cancel"
        orders[uuid] = order
        return order
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
    package static func validation(_ message: String) -> UpbitAPIError { UpbitAPIError(400, "validation_error", message) }
    package static let notFound = UpbitAPIError(404, "order_not_found", "주문을 찾지 못했습니다.")
    static func unauthorized(_ name: String, _ message: String) -> UpbitAPIError { UpbitAPIError(401, name, message) }
}

extension UpbitExchange {
    /// Loads a scenario's Upbit accounts (their `api_key`/`api_secret`) and exchange orders, with
    /// their uuids; ages count back from `at` (default: now), as on the Binance simulator.
    public func load(_ scenario: Scenario, exchange name: String = "UPBIT", at moment: Millis? = nil) {
        let now = moment ?? clock()
        var keys: [AccountID: String] = [:]
        for a in scenario.accounts where a.exchange == name {
            addAccount(accessKey: a.apiKey, secret: a.apiSecret.reveal(), account: a.id)
            keys[a.id] = a.apiKey
        }
        for o in scenario.exchangeOrders {
            guard let key = keys[o.account] else { continue }
            let e = o.order(now: now)
            let market = Self.markets.first { SymbolKey.of($0) == SymbolKey.of(e.symbol) } ?? e.symbol
            let state: String
            switch e.status.phase {
            case .open, .partiallyFilled: state = "wait"
            case .filled: state = "done"
            default: state = "cancel"
            }
            seed(
                Order(
                    uuid: e.id.rawValue,
                    accessKey: key,
                    market: market,
                    side: e.side == .buy ? "bid" : "ask",
                    ordType: e.type == .market ? (e.side == .buy ? "price" : "market") : "limit",
                    price: e.price.isZero ? nil : e.price.description,
                    volume: e.quantity.description,
                    executedVolume: e.executedQuantity.description,
                    state: state,
                    createdAt: e.time,
                    identifier: e.clientOrderID
                )
            )
        }
    }
}
