import ArgumentParser
import Foundation
import LocalStack
import OrderSyncApp

extension OutputFormat: ExpressibleByArgument {}

struct DemoCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "demo",
        abstract: "The whole daemon on a bundled scenario: simulator, SQLite and webhook in-process; a pass, then a real CANCEL_ALL_ORDER.",
        discussion:
            "Needs no configuration or network beyond 127.0.0.1. Exit 0 only if isolation held. The database is deleted afterwards unless --keep-db names a file."
    )

    @Option(help: ArgumentHelp("Scenario JSON file (default: the bundled demo scenario, built into the binary).", valueName: "file"))
    var scenario: String?

    @Option(help: "Output format: text or json (the first pass's drift report).")
    var format: OutputFormat = .text

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
        let outcome: Demo.Outcome
        do throws(AppError) {
            // The bundled scenario is embedded in the binary: written beside the temporary database.
            let scenarioPath = scenario ?? dir.appendingPathComponent("demo.json").path
            if scenario == nil {
                do { try Demo.bundledScenario.write(toFile: scenarioPath, atomically: true, encoding: .utf8) } catch {
                    throw AppError("\(scenarioPath): cannot write the bundled demo scenario (\(error.localizedDescription))")
                }
            }
            outcome = try await Demo.run(scenarioPath: scenarioPath, databasePath: path, format: format)
        } catch {
            printError(error.description)
            throw ExitCode(2)
        }
        print(outcome.output, terminator: "")
        if !outcome.isolationHeld { throw ExitCode(1) }
    }
}
