import AsyncHTTPClient
import NIOCore
import OriginKeys
import SyncCore
import Synchronization

/// Upbit as a venue (spot only; KRW, BTC and USDT quote markets). A listing is every resting order
/// of the account, paged to the end (one request per hundred orders, whatever the symbols: cheaper
/// than a call per market); cancels name orders by id, twenty per `DELETE /v1/orders/uuids`, and
/// are settled by one query of their ids, since Upbit accepts a cancel before it applies it. Every
/// account's requests are paced under its limit (`UpbitPacer`). Upbit has no testnet: an account
/// with `is_testnet` is refused.
public struct UpbitGateway: Venue {
    public let exchange: String
    let baseURL: String
    let http: HTTPClient
    let environment: [String: String]
    let timeout: TimeAmount
    let perSecond: Int
    let credentials = CredentialCache()
    let pacers = Pacers()

    /// `exchange`: the `accounts.exchange` value served (`UPBIT`).
    public init(
        exchange: String = "UPBIT",
        baseURL: String,
        environment: [String: String],
        maxConnections: Int = 64,
        timeout: TimeAmount = .seconds(10),
        perSecond: Int = 30
    ) {
        self.exchange = exchange
        self.baseURL = baseURL
        self.environment = environment
        var configuration = HTTPClient.Configuration()
        configuration.connectionPool.concurrentHTTP1ConnectionsPerHostSoftLimit = maxConnections
        self.http = HTTPClient(eventLoopGroupProvider: .singleton, configuration: configuration)
        self.timeout = timeout
        self.perSecond = perSecond
    }

    /// One pacer per account, made on first use.
    final class Pacers: Sendable {
        let byAccount = Mutex<[AccountID: UpbitPacer]>([:])
        func pacer(_ account: AccountID, perSecond: Int) -> UpbitPacer {
            byAccount.withLock { all in
                if let p = all[account] { return p }
                let p = UpbitPacer(perSecond: perSecond)
                all[account] = p
                return p
            }
        }
    }

    func client(_ account: AccountRecord) throws(UpbitError) -> UpbitClient {
        if account.isTestnet { throw UpbitError(.rejected, "Upbit has no testnet (the account has is_testnet)") }
        let keys: Credentials
        do { keys = try credentials.resolve(account, environment: environment) } catch {
            throw UpbitError(.authentication, error.description)
        }
        var client = UpbitClient(baseURL: baseURL, accessKey: keys.apiKey, secret: keys.secret, http: http)
        client.timeout = timeout
        client.pacer = pacers.pacer(account.id, perSecond: perSecond)
        return client
    }

    static let spotOnly = "Upbit trades spot only"

    public func listing(_ account: AccountRecord, market: Market, symbols: Set<String>?) async -> ExchangeListing {
        guard market == .spot else { return .failed(Self.spotOnly) }
        let client: UpbitClient
        do { client = try self.client(account) } catch { return .failed(error.description) }
        do {
            if let symbols {
                // Per market (the runner asks only when that is cheaper than every market at once).
                var orders: [ExchangeOrder] = []
                for symbol in symbols.sorted() {
                    guard let code = UpbitWire.market(symbol) else { return .failed("\(symbol) is not an Upbit market") }
                    orders += try await client.openOrders(market: code)
                }
                return ExchangeListing(coverage: .complete, scope: .symbols(Set(symbols.map(SymbolKey.of))), orders: orders)
            }
            return ExchangeListing(coverage: .complete, orders: try await client.openOrders())
        } catch {
            return .failed(error.description)
        }
    }

    /// Requests, not weight: a listing of every market is one request per page (one page assumed);
    /// per market, one each.
    public func listingWeight(_ account: AccountRecord, market: Market, symbols: Int?) -> Int {
        symbols ?? 1
    }

    public func waitForRoom(_ account: AccountRecord, markets: Set<Market>, weight: Int) async {
        await pacers.pacer(account.id, perSecond: perSecond).waitForRoom(weight)
    }

    public func query(_ account: AccountRecord, market: Market, symbol: String, id: ExchangeOrderID) async -> TargetedQueryResult {
        do {
            return .found(try await client(account).order(uuid: id.rawValue))
        } catch  where error.kind == .notFound {
            return .notFound
        } catch {
            return .failed(reason: error.description)
        }
    }

    public func cancelLimits(_ account: AccountRecord, market: Market) -> CancelLimits {
        // Batches span markets; a handful in flight per account keeps within its 30 per second.
        CancelLimits(batchSize: UpbitClient.batchLimit, batchPerSymbol: false, batchesConditional: true, concurrency: 4)
    }

    public func send(_ request: CancelRequest, account: AccountRecord, market: Market) async -> [OrderCancelOutcome] {
        let rows = request.rows
        guard market == .spot else { return rows.map { _ in .failed(reason: Self.spotOnly, unknown: false) } }
        let client: UpbitClient
        do { client = try self.client(account) } catch { return rows.map { _ in .failed(reason: error.description, unknown: false) } }
        let ids = rows.map(\.exchangeOrderID.rawValue)
        var accepted: Set<String> = []
        do {
            switch request {
            case .single(let row):
                do {
                    _ = try await client.cancel(uuid: row.exchangeOrderID.rawValue)
                    accepted.insert(row.exchangeOrderID.rawValue)
                } catch  where error.kind == .notFound {
                    // Unknown, or already final: the settling query tells which.
                }
            case .batch:
                accepted = Set(try await client.cancel(uuids: ids).cancelled)
            }
        } catch {
            // Not sent, or no answer: whether it applied is unknown until the query settles it.
            return await settle(client, ids: ids, accepted: Set(ids), unknown: error.kind == .transport, failure: error.description)
        }
        return await settle(client, ids: ids, accepted: accepted, unknown: false, failure: nil)
    }

    /// Each order's outcome from one query of their ids: final → cancelled (if this cancel was
    /// accepted) or already final; still open → failed (unknown while a cancel was accepted);
    /// absent → not found. A cancel is applied a moment after it is accepted, so an accepted order
    /// still `wait` is queried again a few times.
    func settle(_ client: UpbitClient, ids: [String], accepted: Set<String>, unknown: Bool, failure: String?) async -> [OrderCancelOutcome] {
        var found: [String: ExchangeOrder] = [:]
        var queryProblem: String?
        for attempt in 0..<4 {
            let pending = ids.filter { found[$0] == nil || (accepted.contains($0) && found[$0]!.status.isOpen) }
            if pending.isEmpty { break }
            if attempt > 0 { try? await Task.sleep(for: .milliseconds(100 * attempt)) }
            do {
                for order in try await client.orders(uuids: pending) { found[order.id.rawValue] = order }
                queryProblem = nil
            } catch {
                queryProblem = error.description
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
        if account.isTestnet { return "Upbit has no testnet (the account has is_testnet)" }
        do {
            _ = try Credentials.resolve(account, environment: environment)
            return nil
        } catch {
            return error.description
        }
    }

    /// `check --online`: the market list (unsigned), then one signed call (the open orders of one
    /// market, a single page).
    public func probe(_ account: AccountRecord, market: Market) async -> String? {
        guard market == .spot else { return Self.spotOnly }
        let client: UpbitClient
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
