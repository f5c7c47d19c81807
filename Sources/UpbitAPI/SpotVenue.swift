import AsyncHTTPClient
import NIOCore
import OriginKeys
import SyncCore
import Synchronization

/// What a spot venue of Upbit's scheme (Upbit, Bithumb API 2.0) offers the gateway: resting orders
/// listed to the end, orders by id in any state, cancels by id one at a time or in a batch.
public protocol SpotOrderClient: Sendable {
    /// Orders one batch cancel may name.
    static var batchLimit: Int { get }
    /// Requests a listing of every market takes at least.
    static var listingRequests: Int { get }
    /// Every resting order, in `market` (the venue's code) or all markets.
    func openOrders(market: String?) async throws(UpbitError) -> [ExchangeOrder]
    func order(id: String) async throws(UpbitError) -> ExchangeOrder
    /// Orders by id, in any state (at most 100; absent ids are unknown).
    func orders(ids: [String]) async throws(UpbitError) -> [ExchangeOrder]
    /// Cancels one order; returns when the cancel was accepted (not necessarily applied).
    func cancel(id: String) async throws(UpbitError)
    /// Cancels up to `batchLimit` orders; the ids accepted.
    func cancel(ids: [String]) async throws(UpbitError) -> Set<String>
    /// The venue's market codes (public).
    func markets() async throws(UpbitError) -> [String]
}

/// A spot venue of Upbit's scheme (spot only; KRW, BTC and USDT quote markets). A listing is every
/// resting order of the account, paged to the end (one request per hundred orders, whatever the
/// symbols: cheaper than a call per market); cancels name orders by id, in the venue's batches, and
/// are settled by one query of their ids, since the venue accepts a cancel before it applies it.
/// Requests are paced under the venue's limit (`RequestPacer`: per account or per address, as the
/// venue measures). Neither venue has a testnet: an account with `is_testnet` is refused.
public struct SpotVenue<Client: SpotOrderClient>: Venue {
    public let exchange: String
    /// The venue's name in messages (`Upbit`).
    let name: String
    let environment: [String: String]
    let http: HTTPClient
    let makeClient: @Sendable (Credentials, HTTPClient, RequestPacer) -> Client
    let pacer: @Sendable (AccountID) -> RequestPacer
    let credentials = CredentialCache()

    /// - Parameters:
    ///   - exchange: the `accounts.exchange` value served, upper case.
    ///   - pacer: the pacer of an account's requests (the same one for every account when the venue
    ///     limits per address).
    public init(
        exchange: String,
        name: String,
        environment: [String: String],
        maxConnections: Int,
        pacer: @escaping @Sendable (AccountID) -> RequestPacer,
        makeClient: @escaping @Sendable (Credentials, HTTPClient, RequestPacer) -> Client
    ) {
        self.exchange = exchange
        self.name = name
        self.environment = environment
        var configuration = HTTPClient.Configuration()
        configuration.connectionPool.concurrentHTTP1ConnectionsPerHostSoftLimit = maxConnections
        // No tracer is bootstrapped; without this each request still builds its span's attributes
        // for the no-op tracer (a thirtieth of a pass's CPU).
        configuration.tracing.tracer = nil
        self.http = HTTPClient(eventLoopGroupProvider: .singleton, configuration: configuration)
        self.pacer = pacer
        self.makeClient = makeClient
    }

    func client(_ account: AccountRecord) throws(UpbitError) -> Client {
        if let problem = testnetProblem(account) { throw UpbitError(.rejected, problem) }
        let keys: Credentials
        do { keys = try credentials.resolve(account, environment: environment) } catch {
            throw UpbitError(.authentication, error.description)
        }
        return makeClient(keys, http, pacer(account.id))
    }

    func testnetProblem(_ account: AccountRecord) -> String? {
        account.isTestnet ? "\(name) has no testnet (the account has is_testnet)" : nil
    }
    var spotOnly: String { "\(name) trades spot only" }

    public func offers(_ market: Market, for account: AccountRecord) -> Bool { market == .spot }

    public func listing(_ account: AccountRecord, market: Market, symbols: Set<String>?) async -> ExchangeListing {
        guard market == .spot else { return .failed(spotOnly) }
        let client: Client
        do { client = try self.client(account) } catch { return .failed(error.description) }
        do {
            if let symbols {
                // Per market (the runner asks only when that is cheaper than every market at once).
                var orders: [ExchangeOrder] = []
                for symbol in symbols.sorted() {
                    guard let code = UpbitWire.market(symbol) else { return .failed("\(symbol) is not a \(name) market") }
                    orders += try await client.openOrders(market: code)
                }
                return ExchangeListing(coverage: .complete, scope: .symbols(Set(symbols.map(SymbolKey.of))), orders: orders)
            }
            return ExchangeListing(coverage: .complete, orders: try await client.openOrders(market: nil))
        } catch {
            return .failed(error.description)
        }
    }

    /// Requests, not weight: a listing of every market is `listingRequests` (one page each
    /// assumed); per market, that many each.
    public func listingWeight(_ account: AccountRecord, market: Market, symbols: Int?) -> Int {
        (symbols ?? 1) * Client.listingRequests
    }

    public func waitForRoom(_ account: AccountRecord, markets: Set<Market>, weight: Int) async {
        await pacer(account.id).waitForRoom(weight)
    }

    public func hasRoom(_ account: AccountRecord, markets: Set<Market>, weight: Int) async -> Bool {
        pacer(account.id).hasRoom(weight)
    }

    public func query(_ account: AccountRecord, market: Market, symbol: String, id: ExchangeOrderID) async -> TargetedQueryResult {
        do {
            return .found(try await client(account).order(id: id.rawValue))
        } catch  where error.kind == .notFound {
            return .notFound
        } catch {
            return .failed(reason: error.description)
        }
    }

