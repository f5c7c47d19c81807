import Logging
import NIOCore
import NIOSSL
import PostgresNIO
import SyncCore
import Synchronization

#if canImport(FoundationEssentials)
import FoundationEssentials
#else
import Foundation
#endif

/// PostgreSQL through PostgresNIO's `PostgresClient`: a bounded pool (`maxConnections`), one
/// leased connection per read or transaction. The store's `?` placeholders become `$1, $2, …`.
final class PostgresBackend: SQLBackend {
    let client: PostgresClient
    let running: Task<Void, Never>
    let logger: Logger
    var dialect: SQLDialect { .postgres }

    private init(client: PostgresClient, running: Task<Void, Never>, logger: Logger) {
        self.client = client
        self.running = running
        self.logger = logger
    }

    /// Connects once directly (so that a refused connection, a wrong password or a missing database
    /// fails at once with the server's reason, where the pool would keep retrying), then starts the
    /// pool, which opens connections on demand.
    static func open(_ location: PostgresLocation, maxConnections: Int) async throws -> PostgresBackend {
        var probeLogger = Logger(label: "ordersync.postgres.probe")
        probeLogger.logLevel = .critical
        do {
            var probe = PostgresConnection.Configuration(
                host: location.host,
                port: location.port,
                username: location.user,
                password: location.password.reveal().isEmpty ? nil : location.password.reveal(),
                database: location.database,
                tls: try location.connectionTLS()
            )
            probe.options.connectTimeout = .seconds(10)
            let connection = try await PostgresConnection.connect(configuration: probe, id: 0, logger: probeLogger)
            try? await connection.close()
        } catch {
            throw StoreError.database("cannot connect: \(PostgresConnection.describe(error))")
        }
        var configuration = PostgresClient.Configuration(
            host: location.host,
            port: location.port,
            username: location.user,
            password: location.password.reveal().isEmpty ? nil : location.password.reveal(),
            database: location.database,
            tls: location.tls
        )
        configuration.options.maximumConnections = max(1, maxConnections)
        configuration.options.minimumConnections = 0
        configuration.options.connectTimeout = .seconds(10)
        configuration.options.additionalStartupParameters = [("application_name", "ordersync")]
        var logger = Logger(label: "ordersync.postgres")
        logger.logLevel = .critical
        let client = PostgresClient(configuration: configuration, backgroundLogger: logger)
        let running = Task { await client.run() }
        let backend = PostgresBackend(client: client, running: running, logger: logger)
        do {
            _ = try await backend.read { try await $0.query("SELECT 1") }
        } catch {
            await backend.close()
            throw StoreError.database("cannot connect: \(PostgresConnection.describe(error))")
        }
        return backend
    }

    func read<T: Sendable>(_ body: (any SQLConnection) async throws -> T) async throws -> T {
        do {
            return try await client.withConnection { connection in
                try await body(PostgresSQLConnection(connection: connection, logger: logger))
            }
        } catch let error as StoreError {
            throw error
        } catch {
            throw StoreError.database(PostgresConnection.describe(error))
        }
    }

    func write<T: Sendable>(_ body: (any SQLConnection) async throws -> T) async throws -> T {
        do {
            return try await client.withConnection { connection in
                let sql = PostgresSQLConnection(connection: connection, logger: logger)
                try await sql.execute("BEGIN")
                do {
                    let result = try await body(sql)
                    try await sql.execute("COMMIT")
                    return result
                } catch {
                    try? await sql.execute("ROLLBACK")
                    throw error
                }
            }
        } catch let error as StoreError {
            throw error
        } catch {
            throw StoreError.database(PostgresConnection.describe(error))
        }
    }

    func close() async {
        running.cancel()
        await running.value
    }
}

