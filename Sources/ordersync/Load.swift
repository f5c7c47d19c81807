import ArgumentParser
import Foundation
import OrderSyncApp

struct Load: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Write the database side of a scenario (users, accounts, strategies, links, open_orders).",
        discussion:
            "One transaction: a malformed file, an unknown reference, a duplicate exchange_order_id or a non-decimal amount exits 2 with the file and item named, and the database is unchanged."
    )

    @OptionGroup var database: DatabaseOptions

    @Option(name: .long, help: ArgumentHelp("Scenario JSON file (format: fixtures/README.md).", valueName: "file"))
    var scenario: String

    func run() async throws {
        let now = Int64(Date().timeIntervalSince1970 * 1000)
        do {
            let name = try database.name()
            let s = try await EntryPoints.load(databasePath: name, scenarioPath: scenario, now: now)
            print(
                "\(try EntryPoints.location(name)): loaded \(s.users) users, \(s.accounts) accounts, \(s.strategies) strategies, \(s.links) strategy links, \(s.openOrders) open orders"
            )
        } catch {
            printError(error.description)
            throw ExitCode(2)
        }
    }
}
