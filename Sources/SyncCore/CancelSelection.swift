/// Which rows a strategy-scoped cancel may touch: the strategy links in scope, narrowed by
/// optional filters. Nothing outside `links` can ever be selected.
public struct CancelScope: Sendable, Hashable {
    /// The strategy links whose rows may be cancelled (the owner's and/or subscribers').
    public var links: Set<StrategyLinkID>
    public var symbol: String?
    public var side: Side?
    public var market: Market?

    public init(links: Set<StrategyLinkID>, symbol: String? = nil, side: Side? = nil, market: Market? = nil) {
        self.links = links
        self.symbol = symbol
        self.side = side
        self.market = market
    }

    /// Whether the scope covers a row (symbols compared by `SymbolKey`: `BTC/USDT` == `BTCUSDT`).
    public func contains(_ row: OpenOrderRow) -> Bool {
        links.contains(row.link)
            && (symbol.map { SymbolKey.of(row.symbol) == SymbolKey.of($0) } ?? true)
            && (side == nil || row.side == side)
            && (market == nil || row.market == market)
    }
}

/// What a venue allows in the cancel requests of one account and market: the venue states it (one
/// exchange batches ten orders of one symbol, another twenty of any). The core plans with it and
/// nothing else batches again.
public struct CancelLimits: Sendable, Hashable {
    /// Orders one batch request may name (1: no batch cancel).
    public var batchSize: Int
    /// Whether a batch names orders of one symbol only.
    public var batchPerSymbol: Bool
    /// Whether orders stored in an id space of their own (`<space>:<id>`) may be batched with the rest.
    public var batchesConditional: Bool
    /// Requests in flight at once for one account and market.
    public var concurrency: Int

    public init(batchSize: Int, batchPerSymbol: Bool = true, batchesConditional: Bool = false, concurrency: Int = 64) {
        self.batchSize = max(1, batchSize)
        self.batchPerSymbol = batchPerSymbol
        self.batchesConditional = batchesConditional
        self.concurrency = max(1, concurrency)
    }

    /// One order per request.
    public static let singles = CancelLimits(batchSize: 1)
}

/// One request the canceller sends: always orders named by id, never a symbol- or account-wide cancel.
public enum CancelRequest: Sendable, Hashable {
    /// One order, by its id.
    case single(OpenOrderRow)
    /// Several orders in one request (the venue's batch cancel, within its `CancelLimits`); `symbol`
    /// is their symbol key when the venue batches per symbol.
    case batch(symbol: String?, rows: [OpenOrderRow])

    public var rows: [OpenOrderRow] {
        switch self {
        case .single(let row): return [row]
        case .batch(_, let rows): return rows
        }
    }
}

/// The cancels for one account and market.
public struct AccountCancelPlan: Sendable, Hashable {
    public var account: AccountID
    public var market: Market
    public var limits: CancelLimits
    public var requests: [CancelRequest]
    public var rows: [OpenOrderRow] { requests.flatMap(\.rows) }
}

/// Selects rows for a strategy-scoped cancel and groups them into exchange requests.
public enum CancelSelection {
    /// Whether a row names a resting order ordersync may cancel at `now`: live (`NEW`, `OPEN`,
    /// `PARTIALLY_FILLED`) or a `CANCELLING` the origin gave up rechecking; never a placeholder (it
    /// has no exchange id), a cancel the origin has in progress, or a `FAILED`/terminal row.
    public static func isCancellable(_ row: OpenOrderRow, now: Millis) -> Bool {
        switch row.lifecycle(now: now) {
        case .live, .staleCancelling: return true
        case .placeholder, .cancelling, .finished, .unknownStatus: return false
        }
    }

    /// The rows in scope that may be cancelled at `now`, in id order.
    public static func select(_ rows: [OpenOrderRow], scope: CancelScope, now: Millis) -> [OpenOrderRow] {
        rows.filter { scope.contains($0) && isCancellable($0, now: now) }.sorted { $0.id < $1.id }
    }

    /// Groups selected rows per account and market into the requests production sends, by the
    /// venue's `limits`: batchable orders in batches of at most `batchSize` (per symbol when the
    /// venue requires it), the rest one by one. `accountOf` maps each link to its account; a row
    /// whose link it does not know is not cancelled.
    public static func plan(
        _ rows: [OpenOrderRow],
        scope: CancelScope,
        accountOf: [StrategyLinkID: AccountID],
        now: Millis,
        limits: (AccountID, Market) -> CancelLimits
    ) -> [AccountCancelPlan] {
        struct Key: Hashable, Comparable {
            var account: AccountID
            var market: Market
            static func < (a: Key, b: Key) -> Bool { (a.account, a.market) < (b.account, b.market) }
        }
        var groups: [Key: [OpenOrderRow]] = [:]
        for row in select(rows, scope: scope, now: now) {
            guard let account = accountOf[row.link] else { continue }
            groups[Key(account: account, market: row.market), default: []].append(row)
        }
        return groups.keys.sorted().map { key in
            let rows = groups[key]!
            let limit = limits(key.account, key.market)
            return AccountCancelPlan(account: key.account, market: key.market, limits: limit, requests: requests(rows, limits: limit))
        }
    }

    /// One account and market's rows (in id order) as requests under `limits`.
    public static func requests(_ rows: [OpenOrderRow], limits: CancelLimits) -> [CancelRequest] {
        guard limits.batchSize > 1 else { return rows.map(CancelRequest.single) }
        func batchable(_ row: OpenOrderRow) -> Bool { limits.batchesConditional || row.exchangeOrderID.namespace == nil }
        var groups: [String: [OpenOrderRow]] = [:]
        for row in rows where batchable(row) { groups[limits.batchPerSymbol ? SymbolKey.of(row.symbol) : "", default: []].append(row) }
        var requests: [CancelRequest] = []
        for symbol in groups.keys.sorted() {
            let list = groups[symbol]!
            for start in stride(from: 0, to: list.count, by: limits.batchSize) {
                let chunk = Array(list[start..<min(start + limits.batchSize, list.count)])
                requests.append(chunk.count == 1 ? .single(chunk[0]) : .batch(symbol: limits.batchPerSymbol ? symbol : nil, rows: chunk))
            }
        }
        for row in rows where !batchable(row) { requests.append(.single(row)) }
        return requests
    }
}

/// What a strategy-scoped cancel may touch: the links in scope (with their accounts) and the filters.
public struct CancelTarget: Sendable, Hashable {
    public var strategy: String
    public var scope: CancelScope
    public var accountOf: [StrategyLinkID: AccountID]

    public init(strategy: String, scope: CancelScope, accountOf: [StrategyLinkID: AccountID]) {
        self.strategy = strategy
        self.scope = scope
        self.accountOf = accountOf
    }

    /// The target for some of a strategy's links, narrowed by the webhook's filters (`exchange`
    /// keeps only links whose account is on that exchange).
    public init(
        access: StrategyAccess,
        links: [StrategyAccess.Link],
        symbol: String? = nil,
        side: Side? = nil,
        market: Market? = nil,
        exchange: String? = nil
    ) {
        let kept = links.filter { exchange == nil || $0.exchange.uppercased() == exchange }
        strategy = access.groupName
        scope = CancelScope(links: Set(kept.map(\.link)), symbol: symbol, side: side, market: market)
        accountOf = Dictionary(kept.map { ($0.link, $0.account) }, uniquingKeysWith: { a, _ in a })
    }
}
