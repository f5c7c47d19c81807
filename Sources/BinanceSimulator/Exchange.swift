import Scenarios
import SyncCore

/// The simulated exchange: accounts with one key pair each, independent books per product,
/// order ids unique per product, weight accounting per client IP and product.
public actor Exchange {
    struct Account {
        var id: AccountID
        var secret: String
        var orders: [Product: [Int64: SimOrder]] = [:]
        var algos: [Int64: SimOrder] = [:]
        /// Open orders by client order id, per product (algo orders under `.futures` algo space).
        var openClient: [Product: [String: Int64]] = [:]
        var openAlgoClient: [String: Int64] = [:]
        var orderCount10s: (start: Millis, count: Int) = (0, 0)
    }

    struct WeightWindow {
        var start: Millis = 0
        var used = 0
        var violations = 0
        var bannedUntil: Millis = 0
    }

    public internal(set) var configuration: SimulatorConfiguration
    let clock: @Sendable () -> Millis
    var accounts: [String: Account] = [:]
    var keyByAccount: [AccountID: String] = [:]
    var symbols: [String: SymbolSpec]
    var nextID: [Product: Int64] = [.spot: 1_000_000, .futures: 3_000_000_000]
    var nextAlgoID: Int64 = 2_000_000
    var weights: [String: WeightWindow] = [:]
    var wideCancels: [String: Int] = [:]
    var requests: [String: Int] = [:]
    /// Hosts banned for every address until then (`/_sim/ban`).
    var forcedBans: [Product: Millis] = [:]
    /// Hosts banned until `liftBan`, with the Retry-After (seconds) each 418 carries.
    var bansUntilLifted: [Product: Int] = [:]
    /// Accounts whose signed requests are held unanswered until `releaseHeld`, and the requests waiting.
    var heldAccounts: Set<AccountID> = []
    var heldRequests: [CheckedContinuation<Void, Never>] = []
    /// Weight charged and requests refused (429 or 418), by product.
    var weightCharged: [String: Int] = [:]
    var refused: [String: Int] = [:]
    /// Order ids requests named, with how often (`noteNamedOrders`).
    var namedOrderCounts: [String: Int] = [:]
    var rng: SeededGenerator
    /// The user data streams every order change is published to.
    public nonisolated let streams: UserStreams

    public init(configuration: SimulatorConfiguration = SimulatorConfiguration(), clock: @escaping @Sendable () -> Millis) {
        self.configuration = configuration
        self.clock = clock
        self.streams = UserStreams(clock: clock, settings: configuration.streams)
        self.symbols = Dictionary(configuration.symbols.map { ($0.symbol, $0) }, uniquingKeysWith: { a, _ in a })
        self.rng = SeededGenerator(seed: configuration.seed)
    }

    /// The exchange's time (the host clock plus any configured skew).
    public func now() -> Millis { clock() + configuration.faults.clockSkewMs }

    // MARK: Accounts and scenarios

    /// Opens an account for an API key pair.
    public func addAccount(_ id: AccountID, apiKey: String, secret: String) {
        accounts[apiKey] = Account(id: id, secret: secret)
        keyByAccount[id] = apiKey
    }

    /// Loads a scenario's accounts (their `api_key`/`api_secret`) and exchange orders, with their
    /// ids; symbols the configuration lacks are added with standard filters. Ages count back from
    /// `at` (default: now), so a database loaded from the same scenario can share the moment.
    public func load(_ scenario: Scenario, at moment: Millis? = nil) {
        let now = moment ?? now()
        for a in scenario.accounts where a.exchange == "BINANCE" {
            addAccount(a.id, apiKey: a.apiKey, secret: a.apiSecret.reveal())
        }
        for o in scenario.exchangeOrders {
            guard let key = keyByAccount[o.account] else { continue }
            if symbols[o.order.symbol] == nil { symbols[o.order.symbol] = .standard(o.order.symbol) }
            let product = Product(o.market)
            let e = o.order(now: now)
            let raw = Int64(e.id.venueID) ?? 0
            let order = SimOrder(
                product: product,
                account: o.account,
                id: raw,
                isAlgo: e.isAlgo,
                clientOrderID: e.clientOrderID ?? generatedClientID(),
                symbol: e.symbol,
                side: e.side,
                type: e.type.rawValue,
                timeInForce: "GTC",
                price: e.price,
                stopPrice: e.stopPrice ?? .zero,
                quantity: e.quantity,
                executed: e.executedQuantity,
                cumQuote: e.executedQuantity.doubleValue * e.price.doubleValue,
                status: BinanceStatus(e.status),
                time: e.time,
                updateTime: e.time,
                reduceOnly: false,
                positionSide: "BOTH"
            )
            store(order, key: key, announce: false)
            if e.isAlgo { nextAlgoID = max(nextAlgoID, raw + 1) } else { nextID[product] = max(nextID[product] ?? 1, raw + 1) }
        }
    }

    public var symbolSpecs: [SymbolSpec] { symbols.values.sorted { $0.symbol < $1.symbol } }

    func accountID(forKey key: String) -> AccountID? { accounts[key]?.id }

    /// The secret of an API key, for signature checks; nil for an unknown key.
    func secret(forKey key: String) -> String? { accounts[key]?.secret }

    // MARK: Weight

    /// Charges `weight` to `ip` on `product`'s host: the used weight after the charge, or a 429 /
    /// 418 as the real exchange answers once the limit is exceeded.
    func charge(ip: String, product: Product, weight: Int) throws(APIError) -> Int {
        let limits = configuration.limits
        let limit = product == .spot ? limits.spotWeight : limits.futuresWeight
        let key = "\(product.rawValue) \(ip)"
        let now = now()
        let windowMs = Millis(limits.windowSeconds) * 1000
        var w = weights[key] ?? WeightWindow()
        if let retry = bansUntilLifted[product] {
            refused[product.rawValue, default: 0] += 1
            throw APIError.banned(until: now + Millis(retry) * 1000, retryAfter: retry)
        }
        if let until = forcedBans[product], until > now { w.bannedUntil = max(w.bannedUntil, until) }
        if w.bannedUntil > now {
            refused[product.rawValue, default: 0] += 1
            throw APIError.banned(until: w.bannedUntil, retryAfter: Int((w.bannedUntil - now + 999) / 1000))
        }
        let windowStart = now - now % windowMs
        if w.start != windowStart {
            w.start = windowStart
            w.used = 0
            w.violations = 0
        }
        let retryAfter = Int((windowStart + windowMs - now + 999) / 1000)
        if w.used + weight > limit {
            w.violations += 1
            refused[product.rawValue, default: 0] += 1
            if w.violations > limits.violationsBeforeBan {
                w.bannedUntil = now + Millis(limits.banSeconds) * 1000
                weights[key] = w
                throw APIError.banned(until: w.bannedUntil, retryAfter: limits.banSeconds)
            }
            weights[key] = w
            throw APIError.tooManyRequests(limit: limit, interval: limits.intervalText, retryAfter: retryAfter)
        }
        w.used += weight
        weights[key] = w
        weightCharged[product.rawValue, default: 0] += weight
        return w.used
    }

    /// Counts a new order for the account's `X-MBX-ORDER-COUNT-10S` header.
    func countOrder(key: String) -> Int {
        guard var account = accounts.removeValue(forKey: key) else { return 0 }  // unique while it changes (see `store`)
        let now = now()
        let start = now - now % 10_000
        if account.orderCount10s.start != start { account.orderCount10s = (start, 0) }
        account.orderCount10s.count += 1
        accounts[key] = account
        return account.orderCount10s.count
    }

    func countRequest(_ endpoint: String) { requests[endpoint, default: 0] += 1 }
}
