// OrderStore — ordersync's database, on the origin app's own schema plus `sync_` tables, on
// SQLite (GRDB, the embedded default) or PostgreSQL (PostgresNIO, the origin's production engine).
//
// Purpose: read the state a decision needs and apply decided plans. The store's SQL is written
// once against `SQLConnection`; `SQLDialect` holds the few places where the backends differ.
//
// Invariants kept here:
// - The origin app's tables are created only on a database that has none of them (then exactly as
//   its models create them) and are never altered; an existing table that lacks a needed column,
//   has a NOT NULL column an adopted row could not fill, or lacks the unique `exchange_order_id`
//   stops the migration with its name.
// - Every write is one transaction: a plan for one account and market is applied together with
//   the findings that caused it, or not at all; cancel intents are recorded before anything is
//   sent and resolved in one transaction per account.
// - Writes are conditional on what the decision saw (a row is updated only if its `updated_at`
//   is unchanged and the origin does not hold it, closed only if it still names the same order,
//   adopted only if no row has the order yet), so a concurrent write by the origin app is never
//   overwritten.
// - Rows ordersync writes are rows the origin's own code could have written: every NOT NULL
//   column with the origin's defaults, naive UTC timestamps in each backend's form.
// - Secrets read from `accounts` are wrapped in `Secret` at once; the PostgreSQL password never
//   appears in a description.
import SyncCore

#if canImport(FoundationEssentials)
import FoundationEssentials
#else
import Foundation
#endif

/// The store's one error type. Descriptions name the table, row or item; never a secret.
public struct StoreError: Error, Hashable, Sendable, CustomStringConvertible {
    private enum Code: Hashable, Sendable {
        case incompatibleSchema(table: String, missing: [String], absent: Bool)
        case unfillableColumns(table: String, columns: [String])
        case notUnique(table: String, column: String)
        case invalidValue(table: String, id: Int64, column: String, value: String)
        case loadRejected(item: String, message: String)
        case badLocation(String)
        case database(String)
        case refused(String)
    }
    private let code: Code

    static func incompatibleSchema(table: String, missing: [String], absent: Bool = false) -> StoreError {
        StoreError(code: .incompatibleSchema(table: table, missing: missing, absent: absent))
    }
    static func unfillableColumns(table: String, columns: [String]) -> StoreError {
        StoreError(code: .unfillableColumns(table: table, columns: columns))
    }
    static func notUnique(table: String, column: String) -> StoreError { StoreError(code: .notUnique(table: table, column: column)) }
    static func invalidValue(table: String, id: Int64, column: String, value: String) -> StoreError {
        StoreError(code: .invalidValue(table: table, id: id, column: column, value: value))
    }
    static func loadRejected(item: String, message: String) -> StoreError {
        StoreError(code: .loadRejected(item: item, message: message))
    }
    static func badLocation(_ message: String) -> StoreError { StoreError(code: .badLocation(message)) }
    static func database(_ message: String) -> StoreError { StoreError(code: .database(message)) }
    static func refused(_ message: String) -> StoreError { StoreError(code: .refused(message)) }

    /// The store declined a request by its own rules (an operator claim that conflicts), nothing written.
    public var isRefusal: Bool { if case .refused = code { true } else { false } }

    /// A short label fit for a metric.
    public var label: String {
        switch code {
        case .incompatibleSchema, .unfillableColumns, .notUnique: return "incompatible_schema"
        case .invalidValue: return "invalid_value"
        case .loadRejected: return "load_rejected"
        case .badLocation: return "bad_location"
        case .database: return "database"
        case .refused: return "refused"
        }
    }

    public var description: String {
        switch code {
        case .incompatibleSchema(let table, _, true):
            return "the origin app's table(s) \(table) are missing; ordersync creates the origin's tables only on a database that has none of them"
        case .incompatibleSchema(let table, let missing, _):
            return "table \(table) exists but lacks column(s) \(missing.joined(separator: ", ")); ordersync does not alter the origin app's tables"
        case .unfillableColumns(let table, let columns):
            return
                "table \(table) has NOT NULL column(s) \(columns.joined(separator: ", ")) without a default that ordersync cannot fill when it adopts an order"
        case .notUnique(let table, let column):
            return "\(table).\(column) is not unique; ordersync relies on the origin's UNIQUE (\(column)) so that adopted rows never duplicate"
        case .invalidValue(let table, let id, let column, let value):
            return "\(table) row \(id): \(column) holds \(value), which ordersync cannot read"
        case .loadRejected(let item, let message):
            return "\(item): \(message)"
        case .badLocation(let message):
            return message
        case .database(let message), .refused(let message):
            return message
        }
    }
}

/// Where the database is: a SQLite file or a PostgreSQL server.
public enum DatabaseLocation: Sendable, Hashable, CustomStringConvertible {
    case sqlite(path: String)
    case postgres(PostgresLocation)

    /// A `postgres://` / `postgresql://` URL, a `sqlite:///path` URL (the origin's test form), or a
    /// SQLite file path.
    public init(_ text: String) throws(StoreError) {
        let lower = text.lowercased()
        if lower.hasPrefix("postgres://") || lower.hasPrefix("postgresql://") {
            guard let pg = PostgresLocation(url: text) else {
                throw .badLocation("cannot read the PostgreSQL URL (expected postgresql://user:password@host:port/database)")
            }
            self = .postgres(pg)
        } else if lower.hasPrefix("sqlite:///") {
            // SQLAlchemy's form: three slashes then the path (a fourth for an absolute one).
            self = .sqlite(path: String(text.dropFirst("sqlite:///".count)))
        } else if lower.contains("://") {
            throw .badLocation("unsupported database URL scheme (use a SQLite path or postgresql://…)")
        } else {
            guard !text.isEmpty else { throw .badLocation("empty database path") }
            self = .sqlite(path: text)
        }
    }

