import ArgumentParser
import OrderSyncApp

struct Migrate: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Create ordersync's tables (and, on an empty database, the origin app's exactly as its models do). Idempotent.",
        discussion:
            "On a database that has the origin's tables they are checked, never altered; running it again changes nothing. ordersync's own migrations are recorded in sync_migrations."
    )

    @OptionGroup var database: DatabaseOptions
    @Flag(
        name: .customLong("add-indexes"),
        help:
            "Also create ordersync's optional indexes on open_orders and strategy_accounts (for many accounts; CONCURRENTLY on PostgreSQL). Indexes only: no column or constraint changes."
    )
    var addIndexes = false

    func run() async throws {
        do {
            let name = try database.name()
            let shown = try EntryPoints.location(name)
            let applied = try await EntryPoints.migrate(database: name, addIndexes: addIndexes)
            print(applied.isEmpty ? "\(shown): up to date" : "\(shown): applied \(applied.joined(separator: ", "))")
        } catch {
            printError(error.description)
            throw ExitCode(2)
        }
    }
}
