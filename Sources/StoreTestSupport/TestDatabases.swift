// StoreTestSupport — fresh databases on each backend for the store conformance suite and the
// end-to-end suites. PostgreSQL is the throwaway cluster `scripts/test` starts (its URL in
// ORDERSYNC_TEST_POSTGRES_URL); every call makes a new, empty database on it.
import Foundation
import OrderStore

/// The backends a conformance test runs on.
public enum TestBackend: String, Sendable, Hashable, CaseIterable, CustomStringConvertible {
    case sqlite
    case postgres
    public var description: String { rawValue }
}

public enum TestDatabases {
    /// The throwaway cluster's admin URL, when `scripts/test` started one.
    public static var postgresURL: String? {
        ProcessInfo.processInfo.environment["ORDERSYNC_TEST_POSTGRES_URL"].flatMap { $0.isEmpty ? nil : $0 }
    }

    /// SQLite always; PostgreSQL when a test cluster is running.
    public static var backends: [TestBackend] { postgresURL == nil ? [.sqlite] : [.sqlite, .postgres] }

    /// A temporary SQLite path (the file does not exist yet).
    public static func tempSQLitePath() -> String {
        FileManager.default.temporaryDirectory.appendingPathComponent("ordersync-test-\(UUID().uuidString).sqlite").path
    }

    /// A new, empty database on `backend`, as the text `--db` takes.
    public static func fresh(_ backend: TestBackend) async throws -> String {
        switch backend {
        case .sqlite:
            return tempSQLitePath()
        case .postgres:
            guard let admin = postgresURL else { throw TestDatabaseError("ORDERSYNC_TEST_POSTGRES_URL is not set (run bash scripts/test)") }
            let name = "ordersync_t_" + UUID().uuidString.lowercased().replacingOccurrences(of: "-", with: "").prefix(20)
            guard admin.hasSuffix("/postgres") else { throw TestDatabaseError("the test cluster's URL must name the postgres database") }
            let db = try await OrderDatabase.open(try DatabaseLocation(admin), maxConnections: 1, migrate: false)
            do { _ = try await db.rows("CREATE DATABASE \(name)") } catch {
                await db.close()
                throw error
            }
            await db.close()
            return String(admin.dropLast("postgres".count)) + name
        }
    }

    /// A new database on `backend`, opened (and migrated unless told not to).
    public static func open(_ backend: TestBackend, migrate: Bool = true) async throws -> (db: OrderDatabase, url: String) {
        let url = try await fresh(backend)
        return (try await OrderDatabase.open(try DatabaseLocation(url), migrate: migrate), url)
    }

    static let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()

    /// The origin app's own DDL as its models create it (`fixtures/origin/schema-*.sql`, a copy of
    /// `../shared/reference/origin/`).
    public static func originDDL(_ backend: TestBackend) -> String? {
        let file = root.appendingPathComponent("fixtures/origin/schema-\(backend == .sqlite ? "sqlite" : "postgres").sql")
        return try? String(contentsOf: file, encoding: .utf8)
    }

    /// The same file in `../shared/reference/origin/`, when the shared folder is beside the repository.
    public static func sharedOriginDDL(_ backend: TestBackend) -> String? {
        let file = root.deletingLastPathComponent().appendingPathComponent(
            "shared/reference/origin/schema-\(backend == .sqlite ? "sqlite" : "postgres").sql"
        )
        return try? String(contentsOf: file, encoding: .utf8)
    }

    /// The DDL's statements, one by one (comments dropped).
    public static func statements(_ ddl: String) -> [String] {
        ddl.split(separator: "\n").filter { !$0.hasPrefix("--") }.joined(separator: "\n")
            .split(separator: ";").map { $0.trimmingCharacters(in: .whitespacesAndNewlines) }.filter { !$0.isEmpty }
    }
}

public struct TestDatabaseError: Error, CustomStringConvertible {
    public let description: String
    public init(_ description: String) { self.description = description }
}

extension TestDatabases {
    /// Rows of a query on the database `name` (a SQLite path or a PostgreSQL URL), through a
    /// connection of its own (as another process would see it).
    public static func rows(_ name: String, _ sql: String, _ arguments: [any SQLArgument] = []) async throws -> [SQLRow] {
        let db = try await OrderDatabase.open(try DatabaseLocation(name), maxConnections: 1, migrate: false)
        do {
            let rows = try await db.rows(sql, arguments)
            await db.close()
            return rows
        } catch {
            await db.close()
            throw error
        }
    }

    /// Statements in one transaction on the database `name`.
    public static func execute(_ name: String, _ sql: String, _ arguments: [any SQLArgument] = []) async throws {
        let db = try await OrderDatabase.open(try DatabaseLocation(name), maxConnections: 1, migrate: false)
        do {
            try await db.execute(sql, arguments)
            await db.close()
        } catch {
            await db.close()
            throw error
        }
    }

    /// The database for an end-to-end test on `backend`: a SQLite file in `dir`, or a new PostgreSQL database.
    public static func forTest(_ backend: TestBackend, in dir: URL, name: String) async throws -> String {
        backend == .sqlite ? dir.appendingPathComponent(name + ".sqlite").path : try await fresh(.postgres)
    }
}

extension TestDatabases {
    /// Every row of every table, as text lines (before/after comparisons of "nothing changed").
    public static func dump(_ name: String) async throws -> [String] {
        let db = try await OrderDatabase.open(try DatabaseLocation(name), maxConnections: 1, migrate: false)
        do {
            let tables = try await db.rows(
                db.dialect == .sqlite
                    ? "SELECT name FROM sqlite_master WHERE type = 'table' ORDER BY name"
                    : "SELECT table_name FROM information_schema.tables WHERE table_schema = current_schema() ORDER BY table_name"
            ).compactMap { $0.text(0) }
            var lines: [String] = []
            for table in tables {
                lines += try await db.rows("SELECT * FROM \"\(table)\"").map { "\(table) \($0.values.map(\.description).joined(separator: "|"))" }
                    .sorted()
            }
            await db.close()
            return lines
        } catch {
            await db.close()
            throw error
        }
    }
}
