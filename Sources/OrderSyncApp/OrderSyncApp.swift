// OrderSyncApp — the composition root: builds ordersync's services from options. `main` and the
// tests call the same functions, so what the tests run is what the CLI runs.
//
// Invariants: no business decision is made here (they live in SyncCore); errors carry the input
// they are about (file, item) and never a secret.
import OrderStore
import Scenarios
import SyncCore

#if canImport(FoundationEssentials)
import FoundationEssentials
#else
import Foundation
#endif

/// ordersync's version, printed by `ordersync --version`.
public let ordersyncVersion = "0.1.0"

/// The commands' output: a table for people or JSON for machines.
public enum OutputFormat: String, Sendable, CaseIterable { case text, json }

/// An error fit to print to a person: names the input it is about.
public struct AppError: Error, Hashable, Sendable, CustomStringConvertible {
    public let description: String
    public init(_ description: String) { self.description = description }
}

/// The commands' entry points (the `ordersync` executable is a thin layer over these; the module
/// is `OrderSyncApp`, the composition root).
public enum EntryPoints {
    /// The wall clock in milliseconds (the daemon's and the simulator's time source outside tests).
    public static let wallClock: @Sendable () -> Millis = { Int64(Date().timeIntervalSince1970 * 1000) }

    /// The database named by `--db` / `database.url`, else by `DATABASE_URL` (the origin app's variable).
    public static func databaseName(flag: String?, config: String?, environment: [String: String]) throws(AppError) -> String {
        if let name = flag ?? config ?? environment["DATABASE_URL"], !name.isEmpty { return name }
        throw AppError("no database: give --db (a SQLite path or postgresql://…), [database] url in --config, or DATABASE_URL")
    }

    /// Where `text` points, for messages (a PostgreSQL password is never shown).
    public static func location(_ text: String) throws(AppError) -> DatabaseLocation {
        do { return try DatabaseLocation(text) } catch { throw AppError("--db: \(error)") }
    }

    /// Opens (creating a SQLite file if needed) and migrates the database `text` names.
    public static func openDatabase(_ text: String, maxConnections: Int = 4, migrate: Bool = true) async throws(AppError) -> OrderDatabase {
        let location = try location(text)
        do {
            return try await OrderDatabase.open(location, maxConnections: maxConnections, migrate: migrate)
        } catch {
            throw AppError("\(location): \(error)")
        }
    }

    /// `ordersync migrate`: applies pending migrations (and, when asked, the optional indexes on the
    /// origin's tables); returns their names.
    public static func migrate(database: String, addIndexes: Bool = false) async throws(AppError) -> [String] {
        let db = try await openDatabase(database, maxConnections: 1, migrate: false)
        let location = try location(database)
        do {
            var applied = try await db.migrate(now: EntryPoints.wallClock())
            if addIndexes { applied += try await db.addOriginIndexes().map { "index \($0)" } }
            await db.close()
            return applied
        } catch {
            await db.close()
            throw AppError("\(location): \(error)")
        }
    }

    /// Reads and validates a scenario file for the database (and the simulator): its accounts must
    /// have owners. A file for the simulator alone (accounts and exchange orders only) is refused
    /// here, naming the first account without a `user_id`.
    public static func readScenario(_ path: String) throws(AppError) -> Scenario {
        let scenario = try readSimulatorScenario(path)
        if let i = scenario.accounts.firstIndex(where: { $0.user.rawValue == 0 }) {
            throw AppError(
                "\(path): accounts[\(i)]: missing key \"user_id\" — a file without users is for `ordersync simulate` alone; the database needs users, accounts with a user_id, strategies and strategy_accounts"
            )
        }
        return scenario
    }

    /// Reads and validates a scenario file for the simulator: accounts and exchange orders are
    /// enough (users, strategies, strategy_accounts and db_orders may be absent).
    public static func readSimulatorScenario(_ path: String) throws(AppError) -> Scenario {
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
        let db = try await openDatabase(databasePath, maxConnections: 1)
        do {
            try await db.load(scenario, now: now)
            await db.close()
        } catch {
            await db.close()
            throw AppError("\(scenarioPath): \(error) — nothing was written to \(try location(databasePath))")
        }
        return LoadSummary(
            users: scenario.users.count,
            accounts: scenario.accounts.count,
            strategies: scenario.strategies.count,
            links: scenario.links.count,
            openOrders: scenario.dbOrders.count
        )
    }
}
