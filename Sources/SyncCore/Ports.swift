/// What the decision for one account needs from the database, read in one snapshot.
public struct AccountSnapshot: Sendable {
    public var account: AccountID
    /// Rows of every link on the account, all markets.
    public var rows: [OpenOrderRow]
    /// Every strategy link on the account.
    public var links: [StrategyLink]
    public var orphans: [OrphanRecord]
    public var misses: [ExchangeOrderID: Int]
    /// The run of the last complete no-symbol sweep, by market; absent: never swept.
    public var lastSweepRun: [Market: Int64]

    public init(
        account: AccountID,
        rows: [OpenOrderRow],
        links: [StrategyLink],
        orphans: [OrphanRecord],
        misses: [ExchangeOrderID: Int],
        lastSweepRun: [Market: Int64] = [:]
    ) {
        self.account = account
        self.rows = rows
        self.links = links
        self.orphans = orphans
        self.misses = misses
        self.lastSweepRun = lastSweepRun
    }

    /// The symbols a per-symbol listing must cover in a market: those of its rows and registered
    /// orphans (so fills, cancels and departures are seen), plus `extra` (e.g. claimed symbols).
    /// Each pair once, as its `SymbolKey` (whatever spelling the rows use).
    public func symbolsOfInterest(market: Market, extra: Set<String> = []) -> Set<String> {
        var symbols = Set(extra.map(SymbolKey.of))
        for row in rows where row.market == market { symbols.insert(SymbolKey.of(row.symbol)) }
        for orphan in orphans where orphan.market == market { symbols.insert(SymbolKey.of(orphan.order.symbol)) }
        return symbols
    }

    /// The markets to reconcile: those of the account's links and rows (never "the first strategy's").
    public var markets: [Market] { Set(links.map(\.market) + rows.map(\.market)).sorted() }

    /// The snapshot as an event's decision sees it: the rows, orphans and miss counts of these
    /// orders alone (by `exchange_order_id`), every link, no sweeps.
    public func only(_ orders: Set<ExchangeOrderID>) -> AccountSnapshot {
        AccountSnapshot(
            account: account,
            rows: rows.filter { orders.contains($0.exchangeOrderID) },
            links: links,
            orphans: orphans.filter { orders.contains($0.order.id) },
            misses: misses.filter { orders.contains($0.key) }
        )
    }

    /// The part of the snapshot for one market, as the decision's input.
    public func input(market: Market, listing: ExchangeListing, now: Millis) -> ReconcileInput {
        ReconcileInput(
            account: account,
            market: market,
            listing: listing,
            rows: rows.filter { $0.market == market },
            links: links,
            orphans: orphans.filter { $0.market == market },
            misses: misses,
            now: now
        )
    }
}

/// How a plan's actions went.
public struct ApplyResult: Sendable, Hashable {
    /// Actions that changed something.
    public var applied = 0
    /// Actions skipped because the row changed since it was read (re-examined next pass).
    public var skipped = 0
    public init() {}
}

/// The database as the runtime uses it (OrderStore implements it).
public protocol ReconcileStore: Sendable {
    /// Every account, active or not.
    func accounts() async throws -> [AccountRecord]
    func accountSnapshot(_ account: AccountID) async throws -> AccountSnapshot
    /// `accountSnapshot(account).only(orders)`, read without the account's other rows (an event's
    /// decision, many a second: the database finds the orders by their unique id).
    func orderSnapshot(_ account: AccountID, orders: [ExchangeOrderID]) async throws -> AccountSnapshot
    /// The markets of each account's strategy links (one read per pass).
    func accountMarkets() async throws -> [AccountID: Set<Market>]
    /// The origin's records of these order ids and its placeholder rows in the range (reads only:
    /// ordersync never writes the origin's other tables).
    func originEvidence(_ request: EvidenceRequest) async throws -> OriginEvidence
    func beginRun(trigger: String, now: Millis) async throws -> Int64
    /// Applies one account-market plan with its findings in one transaction, and, when
    /// `recordSweep`, records a complete no-symbol listing as the account-market's last sweep.
    func apply(_ plan: ReconcilePlan, runID: Int64, now: Millis, recordSweep: Bool) async throws -> ApplyResult
    func finishRun(_ id: Int64, report: DriftReport) async throws
    /// Claims recorded in the database by the operator (read at the start of each pass).
    func operatorClaims() async throws -> [OperatorClaim]
}

