import ArgumentParser
import Foundation
import OrderSyncApp
import SyncCore

struct CancelAllCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "cancel-all",
        abstract: "Cancel one strategy's DB-recorded open orders on every account it runs on (a dry run unless --execute).",
        discussion: """
            Selects rows of open_orders by the strategy's links only (owner and subscribers), never asks the exchange \
            what is open, and cancels each order by id (futures in batches of ten). Orders of other strategies, manual \
            orders and orders without a row are never touched. Exit status: 0 done (or dry run); 1 some cancels failed; \
            2 bad input (unknown or inactive strategy, bad flags).
            """
    )

    @OptionGroup var flags: ReconcileFlags
    @Option(help: "The strategy's group_name.")
    var strategy: String
    @Option(help: "Only this symbol.")
    var symbol: String?
    @Option(help: "Only BUY or SELL orders.")
    var side: String?
    @Option(help: "Only SPOT or FUTURES orders.")
    var market: String?
    @Flag(help: "Send the cancels (without it: list what would be cancelled).")
    var execute = false
    @Option(help: "Output: text or json.")
    var format: OutputFormat = .text

    func validate() throws {
        if let side, Side(parsing: side) == nil { throw ValidationError("--side \(side): BUY or SELL") }
        if let market, Market(stored: market) == nil { throw ValidationError("--market \(market): SPOT or FUTURES") }
        if let symbol, symbol.isEmpty || !symbol.allSatisfy({ $0.isASCII && ($0.isLetter || $0.isNumber || $0 == "/" || $0 == "-") }) {
            throw ValidationError("--symbol \(symbol): a pair such as BTC/USDT or BTCUSDT")
        }
    }

    func run() async throws {
        let daemon: Daemon
        do { daemon = try await Daemon.make(try flags.options()) } catch {
            printError(error.description)
            throw ExitCode(2)
        }
        let report: CancelReport
        do {
            guard let access = try await daemon.strategyAccess(groupName: strategy), access.isActive else {
                throw AppError("--strategy \(strategy): no active strategy has this group_name")
            }
            let target = CancelTarget(
                access: access,
                links: access.scope(for: access.owner),
                symbol: symbol.map(SymbolKey.of),
                side: side.flatMap(Side.init(parsing:)),
                market: market.flatMap(Market.init(stored:))
            )
            let requestID = "cli-\(UInt64(Date().timeIntervalSince1970 * 1000))"
            report =
                execute
                ? try await daemon.canceller.execute(target, requestID: requestID) : try await daemon.canceller.dryRun(target, requestID: requestID)
            await daemon.shutdown()
        } catch {
            await daemon.shutdown()
            printError("\(error)")
            throw ExitCode(2)
        }
        if format == .json {
            let encoder = JSONEncoder()
            encoder.outputFormatting = [.prettyPrinted, .sortedKeys, .withoutEscapingSlashes]
            print(String(decoding: try encoder.encode(report), as: UTF8.self))
        } else {
            print(report.text(), terminator: "")
        }
        if report.totals.failed > 0 { throw ExitCode(1) }
    }
}
