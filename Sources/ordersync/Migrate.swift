import ArgumentParser
import OrderSyncApp

struct Migrate: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Create ordersync's tables (and the origin app's, where absent). Idempotent.",
        discussion: "Existing origin-app tables are checked, never altered; running it again changes nothing.")

    @OptionGroup var database: DatabaseOptions

    func run() async throws {
        do {
            let applied = try OrderSyncApp.migrate(databasePath: database.db)
            print(applied.isEmpty ? "\(database.db): up to date" : "\(database.db): applied \(applied.joined(separator: ", "))")
        } catch {
            printError(error.description)
            throw ExitCode(2)
        }
    }
}
