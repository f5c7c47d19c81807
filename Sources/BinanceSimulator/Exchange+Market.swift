import Scenarios
import SyncCore

/// Market activity and control (the `/_sim/` API): fills and cancels "from elsewhere", orders by hand,
/// the truth, bans, faults, limits and mark prices.
extension Exchange {
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

    /// Holds every signed request of `accounts` unanswered until `releaseHeld`: a listing past any
    /// deadline, however long the client waits, whose server still stops promptly once released.
    public func holdUntilReleased(_ accounts: Set<AccountID>) {
        heldAccounts = accounts
    }

    /// Answers the requests `holdUntilReleased` held, and holds no more.
    public func releaseHeld() {
        heldAccounts = []
        let waiting = heldRequests
        heldRequests = []
        for request in waiting { request.resume() }
    }

    /// Returns once `account` is not held (at once when it is not).
    func waitWhileHeld(_ account: AccountID) async {
        guard heldAccounts.contains(account) else { return }
        await withCheckedContinuation { heldRequests.append($0) }
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