extension PostgresConnection {
    /// The server's message (and SQLSTATE) of an error, without the query's bound values.
    static func describe(_ error: any Error) -> String {
        if let error = error as? PSQLError {
            if let message = error.serverInfo?[.message] {
                let state = error.serverInfo?[.sqlState].map { " (SQLSTATE \($0))" } ?? ""
                return message + state
            }
            if let underlying = error.underlying { return "\(error.code): \(underlying)" }
            return "\(error.code)"
        }
        if let error = error as? StoreError { return error.description }
        return String(describing: type(of: error))
    }
}

/// One leased connection.
struct PostgresSQLConnection: SQLConnection {
    let connection: PostgresConnection
    let logger: Logger
    var dialect: SQLDialect { .postgres }

    func query(_ sql: String, _ arguments: [any SQLArgument]) async throws -> [SQLRow] {
        var binds = PostgresBindings(capacity: arguments.count)
        for argument in arguments {
            switch argument.sqlValue {
            case .null: binds.appendNull()
            case .int(let i): binds.append(i)
            case .double(let d): binds.append(d)
            case .text(let s): binds.append(s)
            case .bool(let b): binds.append(b)
            case .timestamp(let ms): binds.append(NaiveTimestamp(millis: ms))
            }
        }
        let query = PostgresQuery(unsafeSQL: PostgresPlaceholders.numbered(sql), binds: binds)
        let rows: PostgresRowSequence
        do {
            rows = try await connection.query(query, logger: logger)
        } catch {
            throw StoreError.database(PostgresConnection.describe(error))
        }
        var out: [SQLRow] = []
        var columns: [String]?
        do {
            for try await row in rows {
                var values: [SQLValue] = []
                values.reserveCapacity(row.count)
                for cell in row { values.append(try Self.value(cell)) }
                if columns == nil { columns = row.map(\.columnName) }
                out.append(SQLRow(values, columns: columns ?? []))
            }
        } catch let error as StoreError {
            throw error
        } catch {
            throw StoreError.database(PostgresConnection.describe(error))
        }
        return out
    }

    func execute(_ sql: String, _ arguments: [any SQLArgument]) async throws {
        _ = try await query(sql, arguments)
    }

    static func value(_ cell: PostgresCell) throws -> SQLValue {
        guard cell.bytes != nil else { return .null }
        do {
            switch cell.dataType {
            case .int2: return .int(Int64(try cell.decode(Int16.self)))
            case .int4: return .int(Int64(try cell.decode(Int32.self)))
            case .int8: return .int(try cell.decode(Int64.self))
            case .float4: return .double(Double(try cell.decode(Float.self)))
            case .float8: return .double(try cell.decode(Double.self))
            case .bool: return .bool(try cell.decode(Bool.self))
            case .numeric: return .text("\(try cell.decode(Decimal.self))")
            case .timestamp, .timestamptz: return .timestamp(try cell.decode(NaiveTimestamp.self).millis)
            default: return .text(try cell.decode(String.self))
            }
        } catch {
            throw StoreError.database("column \(cell.columnName): cannot read a \(cell.dataType) value")
        }
    }
}

/// `TIMESTAMP WITHOUT TIME ZONE` as naive UTC: microseconds since 2000-01-01 00:00:00, the
/// binary form, so no session time zone is ever involved (the origin stores `datetime.utcnow()`).
struct NaiveTimestamp: PostgresNonThrowingEncodable, PostgresDecodable {
    static let epochOffsetMicros: Int64 = 946_684_800 * 1_000_000
    var millis: Millis

    init(millis: Millis) { self.millis = millis }

    static var psqlType: PostgresDataType { .timestamp }
    static var psqlFormat: PostgresFormat { .binary }

    func encode<JSONEncoder: PostgresJSONEncoder>(into byteBuffer: inout ByteBuffer, context: PostgresEncodingContext<JSONEncoder>) {
        byteBuffer.writeInteger(millis * 1000 - Self.epochOffsetMicros)
    }

