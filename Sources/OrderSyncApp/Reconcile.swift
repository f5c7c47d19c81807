import BinanceAPI
import BithumbAPI
import OrderStore
import SyncCore
import SyncRuntime
import UpbitAPI

#if canImport(FoundationEssentials)
import FoundationEssentials
#else
import Foundation
#endif

/// Everything `ordersync reconcile` and `serve` are built from: the configuration (defaults,
/// file, environment, flags) and what only a run has.
public struct ReconcileOptions: Sendable {
    public var config: OrdersyncConfig
    /// A SQLite path or a `postgresql://` URL (the flag, else `[database] url`, else `DATABASE_URL`).
    public var databasePath: String
    /// Only these accounts (nil: every active account).
    public var accounts: Set<AccountID>?
    /// Called after each account of a pass with (done, total), e.g. for a progress line.
    public var progress: (@Sendable (Int, Int) -> Void)?
    /// The process environment (the origin's key variables).
    public var environment: [String: String] = [:]
    /// Follow the exchanges' user data streams (`serve` with `[streams] enabled`).
    public var streams = false

    public init(config: OrdersyncConfig = OrdersyncConfig(), databasePath: String) {
        self.config = config
        self.databasePath = databasePath
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

    /// Every exchange ordersync talks to, built from the configuration: the composition root is
    /// the one place that names them. (Adding one: README § Architecture.)
    public static func venues(_ options: ReconcileOptions) -> Venues {
        let config = options.config
        func client(_ spot: String, _ futures: String, streams: (spot: String, futures: String)) -> ClientConfiguration {
            var c = ClientConfiguration(spotURL: spot, futuresURL: futures)
            if options.streams {
                c.spotStreamURL = streams.spot
                c.futuresStreamURL = streams.futures
            }
            c.weightBudget = config.exchange.weightBudget
            c.recvWindow = config.exchange.recvWindowMs
            c.requestTimeout = .milliseconds(config.exchange.requestTimeoutMs)
            return c
        }
        let binance = BinanceGateway(
            main: BinanceSession(
                configuration: client(
                    config.exchange.spotURL,
                    config.exchange.futuresURL,
                    streams: (config.exchange.resolvedSpotWSURL, config.exchange.resolvedFuturesWSURL)
                ),
                transport: AsyncHTTPTransport(maxConnectionsPerHost: config.exchange.maxConnections)
            ),
            testnet: BinanceSession(
                configuration: client(
                    config.exchange.testnetSpotURL,
                    config.exchange.testnetFuturesURL,
                    streams: (config.exchange.resolvedTestnetSpotWSURL, config.exchange.resolvedTestnetFuturesWSURL)
                ),
                transport: AsyncHTTPTransport(maxConnectionsPerHost: config.exchange.maxConnections)
            ),
            environment: options.environment
        )
        let upbit = UpbitGateway(
            baseURL: config.exchange.upbitURL,
            environment: options.environment,
            maxConnections: config.exchange.maxConnections,
            timeout: .milliseconds(Int64(config.exchange.requestTimeoutMs)),
            perSecond: config.exchange.upbitRequestsPerSecond
        )
        let bithumb = BithumbGateway(
            baseURL: config.exchange.bithumbURL,
            environment: options.environment,
            maxConnections: config.exchange.maxConnections,
            timeout: .milliseconds(Int64(config.exchange.requestTimeoutMs)),
            perSecond: config.exchange.bithumbRequestsPerSecond
        )
        return Venues([binance, upbit, bithumb])
    }

    public static func makeRunner(_ options: ReconcileOptions) async throws(AppError) -> (ReconcileRunner, Venues, OrderDatabase) {
        let tags: ClientOrderTagCodec
        let claims: ClaimSet
        let config = options.config
        do { tags = try ClientOrderTagCodec(prefix: config.attribution.tagPrefix) } catch {
            throw AppError("tag prefix \"\(config.attribution.tagPrefix)\" must be 1–8 letters or digits")
        }
        do { claims = try ClaimSet(config.attribution.claims) } catch { throw AppError("claims: \(error)") }
        var conventions: [ForeignTagConvention] = []
        for c in config.attribution.conventions {
            do { conventions.append(try ForeignTagConvention(name: c.name, pattern: c.pattern)) } catch { throw AppError("\(error)") }
        }
        let policy = ReconcilePolicy(
            grace: config.reconcile.graceMs,
            confirmations: config.reconcile.confirmations,
            maxQueriesPerPass: config.reconcile.maxQueriesPerPass,
            attributor: Attributor(
                tags: tags,
                conventions: conventions,
                claims: claims,
                placeholderWindow: PlaceholderWindow(
                    before: config.attribution.placeholderBeforeMs,
                    after: config.attribution.placeholderAfterMs
                )
            )
        )
        let db = try await openDatabase(options.databasePath, maxConnections: config.database.maxConnections)
        let gateway = venues(options)
        var runner = ReconcileRunner(
            store: db,
            gateway: gateway,
            policy: policy,
            parallelism: config.reconcile.parallelism,
            sweepEvery: config.reconcile.sweepEvery,
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
