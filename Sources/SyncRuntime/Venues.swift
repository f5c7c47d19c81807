import SyncCore

/// Every venue ordersync talks to, as one gateway: each account's listings, queries and cancels go
/// to the venue of its `accounts.exchange`; an account of an exchange no venue serves is
/// unsupported (reported, never touched).
public struct Venues: ExchangeGateway, CancelGateway {
    public let all: [any Venue]
    let byExchange: [String: any Venue]

    public init(_ venues: [any Venue]) {
        all = venues
        byExchange = Dictionary(venues.map { ($0.exchange, $0) }, uniquingKeysWith: { first, _ in first })
    }

    /// The account's venue, when one serves it.
    public func venue(for account: AccountRecord) -> (any Venue)? {
        guard let venue = byExchange[account.exchange], venue.supports(account) else { return nil }
        return venue
    }

    static func unsupported(_ account: AccountRecord) -> String { "exchange \(account.exchange) is not supported" }

    public func supports(_ account: AccountRecord) -> Bool { venue(for: account) != nil }

    public func listing(_ account: AccountRecord, market: Market, symbols: Set<String>?) async -> ExchangeListing {
        guard let venue = venue(for: account) else { return .failed(Self.unsupported(account)) }
        return await venue.listing(account, market: market, symbols: symbols)
    }

    public func offers(_ market: Market, for account: AccountRecord) -> Bool {
        venue(for: account)?.offers(market, for: account) ?? false
    }

    public func listingWeight(_ account: AccountRecord, market: Market, symbols: Int?) -> Int {
        venue(for: account)?.listingWeight(account, market: market, symbols: symbols) ?? 0
    }

    public func query(_ account: AccountRecord, market: Market, symbol: String, id: ExchangeOrderID) async -> TargetedQueryResult {
        guard let venue = venue(for: account) else { return .failed(reason: Self.unsupported(account)) }
        return await venue.query(account, market: market, symbol: symbol, id: id)
    }

    public func waitForRoom(_ account: AccountRecord, markets: Set<Market>, weight: Int) async {
        await venue(for: account)?.waitForRoom(account, markets: markets, weight: weight)
    }

    public func hasRoom(_ account: AccountRecord, markets: Set<Market>, weight: Int) async -> Bool {
        await venue(for: account)?.hasRoom(account, markets: markets, weight: weight) ?? true
    }

    public func cancelLimits(_ account: AccountRecord, market: Market) -> CancelLimits {
        venue(for: account)?.cancelLimits(account, market: market) ?? .singles
    }

    public func send(_ request: CancelRequest, account: AccountRecord, market: Market) async -> [OrderCancelOutcome] {
        guard let venue = venue(for: account) else {
            return request.rows.map { _ in .failed(reason: Self.unsupported(account), unknown: false) }
        }
        return await venue.send(request, account: account, market: market)
    }

    /// The user data streams of the account's venue, when it has them for this market.
    public func streams(for account: AccountRecord, market: Market) -> (any OrderStreams)? {
        guard let streams = venue(for: account)?.orderStreams, streams.streams(account, market: market) else { return nil }
        return streams
    }

    /// Closes every venue's connections.
    public func shutdown() async {
        for venue in all { await venue.shutdown() }
    }
}
