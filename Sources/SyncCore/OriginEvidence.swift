/// Evidence of ownership the origin app left in its own tables (it never sends a client order id,
/// so its orders carry no tag): order ids it recorded against a strategy link, and the `PENDING-…`
/// placeholder rows it wrote before an exchange call whose answer it lost.

/// One of the origin's records naming an exchange order id with a strategy link.
public struct OriginRecord: Sendable, Hashable, Codable {
    /// The origin's tables that record order ids, strongest first (a fill it saw, then an attempt it failed to cancel).
    public enum Table: String, Sendable, Hashable, Codable, CaseIterable, Comparable {
        case trades
        case tradeExecutions = "trade_executions"
        case orderFillEvents = "order_fill_events"
        case failedOrders = "failed_orders"

        public static func < (a: Table, b: Table) -> Bool {
            allCases.firstIndex(of: a)! < allCases.firstIndex(of: b)!
        }
    }

    public var table: Table
    /// The record's primary key.
    public var id: Int64
    /// `exchange_order_id` (`original_order_id` of `failed_orders`), verbatim.
    public var exchangeOrderID: String
    public var link: StrategyLinkID
    /// The record's symbol, when it has one (any spelling).
    public var symbol: String?
    /// The record's `market_type` verbatim, when it has one.
    public var marketText: String?

    public init(table: Table, id: Int64, exchangeOrderID: String, link: StrategyLinkID, symbol: String?, marketText: String?) {
        self.table = table
        self.id = id
        self.exchangeOrderID = exchangeOrderID
        self.link = link
        self.symbol = symbol
        self.marketText = marketText
    }

    /// `recorded:<table>#<id>`.
    public var code: String { "recorded:\(table.rawValue)#\(id)" }

    /// Whether the record can be about this order: the same id (or one of its aliases, as the origin
    /// may store it), symbol and market when the record states them. Exchange ids may repeat across
    /// symbols and between spot and futures, so a record of another symbol or market is about
    /// another order and is not evidence either way.
    public func describes(_ order: ExchangeOrder, market: Market) -> Bool {
        guard order.ids.contains(where: { $0.rawValue == exchangeOrderID }) else { return false }
        if let symbol, !symbol.isEmpty, SymbolKey.of(symbol) != SymbolKey.of(order.symbol) { return false }
        if let marketText, let stated = Market(stored: marketText), stated != market { return false }
        return true
    }
}

/// What the shell must read for a decision to weigh the origin's evidence (one read per account and
/// market: every table once, not once per orphan).
public struct EvidenceRequest: Sendable, Hashable {
    public var account: AccountID
    public var market: Market
    /// Order ids to look up in the origin's records (with their aliases), sorted.
    public var orderIDs: [String]
    /// Placeholder rows to read: `created_at` in this range (ms), on this account's links.
    public var placeholdersCreated: ClosedRange<Millis>

    public init(account: AccountID, market: Market, orderIDs: [String], placeholdersCreated: ClosedRange<Millis>) {
        self.account = account
        self.market = market
        self.orderIDs = orderIDs
        self.placeholdersCreated = placeholdersCreated
    }
}

/// The answer to an `EvidenceRequest`.
public struct OriginEvidence: Sendable, Hashable {
    /// Records naming any of the requested ids (any account's links: a record naming another
    /// account's link is a conflict to report).
    public var records: [OriginRecord]
    /// `PENDING`/`FAILED` rows with a `PENDING-` id on the account's links, created in the range.
    public var placeholders: [OpenOrderRow]
    /// Statements the read took (reported by benchmarks).
    public var statements: Int

    public init(records: [OriginRecord] = [], placeholders: [OpenOrderRow] = [], statements: Int = 0) {
        self.records = records
        self.placeholders = placeholders
        self.statements = statements
    }
}

/// How close a placeholder row's `created_at` must be to the exchange order's time: the order's
/// time from `before` ms before the row's to `after` ms after it (the row is written first, then
/// the exchange is called; defaults 10 s and 60 s).
public struct PlaceholderWindow: Sendable, Hashable {
    public var before: Millis
    public var after: Millis

    public init(before: Millis = 10_000, after: Millis = 60_000) {
        precondition(before >= 0 && after >= 0)
        self.before = before
        self.after = after
    }

    /// Whether an order placed at `orderTime` can be the answer to a row created at `rowCreated`.
    public func contains(orderTime: Millis, rowCreated: Millis) -> Bool {
        let delta = orderTime - rowCreated
        return delta >= -before && delta <= after
    }

    /// The `created_at` range of rows that can match orders placed between `first` and `last`.
    public func rowsCreated(firstOrder first: Millis, lastOrder last: Millis) -> ClosedRange<Millis> {
        (first - after)...(last + before)
    }
}

