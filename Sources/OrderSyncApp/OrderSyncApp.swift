// OrderSyncApp — the composition root: builds ordersync's services from options. `main` and the
// tests call the same functions, so what the tests run is what the CLI runs.
//
// Invariants: no business decision is made here (they live in SyncCore); errors carry the input
// they are about (file, item) and never a secret.
import OrderStore
import SyncCore

#if canImport(FoundationEssentials)
import FoundationEssentials
#else
import Foundation
#endif

/// ordersync's version, printed by `ordersync --version`.
public let ordersyncVersion = "0.1.0"

/// An error fit to print to a person: names the input it is about.
public struct AppError: Error, Hashable, Sendable, CustomStringConvertible {
    public let description: String
    public init(_ description: String) { self.description = description }
}

/// The application's entry points.
public enum OrderSyncApp {
    /// Opens (creating and migrating) the database at `path`.
    public static func openDatabase(_ path: String) throws(AppError) -> OrderDatabase {
        do {
            return try OrderDatabase.open(path: path)
        } catch let error as StoreError {
            throw AppError("\(path): \(error)")
        } catch {
            throw AppError("\(path): \(error)")
        }
    }

    /// `ordersync migrate`: applies pending migrations; returns their names.
    public static func migrate(databasePath: String) throws(AppError) -> [String] {
        // `open` migrates; report what this call applied.
        let pool: OrderDatabase
        do {
            pool = try OrderDatabase(writer: DatabaseOpener.unmigrated(databasePath))
        } catch {
            throw AppError("\(databasePath): \(error)")
        }
        do {
            return try pool.migrate()
        } catch {
            throw AppError("\(databasePath): \(error)")
        }
    }

    /// Reads and validates a scenario file.
    public static func readScenario(_ path: String) throws(AppError) -> Scenario {
        let data: Data
        do {
            data = try Data(contentsOf: URL(fileURLWithPath: path))
        } catch {
            throw AppError("\(path): cannot read the file")
        }
        do {
            return try Scenario.parse(data, file: path)
        } catch {
            throw AppError(error.description)
        }
    }

    /// What `load` wrote.
    public struct LoadSummary: Sendable, Hashable {
        public var users, accounts, strategies, links, openOrders: Int
    }

    /// `ordersync load`: writes the DB side of a scenario in one transaction. The file is
    /// validated before the database is opened; on any error nothing is written.
    public static func load(databasePath: String, scenarioPath: String, now: Millis) async throws(AppError) -> LoadSummary {
        let scenario = try readScenario(scenarioPath)
        let db = try openDatabase(databasePath)
        do {
            try await db.load(scenario, now: now)
        } catch {
            throw AppError("\(scenarioPath): \(error) — nothing was written to \(databasePath)")
        }
        return LoadSummary(
            users: scenario.users.count, accounts: scenario.accounts.count, strategies: scenario.strategies.count,
            links: scenario.links.count, openOrders: scenario.dbOrders.count)
    }
}
