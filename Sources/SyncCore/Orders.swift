/// One order as the exchange lists or reports it.
public struct ExchangeOrder: Sendable, Hashable, Codable {
    /// The venue's id (`<space>:<id>` for an id space of its own; `ExchangeOrderID`).
    public var id: ExchangeOrderID
    /// Other ids the venue knows the same order by, which a row or the origin's records may carry
    /// (one venue's conditional orders also by their plain number, as the origin stores them). A row
    /// matches an order by an alias only when both are conditional orders or both are not.
    public var aliases: [ExchangeOrderID] = []
    /// The order's type in the origin's vocabulary when the venue names it otherwise (the origin
    /// sends its STOP_LIMIT under another name on some venues); nil: `type`. The venue's knowledge,
    /// not part of the report.
    public var originType: OrderType?
    /// The client order id the order was placed with; where ownership tags live.
    public var clientOrderID: String?
    public var symbol: String
    public var side: Side
    public var type: OrderType
    public var status: ExchangeOrderStatus
    /// Limit price; zero for market and stop-market orders.
    public var price: Amount
    /// Trigger price of conditional orders; nil or zero otherwise.
    public var stopPrice: Amount?
    /// `origQty`.
    public var quantity: Amount
    /// `executedQty`.
    public var executedQuantity: Amount
    /// Creation time (`time` / `createTime`), ms.
    public var time: Millis

    public init(
        id: ExchangeOrderID,
        clientOrderID: String?,
        symbol: String,
        side: Side,
        type: OrderType,
        status: ExchangeOrderStatus,
        price: Amount,
        stopPrice: Amount? = nil,
        quantity: Amount,
        executedQuantity: Amount,
        time: Millis,
        aliases: [ExchangeOrderID] = [],
        originType: OrderType? = nil
    ) {
        self.id = id
        self.aliases = aliases
        self.originType = originType
        self.clientOrderID = clientOrderID
        self.symbol = symbol
        self.side = side
        self.type = type
        self.status = status
        self.price = price
        self.stopPrice = stopPrice
        self.quantity = quantity
        self.executedQuantity = executedQuantity
        self.time = time
    }

    /// Its id and its aliases.
    public var ids: [ExchangeOrderID] { [id] + aliases }

    /// `order_type` as the origin writes it for this order.
    public var typeForOrigin: OrderType { originType ?? type }

    // Aliases are the venue's knowledge for matching, not part of the report. `status` is the
    // phase in the unified vocabulary, `venueStatus` the venue's word.
    enum CodingKeys: String, CodingKey {
        case id, clientOrderID, symbol, side, type, status, venueStatus, price, stopPrice, quantity, executedQuantity, time
    }

    public init(from decoder: any Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        id = try c.decode(ExchangeOrderID.self, forKey: .id)
        clientOrderID = try c.decodeIfPresent(String.self, forKey: .clientOrderID)
        symbol = try c.decode(String.self, forKey: .symbol)
        side = try c.decode(Side.self, forKey: .side)
        type = try c.decode(OrderType.self, forKey: .type)
        status = ExchangeOrderStatus(
            try c.decode(ExchangeOrderStatus.Phase.self, forKey: .status),
            venueText: try c.decodeIfPresent(String.self, forKey: .venueStatus)
        )
        price = try c.decode(Amount.self, forKey: .price)
        stopPrice = try c.decodeIfPresent(Amount.self, forKey: .stopPrice)
        quantity = try c.decode(Amount.self, forKey: .quantity)
        executedQuantity = try c.decode(Amount.self, forKey: .executedQuantity)
        time = try c.decode(Millis.self, forKey: .time)
    }

    public func encode(to encoder: any Encoder) throws {
        var c = encoder.container(keyedBy: CodingKeys.self)
        try c.encode(id, forKey: .id)
        try c.encodeIfPresent(clientOrderID, forKey: .clientOrderID)
        try c.encode(symbol, forKey: .symbol)
        try c.encode(side, forKey: .side)
        try c.encode(type, forKey: .type)
        try c.encode(status.phase, forKey: .status)
        try c.encode(status.venueText, forKey: .venueStatus)
        try c.encode(price, forKey: .price)
        try c.encodeIfPresent(stopPrice, forKey: .stopPrice)
        try c.encode(quantity, forKey: .quantity)
        try c.encode(executedQuantity, forKey: .executedQuantity)
        try c.encode(time, forKey: .time)
    }
}

/// How much of the account's open orders a listing is known to contain.
public enum ListingCoverage: Sendable, Hashable {
    /// Every open order in the listing's scope is in it (of every id space the venue has).
    case complete
    /// Some of it was fetched (e.g. regular orders but not conditional ones). Changes nothing.
    case partial(reason: String)
    /// Nothing usable was fetched. Changes nothing.
    case failed(reason: String)

