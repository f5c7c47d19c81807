import ArgumentParser
import Foundation
import OrderSyncApp
import SyncCore
import Synchronization

extension FailOn: ExpressibleByArgument {}

/// The configuration's defaults, for the flags' help.
let defaults = OrdersyncConfig()

/// Flags shared by `reconcile` and `serve`. A flag given overrides `ORDERSYNC_<SECTION>_<KEY>`,
/// which overrides the config file, which overrides the default.
struct ReconcileFlags: ParsableArguments {
    @Option(name: .long, help: ArgumentHelp("Configuration file (TOML; every key in config/ordersync.example.toml).", valueName: "file"))
    var config: String?
    @Option(name: .long, help: ArgumentHelp("SQLite file or postgresql:// URL (else [database] url, else DATABASE_URL).", valueName: "path|url"))
    var db: String?
    @Option(name: .customLong("spot-url"), help: "Spot REST base URL [exchange] spot_url.")
    var spotURL: String?
    @Option(name: .customLong("futures-url"), help: "USDⓈ-M futures REST base URL [exchange] futures_url.")
    var futuresURL: String?
    @Option(name: .customLong("testnet-spot-url"), help: "Spot base URL for accounts with is_testnet.")
    var testnetSpotURL: String?
    @Option(name: .customLong("testnet-futures-url"), help: "Futures base URL for accounts with is_testnet.")
    var testnetFuturesURL: String?
    @Option(name: .customLong("spot-ws-url"), help: "Spot user data stream (WebSocket API) URL [exchange] spot_ws_url (serve).")
    var spotWSURL: String?
    @Option(name: .customLong("futures-ws-url"), help: "USDⓈ-M futures user data stream URL [exchange] futures_ws_url (serve).")
    var futuresWSURL: String?
    @Option(name: .customLong("upbit-url"), help: "Upbit REST base URL [exchange] upbit_url (default \(defaults.exchange.upbitURL)).")
    var upbitURL: String?
    @Option(name: .customLong("bithumb-url"), help: "Bithumb REST base URL [exchange] bithumb_url (default \(defaults.exchange.bithumbURL)).")
    var bithumbURL: String?
    @Option(name: .customLong("account"), help: "Only this account id (repeatable).")
    var accounts: [Int64] = []
    @Option(name: .customLong("grace-ms"), help: "Orders and rows younger than this are in flight (default \(defaults.reconcile.graceMs)).")
    var graceMs: Int64?
    @Option(help: "Consecutive misses on complete listings before a row is queried (default \(defaults.reconcile.confirmations)).")
    var confirmations: Int?
    @Option(
        name: .customLong("max-queries"),
        help: "Targeted order queries per account and market per pass (default \(defaults.reconcile.maxQueriesPerPass))."
    )
    var maxQueries: Int?
    @Option(name: .customLong("tag-prefix"), help: "Prefix of ordersync's client-order-id tags (default \(defaults.attribution.tagPrefix)).")
    var tagPrefix: String?
    @Option(
        name: .customLong("claim"),
        help: ArgumentHelp(
            "Orders on ACCOUNT and SYMBOL (and SIDE) without a row belong to strategy link LINK (repeatable; added to the file's claims).",
            valueName: "ACCOUNT:SYMBOL[:SIDE]=LINK"
        )
    )
    var claims: [String] = []
    @Option(help: "Accounts reconciled at once (default \(defaults.reconcile.parallelism)).")
    var parallelism: Int?
    @Option(
        name: .customLong("sweep-every"),
        help:
            "A full no-symbol listing per account-market at least every N passes; per-symbol listings in between when cheaper (default \(defaults.reconcile.sweepEvery); 1 = always)."
    )
    var sweepEvery: Int?

    func validate() throws {
        if let graceMs, graceMs < 0 { throw ValidationError("--grace-ms must not be negative") }
        if let confirmations, confirmations < 1 { throw ValidationError("--confirmations must be at least 1") }
        if let maxQueries, maxQueries < 0 { throw ValidationError("--max-queries must not be negative") }
        if let parallelism, parallelism < 1 { throw ValidationError("--parallelism must be at least 1") }
        if let sweepEvery, sweepEvery < 1 { throw ValidationError("--sweep-every must be at least 1") }
        for url in [spotURL, futuresURL, testnetSpotURL, testnetFuturesURL, upbitURL, bithumbURL].compactMap({ $0 })
        where URL(string: url)?.scheme?.hasPrefix("http") != true {
            throw ValidationError("\(url) is not an http(s) URL")
        }
        for url in [spotWSURL, futuresWSURL].compactMap({ $0 }) where URL(string: url)?.scheme?.hasPrefix("ws") != true {
            throw ValidationError("\(url) is not a ws(s) URL")
        }
        guard accounts.allSatisfy({ $0 > 0 }) else { throw ValidationError("--account takes positive account ids") }
        for claim in claims where OperatorClaim(argument: claim) == nil {
            throw ValidationError("--claim \(claim): expected ACCOUNT:SYMBOL[:SIDE]=LINK, e.g. 1:BTCUSDT:BUY=4")
        }
    }