    public var description: String {
        switch self {
        case .sqlite(let path): return path
        case .postgres(let pg): return pg.description
        }
    }
}

/// The database: a backend, each write method one invariant-preserving transaction.
public struct OrderDatabase: Sendable {
    let backend: any SQLBackend
    /// The origin's tables that record order ids which this database has (read when it is opened).
    public internal(set) var evidenceTables: Set<OriginRecord.Table> = []
    /// Which backend this is.
    public var dialect: SQLDialect { backend.dialect }

    init(backend: any SQLBackend) { self.backend = backend }

    /// Opens a database (creating a SQLite file if needed) and, unless told not to, migrates it.
    /// `maxConnections` bounds the PostgreSQL pool.
    public static func open(_ location: DatabaseLocation, maxConnections: Int = 4, migrate: Bool = true) async throws -> OrderDatabase {
        let backend: any SQLBackend
        switch location {
        case .sqlite(let path): backend = try SQLiteBackend.open(path: path)
        case .postgres(let pg): backend = try await PostgresBackend.open(pg, maxConnections: maxConnections)
        }
        var db = OrderDatabase(backend: backend)
        do {
            if migrate { try await db.migrate() }
            db.evidenceTables = try await backend.read { try await Schema.evidenceTables($0) }
        } catch {
            await db.close()
            throw error
        }
        return db
    }

    /// Opens and migrates a SQLite file.
    public static func open(path: String) async throws -> OrderDatabase { try await open(.sqlite(path: path)) }

    /// A private in-memory SQLite database, migrated (tests).
    public static func inMemory() async throws -> OrderDatabase {
        var db = OrderDatabase(backend: try SQLiteBackend.inMemory())
        try await db.migrate()
        db.evidenceTables = try await db.backend.read { try await Schema.evidenceTables($0) }
        return db
    }

    /// Applies pending migrations and checks the origin's tables; returns the ids of the
    /// migrations applied (empty when up to date).
    @discardableResult
    public func migrate(now: Millis = 0) async throws -> [String] {
        do {
            return try await Schema.migrate(backend, now: now)
        } catch let error as StoreError {
            throw error
        } catch {
            throw StoreError.database("migration failed: \(error)")
        }
    }

    /// Creates the optional indexes on the origin's tables that are missing (`migrate
    /// --add-indexes`); returns the names created. Indexes change no column or constraint.
    public func addOriginIndexes() async throws -> [String] {
        var created: [String] = []
        for index in try await absentOriginIndexes() {
            // CONCURRENTLY: the origin app keeps writing while PostgreSQL builds it (not in a transaction).
            let how = dialect == .postgres ? "CREATE INDEX CONCURRENTLY IF NOT EXISTS" : "CREATE INDEX IF NOT EXISTS"
            let sql = "\(how) \(index.name) ON \(index.table) (\(index.columns))"
            if dialect == .postgres {
                try await backend.read { try await $0.execute(sql) }
            } else {
                try await backend.write { try await $0.execute(sql) }
            }
            created.append(index.name)
        }
        return created
    }

    /// Checks the origin's tables as ordersync needs them (read-only; `check`).
    public func verifyOrigin() async throws {
        try await backend.read { try await Schema.verifyOrigin($0) }
    }

    /// Whether every ordersync migration has been applied.
    public func isMigrated() async throws -> Bool {
        try await backend.read { conn in
            guard try await SchemaInspector(conn).tables().contains("sync_migrations") else { return false }
            let done = Set(try await conn.query("SELECT id FROM sync_migrations").compactMap { $0.text(0) })
            return Schema.migrations.allSatisfy { done.contains($0.id) }
        }
    }

    /// Missing optional indexes on the origin's tables (for `check`).
    public func missingOriginIndexes() async throws -> [String] {
        try await absentOriginIndexes().map { "\($0.name) ON \($0.table) (\($0.columns))" }
    }

    /// The optional indexes not yet created, on the origin tables this database has.
    func absentOriginIndexes() async throws -> [(name: String, table: String, columns: String)] {
        try await backend.read { conn in
            let inspector = SchemaInspector(conn)
            let tables = try await inspector.tables()
            var names = Set<String>()
            for table in Set(Schema.originIndexes.map(\.table)) where tables.contains(table) { names.formUnion(try await inspector.indexes(table)) }
            return Schema.originIndexes.filter { tables.contains($0.table) && !names.contains($0.name) }
        }
    }

    /// The SQLite journal mode in effect (`wal` for files); nil on PostgreSQL.
    public func journalMode() async throws -> String? {
        guard dialect == .sqlite else { return nil }
        return try await rows("PRAGMA journal_mode").first?.text(0)
    }

    /// Runs a query outside the store's own operations (tests, `check`, operator tools).
    public func rows(_ sql: String, _ arguments: [any SQLArgument] = []) async throws -> [SQLRow] {
        try await backend.read { try await $0.query(sql, arguments) }
    }

    /// Runs statements in one transaction outside the store's own operations (tests, fixtures).
    public func write(_ statements: [(sql: String, arguments: [any SQLArgument])]) async throws {
        let list = statements.map { SendableStatement(sql: $0.sql, arguments: $0.arguments.map(\.sqlValue)) }
        try await backend.write { conn in
            for s in list { try await conn.execute(s.sql, s.arguments) }
        }
    }

    /// One statement in its own transaction.
    public func execute(_ sql: String, _ arguments: [any SQLArgument] = []) async throws {
        try await write([(sql, arguments)])
    }

    /// Closes the backend's connections.
    public func close() async { await backend.close() }
}

struct SendableStatement: Sendable {
    var sql: String
    var arguments: [SQLValue]
}
