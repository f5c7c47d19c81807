import SyncCore
import Synchronization
import Testing

@testable import SyncRuntime

/// `Venues` sends each account's work to the venue of its `accounts.exchange`, and nothing to any
/// venue for an exchange none serves.
@Suite struct VenuesTests {
    /// A venue that answers with its own name and records whom it was asked about.
    final class Named: Venue {
        let exchange: String
        let limits: CancelLimits
        let asked = Mutex<[String]>([])
        init(_ exchange: String, limits: CancelLimits) {
            self.exchange = exchange
            self.limits = limits
        }
        func note(_ what: String, _ account: AccountRecord) { asked.withLock { $0.append("\(what) \(account.id.rawValue)") } }
        func listing(_ account: AccountRecord, market: Market, symbols: Set<String>?) async -> ExchangeListing {
            note("list", account)
            return ExchangeListing(coverage: .complete, orders: [])
        }
        func listingWeight(_ account: AccountRecord, market: Market, symbols: Int?) -> Int { exchange.count * (symbols ?? 10) }
        func query(_ account: AccountRecord, market: Market, symbol: String, id: ExchangeOrderID) async -> TargetedQueryResult {
            note("query", account)
            return .notFound
        }
        func cancelLimits(_ account: AccountRecord, market: Market) -> CancelLimits { limits }
        func send(_ request: CancelRequest, account: AccountRecord, market: Market) async -> [OrderCancelOutcome] {
            note("cancel", account)
            return request.rows.map { _ in .notFound }
        }
        func credentialsProblem(_ account: AccountRecord) -> String? { nil }
        func probe(_ account: AccountRecord, market: Market) async -> String? { nil }
        func shutdown() async {}
    }

    static func account(_ id: Int64, _ exchange: String) -> AccountRecord {
        AccountRecord(
            id: AccountID(id),
            user: UserID(1),
            name: "a\(id)",
            exchange: exchange,
            apiKey: "k",
            apiSecret: Secret("s"),
            isTestnet: false,
            isActive: true
        )
    }

    static func row(_ id: Int64) -> OpenOrderRow {
        OpenOrderRow(
            id: OpenOrderRowID(id),
            link: StrategyLinkID(1),
            exchangeOrderID: ExchangeOrderID("\(id)"),
            symbol: "BTC/KRW",
            side: .buy,
            orderType: OrderType("LIMIT"),
            price: Amount("1"),
            stopPrice: nil,
            quantity: Amount("1")!,
            filledQuantity: .zero,
            status: "NEW",
            market: .spot,
            createdAt: 0,
            updatedAt: 0
        )
    }

    @Test func eachAccountReachesItsOwnVenueAndAnUnknownExchangeNone() async {
        let alpha = Named("ALPHA", limits: CancelLimits(batchSize: 20))
        let beta = Named("BETA", limits: CancelLimits(batchSize: 30))
        let venues = Venues([alpha, beta])
        let a = Self.account(1, "ALPHA")
        let b = Self.account(2, "BETA")
        let gamma = Self.account(3, "GAMMA")
        #expect(venues.supports(a) && venues.supports(b) && !venues.supports(gamma))
        #expect(venues.cancelLimits(a, market: .spot).batchSize == 20 && venues.cancelLimits(b, market: .spot).batchSize == 30)
        #expect(venues.cancelLimits(gamma, market: .spot).batchSize == CancelLimits.singles.batchSize)
        #expect(venues.listingWeight(a, market: .spot, symbols: nil) == 50 && venues.listingWeight(b, market: .spot, symbols: 2) == 8)

        _ = await venues.listing(a, market: .spot, symbols: nil)
        _ = await venues.query(b, market: .spot, symbol: "BTC/KRW", id: ExchangeOrderID("9"))
        _ = await venues.send(.single(Self.row(7)), account: b, market: .spot)
        let failed = await venues.listing(gamma, market: .spot, symbols: nil)
        let refused = await venues.send(.batch(symbol: nil, rows: [Self.row(8), Self.row(9)]), account: gamma, market: .spot)

        #expect(alpha.asked.withLock { $0 } == ["list 1"])
        #expect(beta.asked.withLock { $0 } == ["query 2", "cancel 2"])
        #expect(failed.coverage.reason == "exchange GAMMA is not supported")
        #expect(refused.count == 2 && refused.allSatisfy { if case .failed(_, let unknown) = $0 { !unknown } else { false } })
    }
}
