// ordersync — the CLI: a tree of subcommands, one file each. Parsing and input checks only;
// the work is done by OrderSyncApp.
import ArgumentParser
import Foundation
import OrderSyncApp

@main
struct Ordersync: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "ordersync",
        abstract: "Keeps a trading app's open_orders table and the exchange in agreement; cancels only what a strategy owns.",
        version: ordersyncVersion,
        subcommands: [
            Migrate.self, Load.self, CheckCommand.self, ReconcileCommand.self, ServeCommand.self, CancelAllCommand.self, DemoCommand.self,
            Simulate.self, ClaimCommand.self, UnclaimCommand.self, OrphansCommand.self, HistoryCommand.self,
        ]
    )
}

/// Options shared by every command that touches the database.
struct DatabaseOptions: ParsableArguments {
    @Option(
        name: .long,
        help: ArgumentHelp("SQLite file (created when absent) or postgresql://user:password@host:port/db (else DATABASE_URL).", valueName: "path|url")
    )
    var db: String?

    func validate() throws {
        if let db, db.isEmpty { throw ValidationError("--db must name a file or a postgresql:// URL") }
    }

    /// The database named: `--db`, else `DATABASE_URL`.
    func name() throws(AppError) -> String {
        try EntryPoints.databaseName(flag: db, config: nil, environment: ProcessInfo.processInfo.environment)
    }
}

/// Writes a line to standard error.
func printError(_ message: String) {
    FileHandle.standardError.write(Data(("ordersync: " + message + "\n").utf8))
}
