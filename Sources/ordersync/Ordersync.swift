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
        subcommands: [Migrate.self, Load.self, ReconcileCommand.self, ServeCommand.self, CancelAllCommand.self, DemoCommand.self, Simulate.self])
}

/// Options shared by every command that touches the database.
struct DatabaseOptions: ParsableArguments {
    @Option(name: .long, help: ArgumentHelp("SQLite database file (created when absent).", valueName: "path"))
    var db: String

    func validate() throws {
        if db.isEmpty { throw ValidationError("--db must name a file") }
    }
}

/// Writes a line to standard error.
func printError(_ message: String) {
    FileHandle.standardError.write(Data(("ordersync: " + message + "\n").utf8))
}