    /// The options: defaults, then the file, the environment, and the flags given.
    func options() throws(AppError) -> ReconcileOptions {
        let environment = ProcessInfo.processInfo.environment
        var c = try OrdersyncConfig.load(path: config, environment: environment)
        if let spotURL { c.exchange.spotURL = spotURL }
        if let futuresURL { c.exchange.futuresURL = futuresURL }
        if let testnetSpotURL { c.exchange.testnetSpotURL = testnetSpotURL }
        if let testnetFuturesURL { c.exchange.testnetFuturesURL = testnetFuturesURL }
        if let spotWSURL { c.exchange.spotWSURL = spotWSURL }
        if let futuresWSURL { c.exchange.futuresWSURL = futuresWSURL }
        if let upbitURL { c.exchange.upbitURL = upbitURL }
        if let bithumbURL { c.exchange.bithumbURL = bithumbURL }
        if let graceMs { c.reconcile.graceMs = graceMs }
        if let confirmations { c.reconcile.confirmations = confirmations }
        if let maxQueries { c.reconcile.maxQueriesPerPass = maxQueries }
        if let parallelism { c.reconcile.parallelism = parallelism }
        if let sweepEvery { c.reconcile.sweepEvery = sweepEvery }
        if let tagPrefix { c.attribution.tagPrefix = tagPrefix }
        c.attribution.claims += claims.compactMap(OperatorClaim.init(argument:))
        var o = ReconcileOptions(config: c, databasePath: try EntryPoints.databaseName(flag: db, config: c.database.url, environment: environment))
        o.accounts = accounts.isEmpty ? nil : Set(accounts.map(AccountID.init))
        o.environment = environment
        // The origin's key settings: its environment variables win over the file.
        if let key = c.origin.secretKey, environment["SECRET_KEY"] == nil { o.environment["SECRET_KEY"] = key }
        if let key = c.origin.accountsEncryptionKey, environment["ACCOUNTS_ENCRYPTION_KEY"] == nil { o.environment["ACCOUNTS_ENCRYPTION_KEY"] = key }
        return o
    }
}

struct ReconcileCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "reconcile",
        abstract: "One reconciliation pass over every active account; the drift report on stdout.",
        discussion: """
            Lists each account's open orders (spot, futures and futures algo orders) in every market it has strategies in, \
            compares them with open_orders, repairs what the evidence settles (partial fills, rows closed with the \
            exchange's final status, tagged or claimed orphans adopted) and reports the rest. Never cancels anything.
            Exit status: 0 nothing matches --fail-on; 1 findings match --fail-on; 2 an account could not be listed, or bad input.
            """
    )

    @OptionGroup var flags: ReconcileFlags
    @Option(help: "Output: text or json.")
    var format: OutputFormat = .text
    @Option(name: .customLong("fail-on"), help: "Exit 1 when the report has: none, orphans, stale or any findings.")
    var failOn: FailOn = .none
    @Flag(name: .customLong("no-color"), help: "Plain text (the text report has no colour yet; accepted for scripts).")
    var noColor = false

    func run() async throws {
        let report: DriftReport
        let progress = isatty(STDERR_FILENO) == 1 ? ProgressLine(label: "reconciling") : nil
        do {
            var options = try flags.options()
            if let progress {
                options.progress = { @Sendable done, total in progress.update(done, of: total, unit: "accounts") }
            }
            report = try await EntryPoints.reconcile(options)
            progress?.finish()
        } catch {
            progress?.finish()
            printError(error.description)
            throw ExitCode(2)
        }
        print(format == .json ? report.json() : report.text(), terminator: format == .json ? "\n" : "")
        if report.sections.contains(where: { $0.coverage == "failed" || $0.coverage == "partial" }) { throw ExitCode(2) }
        if failOn.matches(report) { throw ExitCode(1) }
    }
}

/// A one-line progress indicator on stderr (a terminal only), shown once a job has run for a
/// second and erased when it ends.
final class ProgressLine: Sendable {
    let label: String
    let started = ContinuousClock.now
    /// Whether anything was drawn (so `finish` knows to erase it).
    private let drawn = Mutex(false)

    init(label: String) { self.label = label }

    func update(_ done: Int, of total: Int, unit: String) {
        guard ContinuousClock.now - started > .seconds(1) else { return }
        drawn.withLock { drawn in
            FileHandle.standardError.write(Data("\r\(label): \(done)/\(total) \(unit)\u{1B}[K".utf8))
            drawn = true
        }
    }

    func finish() {
        drawn.withLock { drawn in
            if drawn { FileHandle.standardError.write(Data("\r\u{1B}[K".utf8)) }
            drawn = false
        }
    }
}
