import GRDB
import GRDBSQLite
import SyncCore
import Synchronization

/// SQLite through GRDB (system libsqlite3; WAL, busy timeout, foreign keys on).
///
/// GRDB runs a transaction inside one synchronous closure, but the store's transactions are
/// written once for both backends as `async` code. So a write transaction here is opened with
/// `BEGIN IMMEDIATE`, its statements run one GRDB access each, and it ends with `COMMIT` (or
/// `ROLLBACK` when the body throws) — GRDB's documented `allowsUnsafeTransactions` mode. Every
/// write goes through `gate`, so no other access of this process ever sees the writer connection
/// mid-transaction; SQLite's own lock keeps other processes (the origin app) out until `COMMIT`.
final class SQLiteBackend: SQLBackend {
    let writer: any DatabaseWriter
    let gate = AsyncGate()
    /// A `DatabaseQueue` has one connection: reads must wait for an open transaction too.
    let readsThroughGate: Bool
    var dialect: SQLDialect { .sqlite }

    init(writer: any DatabaseWriter, readsThroughGate: Bool) {
        self.writer = writer
        self.readsThroughGate = readsThroughGate
    }

    static func configuration() -> Configuration {
        var config = Configuration()
        config.foreignKeysEnabled = true
        config.busyMode = .timeout(5)
        config.allowsUnsafeTransactions = true
        config.prepareDatabase { db in
            try db.execute(sql: "PRAGMA synchronous = NORMAL")
            try db.execute(sql: "PRAGMA cache_size = -16384")
        }
        return config
    }

    static func open(path: String) throws -> SQLiteBackend {
        do {
            return SQLiteBackend(writer: try DatabasePool(path: path, configuration: configuration()), readsThroughGate: false)
        } catch let error as DatabaseError {
            throw StoreError.database("cannot open \(path): \(error.message ?? error.description)")
        }
    }

    static func inMemory() throws -> SQLiteBackend {
        SQLiteBackend(writer: try DatabaseQueue(configuration: configuration()), readsThroughGate: true)
    }

    func read<T: Sendable>(_ body: (any SQLConnection) async throws -> T) async throws -> T {
        if readsThroughGate {
            return try await gate.run { try await body(SQLiteConnection(writer: writer, reading: false)) }
        }
        return try await body(SQLiteConnection(writer: writer, reading: true))
    }

    func write<T: Sendable>(_ body: (any SQLConnection) async throws -> T) async throws -> T {
        try await gate.run {
            let connection = SQLiteConnection(writer: writer, reading: false)
            // Prepared once per connection (GRDB's `beginTransaction` parses its statement on every
            // call: two fifths of a one-statement write's CPU).
            try connection.access { try $0.cachedStatement(sql: "BEGIN IMMEDIATE TRANSACTION").execute() }
            do {
                let result = try await body(connection)
                try connection.access { try $0.cachedStatement(sql: "COMMIT TRANSACTION").execute() }
                return result
            } catch {
                try? connection.access { db in if db.isInsideTransaction { try db.rollback() } }
                throw error
            }
        }
    }

    func close() async {
        try? await gate.run {
            if let pool = writer as? DatabasePool { try pool.close() }
            if let queue = writer as? DatabaseQueue { try queue.close() }
        }
    }
}

/// Statements on the writer connection (inside the gate) or on a reader of the pool.
struct SQLiteConnection: SQLConnection {
    let writer: any DatabaseWriter
    let reading: Bool
    var dialect: SQLDialect { .sqlite }

    /// One synchronous access to the writer connection (never cancelled half-way, so a
    /// transaction is always closed by this process).
    func access<T>(_ body: (Database) throws -> T) throws -> T {
        do {
            return try writer.writeWithoutTransaction(body)
        } catch let error as DatabaseError {
            throw StoreError.database(error.message ?? error.description)
        }
    }

