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
    public var databasePath: String
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
    public var parallelism = 16
    public var environment: [String: String] = [:]

    public init(databasePath: String) { self.databasePath = databasePath }
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

extension OrderSyncApp {
    /// One reconciliation pass (`ordersync reconcile`): the report, after it was recorded in the DB.
    public static func reconcile(_ options: ReconcileOptions, trigger: String = "cli") async throws(AppError) -> DriftReport {
        let policy: ReconcilePolicy
        do {
            let tags = try ClientOrderTagCodec(prefix: options.tagPrefix)
            policy = ReconcilePolicy(grace: options.graceMs, confirmations: options.confirmations,
                                     maxQueriesPerPass: options.maxQueriesPerPass, attributor: Attributor(tags: tags))
        } catch {
            throw AppError("tag prefix \"\(options.tagPrefix)\" must be 1–8 letters or digits")
        }
        let db = try openDatabase(options.databasePath)
        let gateway = BinanceGateway(
            main: BinanceSession(configuration: ClientConfiguration(spotURL: options.spotURL, futuresURL: options.futuresURL)),
            testnet: BinanceSession(configuration: ClientConfiguration(spotURL: options.testnetSpotURL, futuresURL: options.testnetFuturesURL)),
            environment: options.environment)
        let runner = ReconcileRunner(store: db, gateway: gateway, policy: policy, parallelism: options.parallelism, now: SimulatorSetup.wallClock)
        do {
            let report = try await runner.pass(only: options.accounts, trigger: trigger)
            await gateway.shutdown()
            return report
        } catch {
            await gateway.shutdown()
            throw AppError("\(options.databasePath): \(error)")
        }
    }
}
