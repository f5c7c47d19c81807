import BinanceAPI
import OrderStore
import SyncCore
import SyncRuntime

#if canImport(FoundationEssentials)
import FoundationEssentials
#else
import Foundation
#endif

/// Everything `ordersync reconcile` is built from.
public struct ReconcileOptions: Sendable {
    /// A SQLite path or a `postgresql://` URL.
    public var databasePath: String
    /// The PostgreSQL pool's size (`database.max_connections`).
    public var databaseMaxConnections = 4
    public var spotURL = "https://api.binance.com"
    public var futuresURL = "https://fapi.binance.com"
    public var testnetSpotURL = "https://testnet.binance.vision"
    public var testnetFuturesURL = "https://demo-fapi.binance.com"
    /// Only these accounts (nil: every active account).
    public var accounts: Set<AccountID>?
    public var graceMs: Millis = 10_000
    public var confirmations = 3
    public var maxQueriesPerPass = 10
    public var tagPrefix = "os1"
    /// A placeholder row matches an order placed from this long before its `created_at`…
    public var placeholderBeforeMs: Millis = 10_000
    /// …to this long after it.
    public var placeholderAfterMs: Millis = 60_000
    /// Operator claims (at most one link per account and symbol).
    public var claims: [OperatorClaim] = []
    /// Foreign client-order-id conventions (name, regex with a `link` group).
    public var conventions: [(name: String, pattern: String)] = []
    public var parallelism = 16
    /// Accounts cancelled at once by a strategy-scoped cancel.
    public var cancelParallelism = 128
    /// HTTP connections per exchange host (a fan-out sends one request per account and symbol at once).
    public var maxConnections = 256
    /// One exchange request's deadline, ms (a listing slower than this fails; the pass goes on).
    public var requestTimeoutMs = 10_000
    /// A full no-symbol listing at least every this many passes per account-market.
    public var sweepEvery = 10
    /// Called after each account of a pass with (done, total), e.g. for a progress line.
    public var progress: (@Sendable (Int, Int) -> Void)?
    public var weightBudget = 0.8
    public var recvWindowMs = 5000
    public var environment: [String: String] = [:]

    public init(databasePath: String) { self.databasePath = databasePath }

    /// Options from a configuration (flags are applied on top by the CLI).
    public init(config: OrdersyncConfig, databasePath: String) {
        self.databasePath = databasePath
        spotURL = config.spotURL
        futuresURL = config.futuresURL
        testnetSpotURL = config.testnetSpotURL
        testnetFuturesURL = config.testnetFuturesURL
        graceMs = config.graceMs
        confirmations = config.confirmations
        maxQueriesPerPass = config.maxQueriesPerPass
        tagPrefix = config.tagPrefix
        placeholderBeforeMs = config.placeholderBeforeMs
        placeholderAfterMs = config.placeholderAfterMs
        claims = config.claims
        conventions = config.conventions
        parallelism = config.parallelism
        cancelParallelism = config.cancelParallelism
        maxConnections = config.maxConnections
        requestTimeoutMs = config.requestTimeoutMs
        sweepEvery = config.sweepEvery
        weightBudget = config.weightBudget
        recvWindowMs = config.recvWindowMs
        databaseMaxConnections = config.databaseMaxConnections
    }
}

/// Which findings make `reconcile` exit 1.
public enum FailOn: String, Sendable, CaseIterable {
    case none, orphans, stale, any

    /// Whether the report has findings of this class.
    public func matches(_ report: DriftReport) -> Bool {
        let t = report.totals
        switch self {
        case .none: return false
        case .orphans: return t[.foreignOrphan] > 0
        case .stale: return t[.staleSuspected] + t[.unresolved] > 0
        case .any:
            return [FindingKind.drifted, .staleSuspected, .closed, .unresolved, .adopted, .foreignOrphan, .orphanGone].contains { t[$0] > 0 }
        }
    }
}

extension EntryPoints {
    /// One reconciliation pass (`ordersync reconcile`): the report, after it was recorded in the DB.
    public static func reconcile(_ options: ReconcileOptions, trigger: String = "cli") async throws(AppError) -> DriftReport {
        let (runner, gateway, db) = try await makeRunner(options)
        do {
            let report = try await runner.pass(only: options.accounts, trigger: trigger)
            await gateway.shutdown()
            await db.close()
            return report
        } catch {
            await gateway.shutdown()
            await db.close()
            throw AppError("\(try location(options.databasePath)): \(error)")
        }
    }

    public static func makeRunner(_ options: ReconcileOptions) async throws(AppError) -> (ReconcileRunner, BinanceGateway, OrderDatabase) {
        let tags: ClientOrderTagCodec
        let claims: ClaimSet
        do { tags = try ClientOrderTagCodec(prefix: options.tagPrefix) } catch {
            throw AppError("tag prefix \"\(options.tagPrefix)\" must be 1–8 letters or digits")
        }
        do { claims = try ClaimSet(options.claims) } catch { throw AppError("claims: \(error)") }
        var conventions: [ForeignTagConvention] = []
        for c in options.conventions {
            do { conventions.append(try ForeignTagConvention(name: c.name, pattern: c.pattern)) } catch { throw AppError("\(error)") }
        }
        let policy = ReconcilePolicy(
            grace: options.graceMs,
            confirmations: options.confirmations,
            maxQueriesPerPass: options.maxQueriesPerPass,
            attributor: Attributor(
                tags: tags,
                conventions: conventions,
                claims: claims,
                placeholderWindow: PlaceholderWindow(
                    before: options.placeholderBeforeMs,
                    after: options.placeholderAfterMs
                )
            )
        )
        let db = try await openDatabase(options.databasePath, maxConnections: options.databaseMaxConnections)
        func client(_ spot: String, _ futures: String) -> ClientConfiguration {
            var c = ClientConfiguration(spotURL: spot, futuresURL: futures)
            c.weightBudget = options.weightBudget
            c.recvWindow = options.recvWindowMs
            c.requestTimeout = .milliseconds(options.requestTimeoutMs)
            return c
        }
        let gateway = BinanceGateway(
            main: BinanceSession(
                configuration: client(options.spotURL, options.futuresURL),
                transport: AsyncHTTPTransport(maxConnectionsPerHost: options.maxConnections)
            ),
            testnet: BinanceSession(
                configuration: client(options.testnetSpotURL, options.testnetFuturesURL),
                transport: AsyncHTTPTransport(maxConnectionsPerHost: options.maxConnections)
            ),
            environment: options.environment
        )
        var runner = ReconcileRunner(
            store: db,
            gateway: gateway,
            policy: policy,
            parallelism: options.parallelism,
            sweepEvery: options.sweepEvery,
            now: EntryPoints.wallClock
        )
        runner.progress = options.progress
        return (runner, gateway, db)
    }
}

extension OperatorClaim {
    /// Parses `ACCOUNT:SYMBOL[:SIDE]=LINK`, e.g. `1:BTCUSDT:BUY=4`.
    public init?(argument: String) {
        let halves = argument.split(separator: "=")
        guard halves.count == 2, let link = Int64(halves[1]), link > 0 else { return nil }
        let parts = halves[0].split(separator: ":")
        guard (2...3).contains(parts.count), let account = Int64(parts[0]), account > 0, !parts[1].isEmpty else { return nil }
        var side: Side?
        if parts.count == 3 {
            guard let s = Side(parsing: String(parts[2])) else { return nil }
            side = s
        }
        self.init(account: AccountID(account), symbol: parts[1].uppercased(), side: side, link: StrategyLinkID(link))
    }
}