    /// Runs one statement on `db`, reading its columns through the SQLite C API (no per-cell generic
    /// decoding: a pass reads some fifty thousand rows).
    static func run(_ db: Database, _ sql: String, _ bound: StatementArguments) throws -> [SQLRow] {
        let statement = try db.cachedStatement(sql: sql)
        let columns = statement.columnNames
        let count = Int32(columns.count)
        let cursor = try Row.fetchCursor(statement, arguments: bound)
        let handle = statement.sqliteStatement
        var rows: [SQLRow] = []
        while try cursor.next() != nil {
            var values: [SQLValue] = []
            values.reserveCapacity(Int(count))
            for i in 0..<count {
                switch sqlite3_column_type(handle, i) {
                case SQLITE_INTEGER: values.append(.int(sqlite3_column_int64(handle, i)))
                case SQLITE_FLOAT: values.append(.double(sqlite3_column_double(handle, i)))
                case SQLITE_NULL: values.append(.null)
                default:
                    let n = Int(sqlite3_column_bytes(handle, i))
                    if let p = sqlite3_column_text(handle, i) {
                        values.append(.text(String(decoding: UnsafeBufferPointer(start: p, count: n), as: UTF8.self)))
                    } else {
                        values.append(.text(""))
                    }
                }
            }
            rows.append(SQLRow(values, columns: columns))
        }
        return rows
    }

    func batch(_ queries: [SQLQuery]) async throws -> [[SQLRow]] {
        let list = queries.map { ($0.sql, Self.arguments($0.arguments)) }
        return try await perform { db in try list.map { try Self.run(db, $0.0, $0.1) } }
    }

    func query(_ sql: String, _ arguments: [any SQLArgument]) async throws -> [SQLRow] {
        let bound = Self.arguments(arguments.map { $0.sqlValue })
        return try await perform { db in try Self.run(db, sql, bound) }
    }

    /// Runs `body` on a reader of the pool, or on the writer connection inside the gate — on the
    /// calling thread, as writes already are. A read here is one account's rows (tens of
    /// microseconds; WAL readers never wait for a writer); GRDB's async read would hop to the
    /// reader's dispatch queue and back, two thread wake-ups per read, which were a sixth of an
    /// Upbit pass's CPU.
    func perform<T: Sendable>(_ body: (Database) throws -> T) async throws -> T {
        guard reading else { return try access(body) }
        do {
            return try Self.readHere(writer, body)
        } catch let error as DatabaseError {
            throw StoreError.database(error.message ?? error.description)
        }
    }

    /// GRDB's synchronous read (a synchronous function, so the async overload is not chosen),
    /// without the read transaction GRDB's `read` wraps around it: each statement is then its own
    /// snapshot, as each statement of a read is on PostgreSQL (whose reads open no transaction), and
    /// the snapshot's three statements need no common one (`accountSnapshot` says why). The
    /// `BEGIN DEFERRED`/`COMMIT` it saves, parsed anew each time, were a thirtieth of an Upbit pass.
    static func readHere<T>(_ writer: any DatabaseWriter, _ body: (Database) throws -> T) throws -> T {
        try writer.unsafeRead(body)
    }

    func execute(_ sql: String, _ arguments: [any SQLArgument]) async throws {
        guard arguments.isEmpty, !reading else {
            _ = try await query(sql, arguments)
            return
        }
        // DDL and scripts: may hold several statements.
        try access { try $0.execute(sql: sql) }
    }

    /// GRDB's arguments for these values — through its initializer of optional existentials: the
    /// generic one maps with a key path that is instantiated on every call (a fiftieth of a pass's CPU).
    static func arguments(_ values: [SQLValue]) -> StatementArguments {
        StatementArguments(values.map { Self.bind($0) as (any DatabaseValueConvertible)? })
    }

    /// A concrete `DatabaseValue` (through optional existentials, binding was a tenth of a cancel's store CPU).
    static func bind(_ value: SQLValue) -> DatabaseValue {
        switch value {
        case .null: return .null
        case .int(let i): return i.databaseValue
        case .double(let d): return d.databaseValue
        case .text(let s): return s.databaseValue
        case .bool(let b): return b.databaseValue
        case .timestamp(let ms): return UTC.sqlDateTime(ms).databaseValue
        }
    }
}

/// A first-come first-served async lock: one holder at a time, waiters resume in order.
final class AsyncGate: Sendable {
    private struct State {
        var busy = false
        var waiters: [CheckedContinuation<Void, Never>] = []
    }
    private let state = Mutex(State())

    func run<T>(_ body: () async throws -> T) async throws -> T {
        await withCheckedContinuation { (c: CheckedContinuation<Void, Never>) in
            let now = state.withLock { s in
                if s.busy {
                    s.waiters.append(c)
                    return false
                }
                s.busy = true
                return true
            }
            if now { c.resume() }
        }
        defer {
            let next = state.withLock { s -> CheckedContinuation<Void, Never>? in
                if s.waiters.isEmpty {
                    s.busy = false
                    return nil
                }
                return s.waiters.removeFirst()
            }
            next?.resume()
        }
        return try await body()
    }
}
