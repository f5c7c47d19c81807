import ArgumentParser
import Foundation
import OrderSyncApp

struct CheckCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "check",
        abstract: "Before a first deployment: can ordersync run on this database? Read-only.",
        discussion: """
            Connects (SQLite or PostgreSQL), checks the origin's tables, lists accounts by exchange (supported or not) and \
            whether each account's keys decrypt by the origin's rules (never showing them), rows by status and market type, \
            symbols, market types and sides it cannot read, PENDING placeholders, FAILED and held rows. --online adds one \
            server-time and one signed call per active supported account.
            Exit status: 0 ordersync can run; 1 problems (each named); 2 bad input or no connection.
            """
    )

    @OptionGroup var flags: ReconcileFlags
    @Flag(help: "Also call each active supported account's exchange: server time and one signed request.")
    var online = false
    @Option(help: "Output: text or json.")
    var format: OutputFormat = .text

    func run() async throws {
        let report: CheckReport
        do {
            report = try await EntryPoints.check(try flags.options(), online: online)
        } catch {
            printError(error.description)
            throw ExitCode(2)
        }
        print(format == .json ? report.json() : report.text(), terminator: format == .json ? "\n" : "")
        if !report.ok { throw ExitCode(1) }
    }
}