    public var isComplete: Bool { if case .complete = self { return true } else { return false } }
    /// `complete`, `partial` or `failed`.
    public var label: String {
        switch self {
        case .complete: return "complete"
        case .partial: return "partial"
        case .failed: return "failed"
        }
    }
    public var reason: String? {
        switch self {
        case .complete: return nil
        case .partial(let r), .failed(let r): return r
        }
    }
}

/// Which orders a listing covers: all (a no-symbol `openOrders`), only some symbols (per-symbol
/// calls), or only the orders it names (the exchange's word about them on a user data stream, in
/// whatever status: it says nothing of any other order).
public enum ListingScope: Sendable, Hashable {
    case allSymbols
    case symbols(Set<String>)
    case orders

    /// Whether the listing covers a symbol, in any spelling (`BTC/USDT` and `BTCUSDT` are one);
    /// an order-scoped listing covers no symbol as a whole.
    public func covers(_ symbol: String) -> Bool {
        switch self {
        case .allSymbols: return true
        case .symbols(let set): return set.contains(symbol) || set.contains { SymbolKey.of($0) == SymbolKey.of(symbol) }
        case .orders: return false
        }
    }
}

/// The exchange's open orders of one account in one market, with what the fetch achieved.
public struct ExchangeListing: Sendable, Hashable {
    public var coverage: ListingCoverage
    public var scope: ListingScope
    public var orders: [ExchangeOrder]

    public init(coverage: ListingCoverage, scope: ListingScope = .allSymbols, orders: [ExchangeOrder]) {
        self.coverage = coverage
        self.scope = scope
        self.orders = orders
    }

    public static func failed(_ reason: String) -> ExchangeListing {
        ExchangeListing(coverage: .failed(reason: reason), orders: [])
    }

    /// The exchange's word about these orders alone (events, or answers to queries by id), each in
    /// the status it has now: rows of other orders are not covered, and nothing is inferred from
    /// an order's absence.
    public static func events(_ orders: [ExchangeOrder]) -> ExchangeListing {
        ExchangeListing(coverage: .complete, scope: .orders, orders: orders)
    }
}

/// One `open_orders` row as ordersync reads it.
public struct OpenOrderRow: Sendable, Hashable, Codable {
    public var id: OpenOrderRowID
    public var link: StrategyLinkID
    public var exchangeOrderID: ExchangeOrderID
    public var symbol: String
    public var side: Side
    public var orderType: OrderType
    public var price: Amount?
    public var stopPrice: Amount?
    public var quantity: Amount
    public var filledQuantity: Amount
    /// `open_orders.status` verbatim (`OPEN`, `PARTIALLY_FILLED`, or the origin app's other values).
    public var status: String
    /// The row's `market_type`, or its strategy's when the row has none.
    public var market: Market
    public var createdAt: Millis
    public var updatedAt: Millis
    /// `market_type` verbatim (`futures`, `FUTURES`, …): rows ordersync adds to the link copy its form.
    public var marketText: String
    /// `is_processing`: the origin's job holds the row.
    public var isProcessing: Bool
    /// `processing_started_at` (nil when NULL).
    public var processingStartedAt: Millis?
    /// `cancel_attempted_at` (nil when NULL): when the origin began cancelling (status CANCELLING).
    public var cancelAttemptedAt: Millis?

    public init(
        id: OpenOrderRowID,
        link: StrategyLinkID,
        exchangeOrderID: ExchangeOrderID,
        symbol: String,
        side: Side,
        orderType: OrderType,
        price: Amount?,
        stopPrice: Amount? = nil,
        quantity: Amount,
        filledQuantity: Amount,
        status: String,
        market: Market,
        createdAt: Millis,
        updatedAt: Millis,
        marketText: String? = nil,
        isProcessing: Bool = false,
        processingStartedAt: Millis? = nil,
        cancelAttemptedAt: Millis? = nil
    ) {
        self.marketText = marketText ?? market.rawValue
        self.isProcessing = isProcessing
        self.processingStartedAt = processingStartedAt
        self.cancelAttemptedAt = cancelAttemptedAt
        self.id = id
        self.link = link
        self.exchangeOrderID = exchangeOrderID
        self.symbol = symbol
        self.side = side
        self.orderType = orderType
        self.price = price
        self.stopPrice = stopPrice
        self.quantity = quantity
        self.filledQuantity = filledQuantity
        self.status = status
        self.market = market
        self.createdAt = createdAt
        self.updatedAt = updatedAt
    }
}

/// A strategy's link to an account (`strategy_accounts` joined with `strategies`).
public struct StrategyLink: Sendable, Hashable, Codable {
    public var id: StrategyLinkID
    public var strategy: StrategyID
    public var account: AccountID
    /// The strategy's market (`strategies.market_type`).
    public var market: Market
    /// The link and its strategy are both active.
    public var isActive: Bool
    /// The strategy's `group_name` (how traders and webhooks name it); empty when unknown.
    public var groupName: String