    init<JSONDecoder: PostgresJSONDecoder>(
        from buffer: inout ByteBuffer,
        type: PostgresDataType,
        format: PostgresFormat,
        context: PostgresDecodingContext<JSONDecoder>
    ) throws {
        switch (type, format) {
        case (.timestamp, .binary), (.timestamptz, .binary):
            guard buffer.readableBytes == 8, let micros = buffer.readInteger(as: Int64.self) else { throw PostgresDecodingError.Code.failure }
            let total = micros + Self.epochOffsetMicros
            millis = total >= 0 ? total / 1000 : (total - 999) / 1000
        case (_, .text):
            guard let text = buffer.readString(length: buffer.readableBytes), let ms = UTC.parse(text) else {
                throw PostgresDecodingError.Code.failure
            }
            millis = ms
        default:
            throw PostgresDecodingError.Code.typeMismatch
        }
    }
}

/// `?` → `$n`, outside quoted literals and identifiers (cached per statement text).
enum PostgresPlaceholders {
    private static let cache = Mutex<[String: String]>([:])

    static func numbered(_ sql: String) -> String {
        if let hit = cache.withLock({ $0[sql] }) { return hit }
        var out = ""
        var n = 0
        var quote: Character? = nil
        out.reserveCapacity(sql.utf8.count + 16)
        for ch in sql {
            if let q = quote {
                out.append(ch)
                if ch == q { quote = nil }
            } else if ch == "'" || ch == "\"" {
                quote = ch
                out.append(ch)
            } else if ch == "?" {
                n += 1
                out += "$\(n)"
            } else {
                out.append(ch)
            }
        }
        cache.withLock { if $0.count < 4096 { $0[sql] = out } }
        return out
    }
}

/// A PostgreSQL database named by a `postgres://` / `postgresql://` URL. Its description never
/// shows the password.
public struct PostgresLocation: Sendable, Hashable, CustomStringConvertible {
    public var host: String
    public var port: Int
    public var user: String
    public var password: Secret
    public var database: String?
    /// `sslmode`: disable, prefer (default, as libpq) or require.
    public var sslMode: String

    /// libpq's `sslmode`: `prefer`/`require` encrypt without verifying the certificate, `verify-ca`
    /// and `verify-full` verify it.
    var tlsConfiguration: TLSConfiguration {
        var c = TLSConfiguration.makeClientConfiguration()
        if sslMode != "verify-ca" && sslMode != "verify-full" { c.certificateVerification = .none }
        return c
    }

    var tls: PostgresClient.Configuration.TLS {
        switch sslMode {
        case "disable": return .disable
        case "require", "verify-ca", "verify-full": return .require(tlsConfiguration)
        default: return .prefer(tlsConfiguration)
        }
    }

    func connectionTLS() throws -> PostgresConnection.Configuration.TLS {
        switch sslMode {
        case "disable": return .disable
        case "require", "verify-ca", "verify-full": return .require(try NIOSSLContext(configuration: tlsConfiguration))
        default: return .prefer(try NIOSSLContext(configuration: tlsConfiguration))
        }
    }

    /// Parses `postgres[ql]://user[:password]@host[:port][/database][?sslmode=…]`; nil for any other text.
    public init?(url text: String) {
        let lower = text.lowercased()
        guard lower.hasPrefix("postgres://") || lower.hasPrefix("postgresql://"), let components = URLComponents(string: text) else { return nil }
        guard let host = components.host, !host.isEmpty else { return nil }
        self.host = host
        port = components.port ?? 5432
        user = components.user.map { $0.removingPercentEncoding ?? $0 } ?? "postgres"
        password = Secret(components.password.map { $0.removingPercentEncoding ?? $0 } ?? "")
        let path = components.path.hasPrefix("/") ? String(components.path.dropFirst()) : components.path
        database = path.isEmpty ? nil : (path.removingPercentEncoding ?? path)
        sslMode = components.queryItems?.first(where: { $0.name == "sslmode" })?.value ?? "prefer"
    }

    public var description: String {
        "postgresql://\(user)\(password.isEmpty ? "" : ":***")@\(host):\(port)/\(database ?? "")"
    }
}
