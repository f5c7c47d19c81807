import Scenarios
import SyncCore

/// One order as the simulated exchange keeps it (open or final), regular or algo.
public struct SimOrder: Sendable, Hashable {
    public var product: Product
    public var account: AccountID
    /// `orderId`, or `algoId` for an algo order.
    public var id: Int64
    public var isAlgo: Bool
    /// `clientOrderId` (`clientAlgoId` for algo orders).
    public var clientOrderID: String
    public var symbol: String
    public var side: Side
    public var type: String
    public var timeInForce: String
    public var price: Amount
    /// Spot `stopPrice`, futures `stopPrice`, algo `triggerPrice`.
    public var stopPrice: Amount
    public var quantity: Amount
    public var executed: Amount
    /// Quote quantity filled (`cummulativeQuoteQty` / `cumQuote`), informational.
    public var cumQuote: Double
    /// Exchange status (for algo orders: NEW, CANCELED, FINISHED, EXPIRED, …).
    public var status: ExchangeOrderStatus
    public var time: Millis
    public var updateTime: Millis
    public var reduceOnly: Bool
    public var positionSide: String

    /// ordersync's view of this order.
    public var exchangeOrder: ExchangeOrder {
        ExchangeOrder(
            id: isAlgo ? .algo(id) : .regular(id),
            clientOrderID: clientOrderID,
            symbol: symbol,
            side: side,
            type: OrderType(type),
            status: status,
            price: price,
            stopPrice: stopPrice.isZero ? nil : stopPrice,
            quantity: quantity,
            executedQuantity: executed,
            time: time
        )
    }
}

/// A new regular order as requested.
public struct NewOrder: Sendable {
    public var symbol: String
    public var side: Side
    public var type: String
    public var timeInForce: String?
    public var quantity: Amount?
    public var price: Amount?
    public var stopPrice: Amount?
    public var clientOrderID: String?
    public var reduceOnly = false
    public var positionSide = "BOTH"

    public init(
        symbol: String,
        side: Side,
        type: String,
        timeInForce: String? = nil,
        quantity: Amount?,
        price: Amount? = nil,
        stopPrice: Amount? = nil,
        clientOrderID: String? = nil
    ) {
        self.symbol = symbol
        self.side = side
        self.type = type
        self.timeInForce = timeInForce
        self.quantity = quantity
        self.price = price
        self.stopPrice = stopPrice
        self.clientOrderID = clientOrderID
    }
}

/// Names one order: by id or by client id.
public enum OrderRef: Sendable, Hashable {
    case id(Int64)
    case client(String)
}