extension ReconcileStore {
    /// The whole snapshot, narrowed (test doubles).
    public func orderSnapshot(_ account: AccountID, orders: [ExchangeOrderID]) async throws -> AccountSnapshot {
        try await accountSnapshot(account).only(Set(orders))
    }

    /// A store without recorded claims (test doubles).
    public func operatorClaims() async throws -> [OperatorClaim] { [] }
}

/// The exchange as the runtime uses it (each venue implements it; `Venues` routes). Reads only: the reconciler
/// never cancels anything.
public protocol ExchangeGateway: Sendable {
    /// Whether ordersync can talk to this account's exchange.
    func supports(_ account: AccountRecord) -> Bool
    /// Whether the account's exchange has this market at all (a spot-only venue has no futures); a
    /// market it does not have is reported `unsupported` and its rows are left alone.
    func offers(_ market: Market, for account: AccountRecord) -> Bool
    /// The account's open orders in a market — every symbol (`symbols` nil) or only those named;
    /// never throws (the coverage says what happened).
    func listing(_ account: AccountRecord, market: Market, symbols: Set<String>?) async -> ExchangeListing
    /// The request weight of that listing for this account (`symbols`: how many; nil for every symbol).
    func listingWeight(_ account: AccountRecord, market: Market, symbols: Int?) -> Int
    /// One order's state.
    func query(_ account: AccountRecord, market: Market, symbol: String, id: ExchangeOrderID) async -> TargetedQueryResult
    /// Returns when a listing of `weight` would fit in the request budget (without reserving it),
    /// so a pass waits for the next window before it takes an account's lock, not while holding it.
    func waitForRoom(_ account: AccountRecord, markets: Set<Market>, weight: Int) async
    /// Whether that listing fits now, so there is nothing to wait for (and no need to make the wait
    /// interruptible by a graceful shutdown, which costs two child tasks per account).
    func hasRoom(_ account: AccountRecord, markets: Set<Market>, weight: Int) async -> Bool
}

extension ExchangeGateway {
    public func waitForRoom(_ account: AccountRecord, markets: Set<Market>, weight: Int) async {}
    public func hasRoom(_ account: AccountRecord, markets: Set<Market>, weight: Int) async -> Bool { true }
    public func offers(_ market: Market, for account: AccountRecord) -> Bool { true }
}

/// One exchange: its listings, queries and cancels, with their costs and limits. Each exchange's
/// module implements one; the composition root routes every account to the venue named by its
/// `accounts.exchange` (`Venues`), so the core and the runtime never name an exchange.
public protocol Venue: ExchangeGateway, CancelGateway {
    /// The `accounts.exchange` value it serves, upper case.
    var exchange: String { get }
    /// Why the account's stored keys cannot be used (never a key or a value), or nil.
    func credentialsProblem(_ account: AccountRecord) -> String?
    /// `check --online`: one cheap unsigned and one cheap signed call; nil when both work.
    func probe(_ account: AccountRecord, market: Market) async -> String?
    /// Closes its connections.
    func shutdown() async
    /// Its user data streams, when it has them.
    var orderStreams: (any OrderStreams)? { get }
}

extension Venue {
    public func supports(_ account: AccountRecord) -> Bool { account.exchange == exchange }
    public var orderStreams: (any OrderStreams)? { nil }
}

/// What an account's order stream says.
public enum StreamSignal: Sendable, Hashable {
    /// Subscribed: the events that follow are complete until the next gap (once a listing has
    /// caught up with what the gap may have hidden).
    case live
    /// An order's state now, in the exchange's words, and when it changed (the exchange's time).
    case order(ExchangeOrder, updateTime: Millis)
    /// Events may have been lost (disconnected, key expired, subscription ended): a listing must
    /// catch up before the stream is trusted again.
    case gap(reason: String)
}

/// A venue's push channel of order changes (user data streams). Reads only, like listings.
public protocol OrderStreams: Sendable {
    /// Whether the venue streams this account's orders in this market.
    func streams(_ account: AccountRecord, market: Market) -> Bool
    /// Follows the account's orders in a market until the task is cancelled, reconnecting by
    /// itself (backoff with jitter); every connection, event and gap is told to `signal`.
    func follow(_ account: AccountRecord, market: Market, signal: @escaping @Sendable (StreamSignal) async -> Void) async
}
