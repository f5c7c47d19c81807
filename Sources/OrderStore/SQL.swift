import SyncCore

/// One value crossing the store's SQL boundary, the same for both backends.
///
/// Timestamps are their own case because the two backends store them differently: SQLite as the
/// text SQLAlchemy writes (`2026-11-25 13:38:26.123000`), PostgreSQL as `TIMESTAMP WITHOUT TIME
/// ZONE` holding naive UTC. Both read back as milliseconds since the epoch.
public enum SQLValue: Sendable, Hashable, CustomStringConvertible {
    case null
    case int(Int64)
    case double(Double)
    case text(String)
    case bool(Bool)
    case timestamp(Millis)

    public var description: String {
        switch self {
        case .null: return "NULL"
        case .int(let i): return String(i)
        case .double(let d): return String(d)
        case .text(let s): return s
        case .bool(let b): return b ? "true" : "false"
        case .timestamp(let ms): return UTC.sqlDateTime(ms)
        }
    }
}

/// Anything that binds as an SQL argument.
public protocol SQLArgument: Sendable {
    var sqlValue: SQLValue { get }
}

extension SQLValue: SQLArgument { public var sqlValue: SQLValue { self } }
extension Int64: SQLArgument { public var sqlValue: SQLValue { .int(self) } }
extension Int: SQLArgument { public var sqlValue: SQLValue { .int(Int64(self)) } }
extension String: SQLArgument { public var sqlValue: SQLValue { .text(self) } }
extension Double: SQLArgument { public var sqlValue: SQLValue { .double(self) } }
extension Bool: SQLArgument { public var sqlValue: SQLValue { .bool(self) } }
extension Optional: SQLArgument where Wrapped: SQLArgument {
    public var sqlValue: SQLValue { self?.sqlValue ?? .null }
}

/// A naive-UTC timestamp argument (`TIMESTAMP WITHOUT TIME ZONE` / SQLAlchemy's SQLite text).
public struct Timestamp: SQLArgument, Hashable {
    public let millis: Millis
    public init(_ millis: Millis) { self.millis = millis }
    public var sqlValue: SQLValue { .timestamp(millis) }
}

/// One result row, by column position (the store's own reads) or name (tests, tools).
public struct SQLRow: Sendable, Hashable {
    public var values: [SQLValue]
    /// The result's column names (one array shared by every row of a result).
    public var columns: [String]
    public init(_ values: [SQLValue], columns: [String] = []) {
        self.values = values
        self.columns = columns
    }

    public subscript(_ i: Int) -> SQLValue { values[i] }
    /// The value of the column named so (`.null` when there is none).
    public subscript(_ name: String) -> SQLValue {
        columns.firstIndex(of: name).map { values[$0] } ?? .null
    }
    public var count: Int { values.count }

    public func int(_ name: String) -> Int64? { columns.firstIndex(of: name).flatMap { int($0) } }
    public func text(_ name: String) -> String? { columns.firstIndex(of: name).flatMap { text($0) } }
    public func double(_ name: String) -> Double? {
        switch self[name] {
        case .double(let d): return d
        case .int(let i): return Double(i)
        case .text(let s): return Double(s)
        default: return nil
        }
    }

    public func int(_ i: Int) -> Int64? {
        switch values[i] {
        case .int(let v): return v
        case .double(let d): return Int64(exactly: d)
        case .bool(let b): return b ? 1 : 0
        case .text(let s): return Int64(s)
        default: return nil
        }
    }

    public func text(_ i: Int) -> String? {
        switch values[i] {
        case .null: return nil
        case .text(let s): return s
        default: return values[i].description
        }
    }

    /// SQLite keeps booleans as 0/1, PostgreSQL as `boolean`.
    public func bool(_ i: Int) -> Bool? {
        switch values[i] {
        case .bool(let b): return b
        case .int(let v): return v != 0
        case .double(let d): return d != 0
        case .text(let s): return ["1", "t", "true", "y", "yes"].contains(s.lowercased())
        default: return nil
        }
    }
}

/// Where the SQL of the two backends differs. Everything else is written once.
public enum SQLDialect: String, Sendable, Hashable {
    case sqlite
    case postgres

    /// An auto-incrementing 64-bit primary key column.
    var autoIncrementPrimaryKey: String {
        self == .sqlite ? "INTEGER PRIMARY KEY AUTOINCREMENT" : "BIGSERIAL PRIMARY KEY"
    }

    /// Appended to a `SELECT` that reads a row it may then change in the same transaction (SQLite's
    /// write transactions are exclusive already).
    var forUpdate: String { self == .sqlite ? "" : " FOR UPDATE" }

    /// The backend's name for people (`check`, errors).
    public var name: String { self == .sqlite ? "SQLite" : "PostgreSQL" }
}

/// `?, ?, ?` for an `IN (…)` list.
func placeholders(_ count: Int) -> String {
    Array(repeating: "?", count: count).joined(separator: ", ")
}

/// A connection inside a read or a transaction. SQL uses `?` placeholders on both backends.
public protocol SQLConnection {
    var dialect: SQLDialect { get }
    /// Runs a statement and returns its rows (`RETURNING` rows for writes).
    func query(_ sql: String, _ arguments: [any SQLArgument]) async throws -> [SQLRow]
    /// Runs a statement whose rows are not needed.
    func execute(_ sql: String, _ arguments: [any SQLArgument]) async throws
    /// Several reads in one go.
    func batch(_ queries: [SQLQuery]) async throws -> [[SQLRow]]
}

/// One statement of a batch of reads.
public struct SQLQuery: Sendable {
    public var sql: String
    public var arguments: [SQLValue]
    public init(_ sql: String, _ arguments: [any SQLArgument] = []) {
        self.sql = sql
        self.arguments = arguments.map(\.sqlValue)
    }
}

extension SQLConnection {
    /// Several reads in one go (one access on SQLite; one after the other on a PostgreSQL connection).
    public func batch(_ queries: [SQLQuery]) async throws -> [[SQLRow]] {
        var out: [[SQLRow]] = []
        for q in queries { out.append(try await query(q.sql, q.arguments)) }
        return out
    }

    public func execute(_ sql: String) async throws { try await execute(sql, []) }
    public func query(_ sql: String) async throws -> [SQLRow] { try await query(sql, []) }
}

/// A database the store runs on: SQLite (GRDB) or PostgreSQL (PostgresNIO).
public protocol SQLBackend: Sendable {
    var dialect: SQLDialect { get }
    /// Reads (no transaction is promised across statements).
    func read<T: Sendable>(_ body: (any SQLConnection) async throws -> T) async throws -> T
    /// One transaction: everything `body` runs commits together, or — if it throws — nothing does.
    func write<T: Sendable>(_ body: (any SQLConnection) async throws -> T) async throws -> T
    /// Releases connections; the backend is unusable afterwards.
    func close() async
}
