import OriginKeys
import SyncCore

/// Binance as a venue (spot, USDⓈ-M futures and its Algo service) over the client: one session for production URLs and one for
/// testnet URLs (`accounts.is_testnet`), credentials resolved per account (Fernet, env overrides).
/// Symbols arrive in any spelling (`BTC/USDT` from the origin's rows) and go out as Binance's
/// (`SymbolKey`, which is Binance's own form).
public struct BinanceGateway: Venue {
    public var exchange: String { "BINANCE" }
    let main: BinanceSession
    let testnet: BinanceSession
    let environment: [String: String]
    let credentials = CredentialCache()

    public init(main: BinanceSession, testnet: BinanceSession, environment: [String: String]) {
        self.main = main
        self.testnet = testnet
        self.environment = environment
    }

    func client(_ account: AccountRecord) throws(BinanceError) -> AccountClient {
        do {
            return (account.isTestnet ? testnet : main).account(try credentials.resolve(account, environment: environment))
        } catch {
            throw .credentials(error.description)
        }
    }

    public func listing(_ account: AccountRecord, market: Market, symbols: Set<String>?) async -> ExchangeListing {
        let client: AccountClient
        do { client = try self.client(account) } catch { return .failed(error.description) }
        guard let given = symbols else { return await client.openOrders(market, symbol: nil) }
        let symbols = Set(given.map(SymbolKey.of))
        // One call per symbol, concurrently; the listing is complete only if every call was.
        return await withTaskGroup(of: (String, ExchangeListing).self) { group in
            for symbol in symbols { group.addTask { (symbol, await client.openOrders(market, symbol: symbol)) } }
            var orders: [ExchangeOrder] = []
            var problems: [String] = []
            for await (symbol, listing) in group {
                orders += listing.orders
                if let reason = listing.coverage.reason { problems.append("\(symbol) \(listing.coverage.label): \(reason)") }
            }
            if problems.isEmpty { return ExchangeListing(coverage: .complete, scope: .symbols(symbols), orders: orders) }
            if problems.count == symbols.count { return .failed(problems.sorted().joined(separator: "; ")) }
            return ExchangeListing(coverage: .partial(reason: problems.sorted().joined(separator: "; ")), scope: .symbols(symbols), orders: orders)
        }
    }

    public func waitForRoom(_ account: AccountRecord, markets: Set<Market>, weight: Int) async {
        let session = account.isTestnet ? testnet : main
        for market in markets.sorted() { await session.waitForRoom(market, weight: weight) }
    }

    public func hasRoom(_ account: AccountRecord, markets: Set<Market>, weight: Int) async -> Bool {
        let session = account.isTestnet ? testnet : main
        for market in markets.sorted() where await !session.governor(market).hasRoom(weight) { return false }
        return true
    }

    public func listingWeight(_ account: AccountRecord, market: Market, symbols: Int?) -> Int {
        guard let symbols else { return AccountClient.listingWeight(market, bySymbol: false) }
        return symbols * AccountClient.listingWeight(market, bySymbol: true)
    }

    public func query(_ account: AccountRecord, market: Market, symbol: String, id: ExchangeOrderID) async -> TargetedQueryResult {
        do {
            return .found(try await client(account).order(market, symbol: SymbolKey.of(symbol), .id(id)))
        } catch  where error.kind == .notFound {
            return .notFound
        } catch {
            return .failed(reason: error.description)
        }
    }

    public func cancelLimits(_ account: AccountRecord, market: Market) -> CancelLimits {
        (account.isTestnet ? testnet : main).cancelLimits(market)
    }

    public func send(_ request: CancelRequest, account: AccountRecord, market: Market) async -> [OrderCancelOutcome] {
        let client: AccountClient
        do { client = try self.client(account) } catch {
            return request.rows.map { _ in .failed(reason: error.description, unknown: false) }
        }
        switch request {
        case .single(let row):
            return [Self.outcome(await client.cancel(market, symbol: SymbolKey.of(row.symbol), row.exchangeOrderID))]
        case .batch(let symbol, let rows):
            let answers = await client.cancelBatch(symbol: symbol ?? SymbolKey.of(rows[0].symbol), rows.map(\.exchangeOrderID))
            return answers.map { Self.outcome($0.1) }
        }
    }

    static func outcome(_ outcome: CancelOutcome) -> OrderCancelOutcome {
        switch outcome {
        case .cancelled(let o): return .cancelled(o)
        case .alreadyFinal(let o): return .alreadyFinal(o)
        case .notFound: return .notFound
        case .failed(let e): return .failed(reason: e.description, unknown: e.kind == .unknownOutcome)
        }
    }

    /// Whether the account's keys resolve: nil when they do, else the reason (never a key or value).
    public func credentialsProblem(_ account: AccountRecord) -> String? {
        Credentials.problem(account, environment: environment)
    }

    /// `check --online`: the server's time, then the cheapest signed call (one order query for an
    /// id that does not exist: "unknown order" proves the key and signature). Nil when both work.
    public func probe(_ account: AccountRecord, market: Market) async -> String? {
        let client: AccountClient
        do { client = try self.client(account) } catch { return error.description }
        do { _ = try await client.serverTime(market) } catch { return "server time: \(error.description)" }
        do {
            _ = try await client.order(market, symbol: "BTCUSDT", .id(.regular(1)))
            return nil
        } catch  where error.kind == .notFound {
            return nil
        } catch {
            return "signed call: \(error.description)"
        }
    }

    public func shutdown() async {
        await main.shutdown()
        await testnet.shutdown()
    }
}