    public init(id: StrategyLinkID, strategy: StrategyID, account: AccountID, market: Market, isActive: Bool, groupName: String = "") {
        self.id = id
        self.strategy = strategy
        self.account = account
        self.market = market
        self.isActive = isActive
        self.groupName = groupName
    }
}

/// An exchange order no strategy can be shown to own, as kept in `sync_orphans`.
public struct OrphanRecord: Sendable, Hashable, Codable {
    public var account: AccountID
    public var market: Market
    /// The order as last seen.
    public var order: ExchangeOrder
    public var firstSeen: Millis
    public var lastSeen: Millis
    public var timesSeen: Int

    public init(account: AccountID, market: Market, order: ExchangeOrder, firstSeen: Millis, lastSeen: Millis, timesSeen: Int) {
        self.account = account
        self.market = market
        self.order = order
        self.firstSeen = firstSeen
        self.lastSeen = lastSeen
        self.timesSeen = timesSeen
    }
}

/// The answer to a targeted query of one order.
public enum TargetedQueryResult: Sendable, Hashable {
    /// The exchange knows the order and says this.
    case found(ExchangeOrder)
    /// The exchange answered that it does not know the order.
    case notFound
    /// The query failed (transport, 5xx, rate limit); nothing is known.
    case failed(reason: String)
}

/// The origin app's own timing rules (ORIGIN-FACTS §3, §5), which ordersync honours rather than races.
public enum OriginRules {
    /// A `PENDING` placeholder older than this is marked FAILED by the origin (without asking the exchange).
    public static let pendingGiveUp: Millis = 120_000
    /// A `CANCELLING` row is re-checked by the origin after this long (`cancel_attempted_at`).
    public static let cancellingRecheck: Millis = 300_000
    /// An `is_processing` lock older than this is stale: the origin itself releases it.
    public static let staleProcessingLock: Millis = 300_000
    /// The prefix of the origin's placeholder ids while an order is being placed.
    public static let placeholderPrefix = "PENDING-"
    /// Statuses of rows that no longer describe a resting order (the origin keeps FAILED forever).
    public static let finishedStatuses: Set<String> = ["FAILED", "FILLED", "CANCELLED", "CANCELED", "REJECTED", "EXPIRED"]
}

/// What an `open_orders` row is, read as the origin app writes it.
public enum RowLifecycle: Sendable, Hashable {
    /// `NEW`, `OPEN`, `PARTIALLY_FILLED`: a resting order ordersync reconciles and may cancel.
    case live(OpenState)
    /// `PENDING` or a `PENDING-…` id: the origin is placing it. Never sent to an exchange, never a miss.
    case placeholder
    /// `CANCELLING` within the origin's recheck window: its own cancel is in progress; not raced.
    case cancelling
    /// `CANCELLING` past the recheck window: reconciled as live (its status text is left to the origin).
    case staleCancelling
    /// `FAILED`, or a terminal status the origin left in the table: ignored.
    case finished
    /// A status ordersync does not know: left alone and reported by `check`.
    case unknownStatus
}

extension OpenOrderRow {
    /// The row's lifecycle at `now`.
    public func lifecycle(now: Millis) -> RowLifecycle {
        // The statuses the origin writes, as it writes them (the hot path of every pass)…
        let placeholder =
            exchangeOrderID.rawValue.utf8.first == UInt8(ascii: "P") && exchangeOrderID.rawValue.hasPrefix(OriginRules.placeholderPrefix)
        if !placeholder {
            switch status {
            case "OPEN", "NEW": return .live(.open)
            case "PARTIALLY_FILLED": return .live(.partiallyFilled)
            default: break
            }
        }
        // …then any other spelling.
        let upper = status.uppercased()
        if upper == "FAILED" || OriginRules.finishedStatuses.contains(upper) { return .finished }
        if upper == "PENDING" || exchangeOrderID.rawValue.hasPrefix(OriginRules.placeholderPrefix) { return .placeholder }
        if upper == "CANCELLING" {
            let since = cancelAttemptedAt ?? updatedAt
            return now - since < OriginRules.cancellingRecheck ? .cancelling : .staleCancelling
        }
        if let state = OpenState(storedStatus: upper) { return .live(state) }
        return .unknownStatus
    }

    /// Whether the origin's job holds the row at `now` (`is_processing` and a lock younger than the
    /// origin's own 5-minute stale rule; a lock without a start time is never stale, as in its SQL).
    public func isHeld(now: Millis) -> Bool {
        guard isProcessing else { return false }
        guard let started = processingStartedAt else { return true }
        return now - started < OriginRules.staleProcessingLock
    }
}