/// What the market does to an order "from elsewhere" (control API).
public enum MarketAction: String, Sendable, CaseIterable {
    /// Fill the rest at the order's price (or the mark for market orders).
    case fill
    /// Fill part (the given quantity, default half of what remains).
    case partialFill = "partial_fill"
    /// Expire it.
    case expire
    /// Cancel it (by the user on another device, a UI, another bot).
    case cancel
}

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

    public private(set) var configuration: SimulatorConfiguration
    private let clock: @Sendable () -> Millis
    private var accounts: [String: Account] = [:]
    private var keyByAccount: [AccountID: String] = [:]
    private var symbols: [String: SymbolSpec]
    private var nextID: [Product: Int64] = [.spot: 1_000_000, .futures: 3_000_000_000]
    private var nextAlgoID: Int64 = 2_000_000
    private var weights: [String: WeightWindow] = [:]
    private var wideCancels: [String: Int] = [:]
    private var requests: [String: Int] = [:]
    /// Hosts banned for every address until then (`/_sim/ban`).
    private var forcedBans: [Product: Millis] = [:]
    /// Hosts banned until `liftBan`, with the Retry-After (seconds) each 418 carries.
    private var bansUntilLifted: [Product: Int] = [:]
    /// Weight charged and requests refused (429 or 418), by product.
    private var weightCharged: [String: Int] = [:]
    private var refused: [String: Int] = [:]
    var rng: SeededGenerator

    public init(configuration: SimulatorConfiguration = SimulatorConfiguration(), clock: @escaping @Sendable () -> Millis) {
        self.configuration = configuration
        self.clock = clock
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
                status: e.status,
                time: e.time,
                updateTime: e.time,
                reduceOnly: false,
                positionSide: "BOTH"
            )
            store(order, key: key)
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

    // MARK: Orders

    private func spec(_ symbol: String) throws(APIError) -> SymbolSpec {
        guard let spec = symbols[symbol] else { throw APIError.invalidSymbol }
        return spec
    }

    private func account(_ key: String) throws(APIError) -> Account {
        guard let account = accounts[key] else { throw APIError.invalidAPIKey }
        return account
    }

    func generatedClientID() -> String {
        let alphabet = Array("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789")
        return String((0..<22).map { _ in alphabet[Int(rng.next() % UInt64(alphabet.count))] })
    }

    private func store(_ order: SimOrder, key: String) {
        // Taken out and put back, so its dictionaries are uniquely referenced while they change
        // (a copy left in `accounts` made every store copy the account's whole order book).
        guard var account = accounts.removeValue(forKey: key) else { return }
        if order.isAlgo {
            if let old = account.algos[order.id], account.openAlgoClient[old.clientOrderID] == old.id {
                account.openAlgoClient[old.clientOrderID] = nil
            }
            account.algos[order.id] = order
            if order.status.isOpen { account.openAlgoClient[order.clientOrderID] = order.id }
        } else {
            if let old = account.orders[order.product]?[order.id], account.openClient[order.product]?[old.clientOrderID] == old.id {
                account.openClient[order.product]?[old.clientOrderID] = nil
            }
            account.orders[order.product, default: [:]][order.id] = order
            if order.status.isOpen { account.openClient[order.product, default: [:]][order.clientOrderID] = order.id }
        }
        accounts[key] = account
    }

    static let spotClientPattern = "^[a-zA-Z0-9-_]{1,36}$"
    static let futuresClientPattern = "^[\\.A-Z\\:/a-z0-9_-]{1,36}$"

    static func validClientID(_ id: String, product: Product) -> Bool {
        guard (1...36).contains(id.utf8.count) else { return false }
        let extra: Set<UInt8> = product == .spot ? [45, 95] : [45, 95, 46, 58, 47]
        return id.utf8.allSatisfy { ($0 >= 48 && $0 <= 57) || ($0 >= 65 && $0 <= 90) || ($0 >= 97 && $0 <= 122) || extra.contains($0) }
    }

    /// Filter checks as the real exchange makes them (tick size, step size, min/max quantity,
    /// min notional).
    private func checkFilters(_ spec: SymbolSpec, product: Product, price: Amount?, quantity: Amount) throws(APIError) {
        if let price, !price.isZero, !price.isMultiple(of: spec.tickSize) {
            throw product == .spot ? .filterFailure("PRICE_FILTER") : .tickSize
        }
        if !quantity.isMultiple(of: spec.stepSize) || quantity < spec.minQty || quantity > spec.maxQty {
            throw product == .spot ? .filterFailure("LOT_SIZE") : .stepSize
        }
        let reference = (price.flatMap { $0.isZero ? nil : $0 }) ?? spec.markPrice
        if reference.doubleValue * quantity.doubleValue < spec.minNotional.doubleValue {
            throw product == .spot ? .filterFailure("NOTIONAL") : .minNotional(spec.minNotional.description)
        }
    }

    /// `POST /api/v3/order`, `POST /fapi/v1/order`.
    public func place(_ request: NewOrder, product: Product, key: String) throws(APIError) -> SimOrder {
        let account = try account(key)
        let spec = try spec(request.symbol)
        let type = request.type.uppercased()
        let spotTypes = ["LIMIT", "MARKET", "LIMIT_MAKER", "STOP_LOSS", "STOP_LOSS_LIMIT", "TAKE_PROFIT", "TAKE_PROFIT_LIMIT"]
        let futuresAlgoTypes = ["STOP", "STOP_MARKET", "TAKE_PROFIT", "TAKE_PROFIT_MARKET", "TRAILING_STOP_MARKET"]
        if product == .futures, futuresAlgoTypes.contains(type) { throw APIError.algoOnly }
        guard (product == .spot ? spotTypes : ["LIMIT", "MARKET"]).contains(type) else {
            throw APIError.invalidEnum("Invalid orderType.")
        }
        guard let quantity = request.quantity, !quantity.isZero else { throw APIError.mandatory("quantity") }
        let needsPrice = ["LIMIT", "LIMIT_MAKER", "STOP_LOSS_LIMIT", "TAKE_PROFIT_LIMIT"].contains(type)
        let needsStop = ["STOP_LOSS", "STOP_LOSS_LIMIT", "TAKE_PROFIT", "TAKE_PROFIT_LIMIT"].contains(type)
        if needsPrice, request.price == nil { throw APIError.mandatory("price") }
        if needsStop, request.stopPrice == nil { throw APIError.mandatory("stopPrice") }
        let tif = request.timeInForce?.uppercased()
        if ["LIMIT", "STOP_LOSS_LIMIT", "TAKE_PROFIT_LIMIT"].contains(type), tif == nil { throw APIError.mandatory("timeInForce") }
        if let tif, !["GTC", "IOC", "FOK", "GTX", "GTD"].contains(tif) { throw APIError.invalidEnum("Invalid timeInForce.") }
        try checkFilters(spec, product: product, price: needsPrice ? request.price : nil, quantity: quantity)
        let client: String
        if let given = request.clientOrderID {
            guard Self.validClientID(given, product: product) else {
                throw product == .spot ? APIError.illegalChars("newClientOrderId", Self.spotClientPattern) : .invalidClientOrderIDFutures
            }
            if account.openClient[product]?[given] != nil { throw product == .spot ? APIError.duplicateSpot : .duplicateFutures }
            client = given
        } else {
            client = product == .spot ? generatedClientID() : "web_" + generatedClientID().prefix(18)
        }
        let now = now()
        let id = nextID[product, default: 1]
        nextID[product] = id + 1
        var order = SimOrder(
            product: product,
            account: account.id,
            id: id,
            isAlgo: false,
            clientOrderID: client,
            symbol: request.symbol,
            side: request.side,
            type: type,
            timeInForce: tif ?? "GTC",
            price: request.price ?? .zero,
            stopPrice: request.stopPrice ?? .zero,
            quantity: quantity,
            executed: .zero,
            cumQuote: 0,
            status: .new,
            time: now,
            updateTime: now,
            reduceOnly: request.reduceOnly,
            positionSide: request.positionSide
        )
        // Matching against the symbol's mark price.
        let crosses = request.side == .buy ? order.price >= spec.markPrice : order.price <= spec.markPrice
        switch type {
        case "MARKET":
            order.status = .filled
            order.executed = quantity
            order.cumQuote = quantity.doubleValue * spec.markPrice.doubleValue
        case "LIMIT_MAKER" where crosses:
            throw APIError.wouldMatch
        case "LIMIT" where crosses:
            order.status = .filled
            order.executed = quantity
            order.cumQuote = quantity.doubleValue * order.price.doubleValue
        case "LIMIT" where tif == "IOC" || tif == "FOK":
            order.status = .expired
        default:
            break
        }
        store(order, key: key)
        return order
    }

    /// `POST /fapi/v1/algoOrder` (conditional orders).
    public func placeAlgo(_ request: NewOrder, key: String) throws(APIError) -> SimOrder {
        let account = try account(key)
        let spec = try spec(request.symbol)
        let type = request.type.uppercased()
        guard ["STOP", "STOP_MARKET", "TAKE_PROFIT", "TAKE_PROFIT_MARKET", "TRAILING_STOP_MARKET"].contains(type) else {
            throw APIError.invalidEnum("Invalid orderType.")
        }
        guard let quantity = request.quantity, !quantity.isZero else { throw APIError.mandatory("quantity") }
        if type != "TRAILING_STOP_MARKET", request.stopPrice == nil { throw APIError.mandatory("triggerPrice") }
        if ["STOP", "TAKE_PROFIT"].contains(type), request.price == nil { throw APIError.mandatory("price") }
        try checkFilters(spec, product: .futures, price: request.price, quantity: quantity)
        let client: String
        if let given = request.clientOrderID {
            guard Self.validClientID(given, product: .futures) else { throw APIError.invalidClientOrderIDFutures }
            if account.openAlgoClient[given] != nil { throw APIError.duplicateFutures }
            client = given
        } else {
            client = generatedClientID()
        }
        let now = now()
        let id = nextAlgoID
        nextAlgoID += 1
        let order = SimOrder(
            product: .futures,
            account: account.id,
            id: id,
            isAlgo: true,
            clientOrderID: client,
            symbol: request.symbol,
            side: request.side,
            type: type,
            timeInForce: request.timeInForce?.uppercased() ?? "GTC",
            price: request.price ?? .zero,
            stopPrice: request.stopPrice ?? .zero,
            quantity: quantity,
            executed: .zero,
            cumQuote: 0,
            status: .new,
            time: now,
            updateTime: now,
            reduceOnly: request.reduceOnly,
            positionSide: request.positionSide
        )
        store(order, key: key)
        return order
    }

    private func find(_ ref: OrderRef, symbol: String, product: Product, key: String, algo: Bool) throws(APIError) -> SimOrder? {
        let account = try account(key)
        if !algo { _ = try spec(symbol) }
        let pool = algo ? account.algos : (account.orders[product] ?? [:])
        switch ref {
        case .id(let id):
            guard let order = pool[id], algo || order.symbol == symbol else { return nil }
            return order
        case .client(let client):
            if let id = algo ? account.openAlgoClient[client] : account.openClient[product]?[client], let order = pool[id],
                algo || order.symbol == symbol
            {
                return order
            }
            return pool.values.filter { $0.clientOrderID == client && (algo || $0.symbol == symbol) }.max { $0.id < $1.id }
        }
    }

    /// `GET /api/v3/order`, `GET /fapi/v1/order`, `GET /fapi/v1/algoOrder`.
    public func query(_ ref: OrderRef, symbol: String, product: Product, key: String, algo: Bool = false) throws(APIError) -> SimOrder {
        guard let order = try find(ref, symbol: symbol, product: product, key: key, algo: algo) else { throw APIError.noSuchOrder }
        return order
    }

    /// `DELETE /api/v3/order`, `DELETE /fapi/v1/order`, `DELETE /fapi/v1/algoOrder`: cancels one
    /// open order; -2011 when it is unknown or no longer open.
    public func cancel(_ ref: OrderRef, symbol: String, product: Product, key: String, algo: Bool = false) throws(APIError) -> SimOrder {
        guard var order = try find(ref, symbol: symbol, product: product, key: key, algo: algo), order.status.isOpen else {
            throw APIError.unknownOrder
        }
        order.status = .canceled
        order.updateTime = now()
        store(order, key: key)
        return order
    }

    /// `GET /api/v3/openOrders`, `GET /fapi/v1/openOrders`, `GET /fapi/v1/openAlgoOrders`.
    public func openOrders(symbol: String?, product: Product, key: String, algo: Bool = false) throws(APIError) -> [SimOrder] {
        let account = try account(key)
        if let symbol { _ = try spec(symbol) }
        let pool = algo ? account.algos : (account.orders[product] ?? [:])
        return pool.values.filter { $0.status.isOpen && (symbol == nil || $0.symbol == symbol) }.sorted { $0.id < $1.id }
    }

    /// `DELETE /api/v3/openOrders`, `DELETE /fapi/v1/allOpenOrders`: every open order of a symbol.
    /// Counted: ordersync must never call these.
    public func cancelAll(symbol: String, product: Product, key: String, endpoint: String) throws(APIError) -> [SimOrder] {
        wideCancels[endpoint, default: 0] += 1
        let open = try openOrders(symbol: symbol, product: product, key: key)
        return open.compactMap { try? cancel(.id($0.id), symbol: symbol, product: product, key: key) }
    }

    func countWideCancel(_ endpoint: String) { wideCancels[endpoint, default: 0] += 1 }

    private var namedOrderCounts: [String: Int] = [:]

    /// Counts the order ids a request names (`orderId`, `algoId`, `origClientOrderId`, `clientAlgoId`,
    /// each entry of `orderIdList`): what a client asked the exchange about.
    func noteNamedOrders(_ params: Params) {
        for name in ["orderId", "algoId", "origClientOrderId", "clientAlgoId"] {
            if let value = params[name] { namedOrderCounts[value, default: 0] += 1 }
        }
        if let list = params["orderIdList"] {
            for id in list.filter({ !"[]\" ".contains($0) }).split(separator: ",") { namedOrderCounts[String(id), default: 0] += 1 }
        }
    }

    /// Every order id any request named, with how often.
    public var namedOrders: [String: Int] { namedOrderCounts }

    /// Calls to account- or symbol-wide cancel endpoints, by endpoint.
    public var wideCancelCalls: [String: Int] { wideCancels }
    /// Requests served, by endpoint.
    public var requestCounts: [String: Int] { requests }
    /// Request weight charged, by product (`spot`, `futures`).
    public var weightCounts: [String: Int] { weightCharged }
    /// Requests refused for weight (429) or during a ban (418), by product.
    public var refusedCounts: [String: Int] { refused }

    // MARK: Market activity (control API)

    /// Does `action` to an order "from elsewhere". `quantity` is the fill for a partial fill.
    public func act(
        _ action: MarketAction,
        account: AccountID,
        product: Product,
        id: Int64,
        algo: Bool = false,
        quantity: Amount? = nil
    ) throws(APIError) -> SimOrder {
        guard let key = keyByAccount[account], let acct = accounts[key] else { throw APIError.invalidAPIKey }
        guard var order = algo ? acct.algos[id] : acct.orders[product]?[id], order.status.isOpen else { throw APIError.unknownOrder }
        let price = order.price.isZero ? (symbols[order.symbol]?.markPrice ?? .zero) : order.price
        let remaining = order.quantity.subtracting(order.executed) ?? .zero
        switch action {
        case .fill:
            order.executed = order.quantity
            order.cumQuote += remaining.doubleValue * price.doubleValue
            order.status = algo ? .finished : .filled
        case .partialFill:
            // An algo order triggers into a regular order; it does not fill in parts itself.
            guard !algo else { throw APIError.invalidParam("action") }
            // Default: half of what remains, rounded down to whole lots (at least one lot).
            let step = symbols[order.symbol]?.stepSize ?? Amount("0.001")!
            let lots = max(Int64(remaining.doubleValue / step.doubleValue / 2), 1)
            let part = quantity ?? Amount("\(lots * step.significand)e\(step.exponent)")!
            guard part < remaining, let executed = order.executed.adding(part) else {
                return try act(.fill, account: account, product: product, id: id, algo: algo)
            }
            order.executed = executed
            order.cumQuote += part.doubleValue * price.doubleValue
            order.status = .partiallyFilled
        case .expire:
            order.status = .expired
        case .cancel:
            order.status = .canceled
        }
        order.updateTime = now()
        store(order, key: key)
        return order
    }

    /// Places an order "by hand" (the exchange's UI): no signing, no weight.
    public func placeByHand(_ request: NewOrder, account: AccountID, product: Product) throws(APIError) -> SimOrder {
        guard let key = keyByAccount[account] else { throw APIError.invalidAPIKey }
        return try place(request, product: product, key: key)
    }

    /// Places a conditional futures order "by hand".
    public func placeAlgoByHand(_ request: NewOrder, account: AccountID) throws(APIError) -> SimOrder {
        guard let key = keyByAccount[account] else { throw APIError.invalidAPIKey }
        return try placeAlgo(request, key: key)
    }

    /// Every order ever placed, open and final.
    public func truth() -> [SimOrder] {
        accounts.values.flatMap { a in a.orders.values.flatMap(\.values) + a.algos.values }
            .sorted { ($0.product.rawValue, $0.isAlgo ? 1 : 0, $0.id) < ($1.product.rawValue, $1.isAlgo ? 1 : 0, $1.id) }
    }

    /// Bans every address on a product's host for `seconds` (418 with Retry-After until then).
    public func ban(_ product: Product, seconds: Int) {
        forcedBans[product] = now() + Millis(seconds) * 1000
    }

    /// Bans every address on a product's host until `liftBan` (each 418 says Retry-After
    /// `retryAfter` seconds): a ban whose length does not depend on how fast a test runs.
    public func banUntilLifted(_ product: Product, retryAfter: Int = 1) {
        bansUntilLifted[product] = max(1, retryAfter)
    }

    /// Ends a ban of `banUntilLifted`.
    public func liftBan(_ product: Product) {
        bansUntilLifted[product] = nil
    }

    /// Changes the faults at run time.
    public func setFaults(_ faults: FaultSettings) { configuration.faults = faults }
    /// Changes the limits at run time (and forgets weight used and bans).
    public func setLimits(_ limits: RateLimits) {
        configuration.limits = limits
        weights = [:]
    }
    /// Moves a symbol's mark price.
    public func setMarkPrice(_ symbol: String, _ price: Amount) { symbols[symbol]?.markPrice = price }

    /// One draw in [0, 1) from the seeded generator.
    func draw() -> Double { Double(rng.next() >> 11) / Double(1 << 53) }
}