    public func cancelLimits(_ account: AccountRecord, market: Market) -> CancelLimits {
        // Batches span markets; a handful in flight per account keeps within the venue's limit.
        CancelLimits(batchSize: Client.batchLimit, batchPerSymbol: false, batchesConditional: true, concurrency: 4)
    }

    public func send(_ request: CancelRequest, account: AccountRecord, market: Market) async -> [OrderCancelOutcome] {
        let rows = request.rows
        guard market == .spot else { return rows.map { _ in .failed(reason: spotOnly, unknown: false) } }
        let client: Client
        do { client = try self.client(account) } catch { return rows.map { _ in .failed(reason: error.description, unknown: false) } }
        let ids = rows.map(\.exchangeOrderID.rawValue)
        var accepted: Set<String> = []
        do {
            switch request {
            case .single(let row):
                do {
                    try await client.cancel(id: row.exchangeOrderID.rawValue)
                    accepted.insert(row.exchangeOrderID.rawValue)
                } catch  where error.kind == .notFound {
                    // Unknown, or already final: the settling query tells which.
                }
            case .batch:
                accepted = try await client.cancel(ids: ids)
            }
        } catch {
            // Refused as a whole, or no answer: whether it applied is unknown until the query settles it.
            return await settle(client, ids: ids, accepted: Set(ids), unknown: error.kind == .transport, failure: error.description)
        }
        return await settle(client, ids: ids, accepted: accepted, unknown: false, failure: nil)
    }

    /// Each order's outcome from one query of their ids: final → cancelled (if this cancel was
    /// accepted) or already final; still open → failed (unknown while a cancel was accepted);
    /// absent → not found. A cancel is applied a moment after it is accepted, so an accepted order
    /// still resting is queried again a few times.
    func settle(_ client: Client, ids: [String], accepted: Set<String>, unknown: Bool, failure: String?) async -> [OrderCancelOutcome] {
        var found: [String: ExchangeOrder] = [:]
        var queryProblem: String?
        for attempt in 0..<4 {
            let pending = ids.filter { found[$0] == nil || (accepted.contains($0) && found[$0]!.status.isOpen) }
            if pending.isEmpty { break }
            if attempt > 0 { try? await Task.sleep(for: .milliseconds(100 * attempt)) }
            do {
                for order in try await client.orders(ids: pending) { found[order.id.rawValue] = order }
                queryProblem = nil
            } catch {
                queryProblem = error.description
                // A query that failed twice will not be answered in the next moment either.
                if attempt >= 1 { break }
            }
        }
        return ids.map { id in
            guard let order = found[id] else {
                if let queryProblem { return .failed(reason: "\(failure ?? "cancel sent"); query: \(queryProblem)", unknown: true) }
                return .notFound
            }
            if !order.status.isOpen { return accepted.contains(id) && failure == nil ? .cancelled(order) : .alreadyFinal(order) }
            if accepted.contains(id) {
                return .failed(reason: failure ?? "cancel accepted; the exchange still reports \(order.status)", unknown: unknown || failure == nil)
            }
            return .failed(reason: failure ?? "the exchange refused the cancel and reports \(order.status)", unknown: false)
        }
    }

    public func credentialsProblem(_ account: AccountRecord) -> String? {
        testnetProblem(account) ?? Credentials.problem(account, environment: environment)
    }

    /// `check --online`: the market list (public), then one signed call (the resting orders of one
    /// market).
    public func probe(_ account: AccountRecord, market: Market) async -> String? {
        guard market == .spot else { return spotOnly }
        let client: Client
        do { client = try self.client(account) } catch { return error.description }
        do { _ = try await client.markets() } catch { return "market list: \(error.description)" }
        do {
            _ = try await client.openOrders(market: "KRW-BTC")
            return nil
        } catch {
            return "signed call: \(error.description)"
        }
    }

    public func shutdown() async { try? await http.shutdown() }
}

/// Upbit as a venue: its limit is per account (30 requests per second in its `default` group).
public typealias UpbitGateway = SpotVenue<UpbitClient>

extension SpotVenue where Client == UpbitClient {
    public init(
        baseURL: String,
        environment: [String: String],
        maxConnections: Int = 64,
        timeout: TimeAmount = .seconds(10),
        perSecond: Int = 30
    ) {
        let pacers = Mutex<[AccountID: RequestPacer]>([:])
        self.init(
            exchange: "UPBIT",
            name: "Upbit",
            environment: environment,
            maxConnections: maxConnections,
            pacer: { account in
                pacers.withLock { all in
                    if let p = all[account] { return p }
                    let p = RequestPacer(perSecond: perSecond)
                    all[account] = p
                    return p
                }
            },
            makeClient: { keys, http, pacer in
                var client = UpbitClient(baseURL: baseURL, accessKey: keys.apiKey, secret: keys.secret, http: http)
                client.timeout = timeout
                client.pacer = pacer
                return client
            }
        )
    }
}

extension UpbitClient: SpotOrderClient {
    public static var listingRequests: Int { 1 }
    public func openOrders(market: String?) async throws(UpbitError) -> [ExchangeOrder] { try await openOrders(market: market, page: 1) }
    public func order(id: String) async throws(UpbitError) -> ExchangeOrder { try await order(uuid: id) }
    public func orders(ids: [String]) async throws(UpbitError) -> [ExchangeOrder] { try await orders(uuids: ids) }
    public func cancel(id: String) async throws(UpbitError) { _ = try await cancel(uuid: id) }
    public func cancel(ids: [String]) async throws(UpbitError) -> Set<String> { Set(try await cancel(uuids: ids).cancelled) }
}