/// A placeholder row as evidence: whether it may still be completed by the origin.
public enum PlaceholderState: Sendable, Hashable {
    /// `FAILED`, or `PENDING` older than the origin's 120 s: its answer was lost.
    case lost
    /// `PENDING` younger than 120 s: the origin may still write the real id.
    case placing
}

extension OpenOrderRow {
    /// The row as placeholder evidence: a `PENDING-` id with status `PENDING` or `FAILED`; nil otherwise.
    public func placeholderState(now: Millis) -> PlaceholderState? {
        guard exchangeOrderID.rawValue.hasPrefix(OriginRules.placeholderPrefix) else { return nil }
        switch status.uppercased() {
        case "FAILED": return .lost
        case "PENDING": return now - createdAt >= OriginRules.pendingGiveUp ? .lost : .placing
        default: return nil
        }
    }

    /// Whether the row describes this order, field by field as the origin wrote it: symbol, side,
    /// order type (the origin's names), quantity, price (none for MARKET) and stop price exactly, and
    /// the order placed within the window of the row's creation.
    public func fingerprintMatches(_ order: ExchangeOrder, market: Market, window: PlaceholderWindow) -> Bool {
        let type = order.typeForOrigin
        guard SymbolKey.of(symbol) == SymbolKey.of(order.symbol), side == order.side, orderType == type, quantity == order.quantity,
            window.contains(orderTime: order.time, rowCreated: createdAt)
        else { return false }
        // Types without a limit price (MARKET, STOP_MARKET, …) compare no price.
        let limitPriced = type != .market && !type.rawValue.hasSuffix("_MARKET")
        if limitPriced && (price ?? .zero) != order.price { return false }
        return (stopPrice ?? .zero) == (order.stopPrice ?? .zero)
    }
}

/// The placeholder verdict on one order, from all orders and placeholders of an account-market.
public enum PlaceholderVerdict: Sendable, Hashable {
    /// Exactly one lost placeholder matches this order, and this order alone: repair that row.
    case unique(OpenOrderRow)
    /// Several rows match, or the row matches several orders: nothing is adopted.
    case ambiguous(rows: [OpenOrderRowID], orders: [ExchangeOrderID])
    /// A placeholder the origin may still complete matches: wait.
    case placing(OpenOrderRowID)
}

public enum PlaceholderMatcher {
    /// Matches orders without a row to placeholder rows on links of `account` and `market`; an order
    /// absent from the result has no placeholder evidence.
    public static func verdicts(
        orders: [ExchangeOrder],
        placeholders: [OpenOrderRow],
        account: AccountID,
        market: Market,
        links: [StrategyLinkID: StrategyLink],
        window: PlaceholderWindow,
        now: Millis
    ) -> [ExchangeOrderID: PlaceholderVerdict] {
        let eligible = placeholders.filter { row in
            guard let link = links[row.link], link.account == account, link.market == market else { return false }
            return row.placeholderState(now: now) != nil
        }
        guard !eligible.isEmpty else { return [:] }
        var rowsOf: [ExchangeOrderID: [OpenOrderRow]] = [:]
        var ordersOf: [OpenOrderRowID: [ExchangeOrderID]] = [:]
        for order in orders {
            for row in eligible where row.fingerprintMatches(order, market: market, window: window) {
                rowsOf[order.id, default: []].append(row)
                ordersOf[row.id, default: []].append(order.id)
            }
        }
        var verdicts: [ExchangeOrderID: PlaceholderVerdict] = [:]
        for (id, rows) in rowsOf {
            if let placing = rows.first(where: { $0.placeholderState(now: now) == .placing }) {
                verdicts[id] = .placing(placing.id)
            } else if rows.count == 1, ordersOf[rows[0].id] == [id] {
                verdicts[id] = .unique(rows[0])
            } else {
                let twins = Set(rows.flatMap { ordersOf[$0.id] ?? [] })
                verdicts[id] = .ambiguous(rows: rows.map(\.id).sorted(), orders: twins.sorted())
            }
        }
        return verdicts
    }
}

/// A placeholder row repaired in place: the real id, the exchange's status and fill — only while
/// the row still has its placeholder id and the status it was read with.
public struct PlaceholderRepair: Sendable, Hashable {
    public var row: OpenOrderRowID
    public var link: StrategyLinkID
    public var placeholderID: ExchangeOrderID
    /// `open_orders.status` as read (`PENDING` or `FAILED`, verbatim).
    public var readStatus: String
    public var order: ExchangeOrder
    public var status: OpenState

    public init(
        row: OpenOrderRowID,
        link: StrategyLinkID,
        placeholderID: ExchangeOrderID,
        readStatus: String,
        order: ExchangeOrder,
        status: OpenState
    ) {
        self.row = row
        self.link = link
        self.placeholderID = placeholderID
        self.readStatus = readStatus
        self.order = order
        self.status = status
    }
}
