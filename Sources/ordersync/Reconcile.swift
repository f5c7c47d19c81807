import ArgumentParser
import Foundation
import OrderSyncApp
import SyncCore

extension FailOn: ExpressibleByArgument {}

/// Flags shared by `reconcile` and `serve`.
struct ReconcileFlags: ParsableArguments {
    @OptionGroup var database: DatabaseOptions

    @Option(name: .customLong("spot-url"), help: "Spot REST base URL.")
    var spotURL = "https://api.binance.com"
    @Option(name: .customLong("futures-url"), help: "USDⓈ-M futures REST base URL.")
    var futuresURL = "https://fapi.binance.com"
    @Option(name: .customLong("testnet-spot-url"), help: "Spot base URL for accounts with is_testnet.")
    var testnetSpotURL = "https://testnet.binance.vision"
    @Option(name: .customLong("testnet-futures-url"), help: "Futures base URL for accounts with is_testnet.")
    var testnetFuturesURL = "https://demo-fapi.binance.com"
    @Option(name: .customLong("account"), help: "Only this account id (repeatable).")
    var accounts: [Int64] = []
    @Option(name: .customLong("grace-ms"), help: "Orders and rows younger than this are in flight.")
    var graceMs: Int64 = 10_000
    @Option(help: "Consecutive misses on complete listings before a row is queried.")
    var confirmations = 3
    @Option(name: .customLong("max-queries"), help: "Targeted order queries per account and market per pass.")
    var maxQueries = 10
    @Option(name: .customLong("tag-prefix"), help: "Prefix of ordersync's client-order-id tags.")
    var tagPrefix = "os1"
    @Option(name: .customLong("claim"), help: ArgumentHelp("Orders on ACCOUNT and SYMBOL (and SIDE) without a row belong to strategy link LINK (repeatable).", valueName: "ACCOUNT:SYMBOL[:SIDE]=LINK"))
    var claims: [String] = []
    @Option(help: "Accounts reconciled at once.")
    var parallelism = 16

    func validate() throws {
        guard graceMs >= 0 else { throw ValidationError("--grace-ms must not be negative") }
        guard confirmations >= 1 else { throw ValidationError("--confirmations must be at least 1") }
        guard maxQueries >= 0 else { throw ValidationError("--max-queries must not be negative") }
        guard parallelism >= 1 else { throw ValidationError("--parallelism must be at least 1") }
        for url in [spotURL, futuresURL, testnetSpotURL, testnetFuturesURL] where URL(string: url)?.scheme?.hasPrefix("http") != true {
            throw ValidationError("\(url) is not an http(s) URL")
        }
        guard accounts.allSatisfy({ $0 > 0 }) else { throw ValidationError("--account takes positive account ids") }
        for claim in claims where OperatorClaim(argument: claim) == nil {
            throw ValidationError("--claim \(claim): expected ACCOUNT:SYMBOL[:SIDE]=LINK, e.g. 1:BTCUSDT:BUY=4")
        }
        do { _ = try ClaimSet(claims.compactMap(OperatorClaim.init(argument:))) } catch { throw ValidationError("--claim: \(error)") }
    }

    var options: ReconcileOptions {
        var o = ReconcileOptions(databasePath: database.db)
        o.spotURL = spotURL
        o.futuresURL = futuresURL
        o.testnetSpotURL = testnetSpotURL
        o.testnetFuturesURL = testnetFuturesURL
        o.accounts = accounts.isEmpty ? nil : Set(accounts.map(AccountID.init))
        o.graceMs = graceMs
        o.confirmations = confirmations
        o.maxQueriesPerPass = maxQueries
        o.tagPrefix = tagPrefix
        o.claims = claims.compactMap(OperatorClaim.init(argument:))
        o.parallelism = parallelism
        o.environment = ProcessInfo.processInfo.environment
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
            """)

    @OptionGroup var flags: ReconcileFlags
    @Option(help: "Output: text or json.")
    var format: Demo.Format = .text
    @Option(name: .customLong("fail-on"), help: "Exit 1 when the report has: none, orphans, stale or any findings.")
    var failOn: FailOn = .none
    @Flag(name: .customLong("no-color"), help: "Plain text (the text report has no colour yet; accepted for scripts).")
    var noColor = false

    func run() async throws {
        let report: DriftReport
        do {
            report = try await OrderSyncApp.reconcile(flags.options)
        } catch {
            printError(error.description)
            throw ExitCode(2)
        }
        print(format == .json ? report.json() : report.text(), terminator: format == .json ? "\n" : "")
        if report.sections.contains(where: { $0.coverage == "failed" || $0.coverage == "partial" }) { throw ExitCode(2) }
        if failOn.matches(report) { throw ExitCode(1) }
    }
}
