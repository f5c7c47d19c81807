import Scenarios
import SyncCore

/// Orders: placement with the exchange's filters, queries, cancels, listings; what requests named.
extension Exchange {
    // MARK: Orders

    func spec(_ symbol: String) throws(APIError) -> SymbolSpec {
        guard let spec = symbols[symbol] else { throw APIError.invalidSymbol }
        return spec
    }

    func account(_ key: String) throws(APIError) -> Account {
        guard let account = accounts[key] else { throw APIError.invalidAPIKey }
        return account
    }

    func generatedClientID() -> String {
        let alphabet = Array("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789")
        return String((0..<22).map { _ in alphabet[Int(rng.next() % UInt64(alphabet.count))] })
    }

    /// Keeps an order's new state and (`announce`) publishes the change on the user data streams.
    func store(_ order: SimOrder, key: String, announce: Bool = true) {
        // Taken out and put back, so its dictionaries are uniquely referenced while they change
        // (a copy left in `accounts` made every store copy the account's whole order book).
        guard var account = accounts.removeValue(forKey: key) else { return }
        if announce {
            let previous = order.isAlgo ? account.algos[order.id] : account.orders[order.product]?[order.id]
            streams.publish(order, previous: previous, spec: symbols[order.symbol])
        }
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
    func checkFilters(_ spec: SymbolSpec, product: Product, price: Amount?, quantity: Amount) throws(APIError) {
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

    func find(_ ref: OrderRef, symbol: String, product: Product, key: String, algo: Bool) throws(APIError) -> SimOrder? {
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

    /// Counts the order ids a request names (`orderId`, `algoId`, `origClientOrderId`, `clientAlgoId`,
    /// each entry of `orderIdList`): what a client asked the exchange about.
    func noteNamedOrders(_ params: Params) {
        for name in ["orderId", "algoId", "origClientOrderId", "clientAlgoId"] {
            if let value = params[name] { namedOrderCounts[value, default: 0] += 1 }
        }
        if let list = params["orderIdList"] {
            let skipped: Set<UInt8> = [UInt8(ascii: "["), UInt8(ascii: "]"), UInt8(ascii: "\""), UInt8(ascii: " ")]
            for part in list.utf8.split(separator: UInt8(ascii: ",")) {
                let id = part.filter { !skipped.contains($0) }
                if !id.isEmpty { namedOrderCounts[String(decoding: id, as: UTF8.self), default: 0] += 1 }
            }
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
}
