import ArgumentParser
import Foundation
import OrderSyncApp

extension Demo.Format: ExpressibleByArgument {}

struct DemoCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "demo",
        abstract: "Run ordersync on a bundled scenario: temporary SQLite, two reconciliation passes, a dry-run scoped cancel.",
        discussion: "Needs no configuration. The database is deleted afterwards unless --keep-db names a file.")

    @Option(help: ArgumentHelp("Scenario JSON file.", valueName: "file"))
    var scenario: String = Demo.defaultScenario

    @Option(help: "Output format: text or json (the first pass's drift report).")
    var format: Demo.Format = .text

    @Option(name: .customLong("keep-db"), help: ArgumentHelp("Write the database here and keep it (must not exist).", valueName: "path"))
    var keepDB: String?

    func validate() throws {
        if let keepDB, FileManager.default.fileExists(atPath: keepDB) {
            throw ValidationError("--keep-db \(keepDB) already exists; the demo writes a new database")
        }
    }

    func run() async throws {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("ordersync-demo-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: dir) }
        let path = keepDB ?? dir.appendingPathComponent("demo.sqlite").path
        do {
            print(try await Demo.run(scenarioPath: scenario, databasePath: path, format: format,
                                     now: Int64(Date().timeIntervalSince1970 * 1000)), terminator: "")
        } catch {
            printError(error.description)
            throw ExitCode(2)
        }
    }
}
