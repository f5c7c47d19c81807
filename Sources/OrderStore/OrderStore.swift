// OrderStore — ordersync's database, on the origin app's schema (SEED.md) plus `sync_` tables.
//
// Purpose: read the state a decision needs and apply decided plans, on SQLite through GRDB
// (system libsqlite3; WAL, busy timeout, foreign keys on).
//
// Invariants kept here:
// - The origin app's tables are created only when absent and never altered; an existing table
//   that lacks a needed column stops the migration with its name.
// - Every write is one transaction: a plan for one account and market is applied together with
//   the findings that caused it, or not at all.
// - Writes are conditional on what the decision saw (a row is updated only if its `updated_at`
//   is unchanged, closed only if it still names the same order, adopted only if no row has the
//   order yet), so a concurrent write by the origin app is never overwritten.
// - Secrets read from `accounts` are wrapped in `Secret` at once.
@_exported import protocol GRDB.DatabaseWriter
import GRDB
import SyncCore

#if canImport(FoundationEssentials)
import FoundationEssentials
#else
import Foundation
#endif

/// The store's one error type. Descriptions name the table, row or item; never a secret.
public struct StoreError: Error, Hashable, Sendable, CustomStringConvertible {
    private enum Code: Hashable, Sendable {
        case incompatibleSchema(table: String, missing: [String])
        case invalidValue(table: String, id: Int64, column: String, value: String)
        case loadRejected(item: String, message: String)
        case database(String)
    }
    private let code: Code

    static func incompatibleSchema(table: String, missing: [String]) -> StoreError {
        StoreError(code: .incompatibleSchema(table: table, missing: missing))
    }
    static func invalidValue(table: String, id: Int64, column: String, value: String) -> StoreError {
        StoreError(code: .invalidValue(table: table, id: id, column: column, value: value))
    }
    static func loadRejected(item: String, message: String) -> StoreError {
        StoreError(code: .loadRejected(item: item, message: message))
    }
    static func database(_ message: String) -> StoreError { StoreError(code: .database(message)) }

    /// A short label fit for a metric.
    public var label: String {
        switch code {
        case .incompatibleSchema: return "incompatible_schema"
        case .invalidValue: return "invalid_value"
        case .loadRejected: return "load_rejected"
        case .database: return "database"
        }
    }

    public var description: String {
        switch code {
        case .incompatibleSchema(let table, let missing):
            return "table \(table) exists but lacks column(s) \(missing.joined(separator: ", ")); ordersync does not alter the origin app's tables"
        case .invalidValue(let table, let id, let column, let value):
            return "\(table) row \(id): \(column) holds \(value), which ordersync cannot read"
        case .loadRejected(let item, let message):
            return "\(item): \(message)"
        case .database(let message):
            return message
        }
    }
}

/// The database: one writer, each write method one invariant-preserving transaction.
public struct OrderDatabase: Sendable {
    public let writer: any DatabaseWriter

    /// Opens (creating if needed) a database file with WAL, a busy timeout and foreign keys on,
    /// and migrates it.
    public static func open(path: String) throws -> OrderDatabase {
        let db = OrderDatabase(writer: try DatabaseOpener.unmigrated(path))
        try db.migrate()
        return db
    }

    /// A private in-memory database, migrated (tests).
    public static func inMemory() throws -> OrderDatabase {
        let db = OrderDatabase(writer: try DatabaseQueue(configuration: configuration()))
        try db.migrate()
        return db
    }

    public init(writer: any DatabaseWriter) {
        self.writer = writer
    }

    static func configuration() -> Configuration {
        var config = Configuration()
        config.foreignKeysEnabled = true
        config.busyMode = .timeout(5)
        config.prepareDatabase { db in
            try db.execute(sql: "PRAGMA synchronous = NORMAL")
            try db.execute(sql: "PRAGMA cache_size = -16384")
        }
        return config
    }

    /// Applies pending migrations; returns the names of those applied (empty when up to date).
    @discardableResult
    public func migrate() throws -> [String] {
        let migrator = Schema.migrator
        do {
            let before = try writer.read { try migrator.appliedIdentifiers($0) }
            try migrator.migrate(writer)
            let after = try writer.read { try migrator.appliedIdentifiers($0) }
            return migrator.migrations.filter { after.contains($0) && !before.contains($0) }
        } catch let error as StoreError {
            throw error
        } catch let error as DatabaseError {
            throw StoreError.database("migration failed: \(error.message ?? error.description)")
        }
    }

    /// The SQLite journal mode in effect (`wal` for files).
    public func journalMode() throws -> String {
        try writer.read { try String.fetchOne($0, sql: "PRAGMA journal_mode") ?? "" }
    }
}

/// Opening a database without migrating it, for `ordersync migrate` to report what it applies.
public enum DatabaseOpener {
    public static func unmigrated(_ path: String) throws -> any DatabaseWriter {
        do {
            return try DatabasePool(path: path, configuration: OrderDatabase.configuration())
        } catch let error as DatabaseError {
            throw StoreError.database("cannot open \(path): \(error.message ?? error.description)")
        }
    }
}
