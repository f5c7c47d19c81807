import BinanceAPI
import OrderStore
import OriginKeys
import SyncCore

#if canImport(FoundationEssentials)
import FoundationEssentials
#else
import Foundation
#endif

/// `ordersync check`: what a first deployment needs to know, read-only. Problems stop ordersync
/// from doing its job (exit 1); notes are facts worth knowing that do not.
public struct CheckReport: Sendable, Codable {
    public struct Account: Sendable, Codable {
        public var id: Int64
        public var name: String
        /// `accounts.exchange` as stored.
        public var exchange: String
        public var active: Bool
        /// `supported`, `not supported yet` (an exchange the origin trades on) or `unknown exchange`.
        public var support: String
        /// `ok` (decrypted with the origin's key), `plaintext`, or why they do not resolve.
        public var keys: String
        /// With `--online`: `ok` or what failed.
        public var online: String?
    }

    public var schema = "ordersync.check/1"
    /// The database, password hidden.
    public var database: String
    public var backend: String
    public var accounts: [Account] = []
    public var accountsByExchange: [String: Int] = [:]
    /// Rows of `open_orders` by status and by `market_type` (as stored).
    public var rowsByStatus: [String: Int] = [:]
    public var rowsByMarket: [String: Int] = [:]
    /// The origin's own states (PENDING placeholders, FAILED give-ups, CANCELLING, held by its job).
    public var placeholders = 0
    public var failed = 0
    public var cancelling = 0
    public var held = 0
    public var problems: [String] = []
    public var notes: [String] = []
    /// Whether ordersync can run on this database (no problem).
    public var ok: Bool { problems.isEmpty }

    enum CodingKeys: String, CodingKey {
        case schema, database, backend, accounts, placeholders, failed, cancelling, held, problems, notes, ok
        case accountsByExchange = "accounts_by_exchange"
        case rowsByStatus = "rows_by_status"
        case rowsByMarket = "rows_by_market"
    }

    public func encode(to encoder: any Encoder) throws {
        var c = encoder.container(keyedBy: CodingKeys.self)
        try c.encode(schema, forKey: .schema)
        try c.encode(database, forKey: .database)
        try c.encode(backend, forKey: .backend)
        try c.encode(ok, forKey: .ok)
        try c.encode(problems, forKey: .problems)
        try c.encode(notes, forKey: .notes)
        try c.encode(accounts, forKey: .accounts)
        try c.encode(accountsByExchange, forKey: .accountsByExchange)
        try c.encode(rowsByStatus, forKey: .rowsByStatus)
        try c.encode(rowsByMarket, forKey: .rowsByMarket)
        try c.encode(placeholders, forKey: .placeholders)
        try c.encode(failed, forKey: .failed)
        try c.encode(cancelling, forKey: .cancelling)
        try c.encode(held, forKey: .held)
    }

    public init(from decoder: any Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        database = try c.decode(String.self, forKey: .database)
        backend = try c.decode(String.self, forKey: .backend)
        accounts = try c.decode([Account].self, forKey: .accounts)
        problems = try c.decode([String].self, forKey: .problems)
        notes = try c.decode([String].self, forKey: .notes)
    }

    init(database: String, backend: String) {
        self.database = database
        self.backend = backend
    }

    /// Lines for people.
    public func text() -> String {
        var out = "ordersync check — \(database) (\(backend)): \(ok ? "ordersync can run" : "\(problems.count) problem(s)")\n"
        for p in problems { out += "  PROBLEM  \(p)\n" }
        for n in notes { out += "  note     \(n)\n" }
        out +=
            "accounts (\(accounts.count)): " + accountsByExchange.sorted { $0.key < $1.key }.map { "\($0.key) \($0.value)" }.joined(separator: ", ")
            + "\n"
        for a in accounts {
            out += "  \(a.id) \(a.name) [\(a.exchange)] \(a.active ? "active" : "inactive"), \(a.support), keys \(a.keys)"
            if let online = a.online { out += ", online \(online)" }
            out += "\n"
        }
        out += "open_orders by status: " + rowsByStatus.sorted { $0.key < $1.key }.map { "\($0.key) \($0.value)" }.joined(separator: ", ") + "\n"
        out += "open_orders by market_type: " + rowsByMarket.sorted { $0.key < $1.key }.map { "\($0.key) \($0.value)" }.joined(separator: ", ") + "\n"
        out += "origin states: \(placeholders) PENDING placeholder(s), \(failed) FAILED, \(cancelling) CANCELLING, \(held) held (is_processing)\n"
        return out
    }

    public func json() -> String {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.prettyPrinted, .sortedKeys, .withoutEscapingSlashes]
        return String(decoding: (try? encoder.encode(self)) ?? Data(), as: UTF8.self)
    }
}

extension EntryPoints {
    /// Exchanges the origin app offers (its account form, its securities adapter) that ordersync
    /// does not reconcile yet.
    static let laterExchanges: Set<String> = ["BYBIT", "OKX", "KIS"]

    /// Whether a stored symbol is one ordersync can read: letters and digits, at most one `/` or `-`
    /// with a pair on both sides.
    static func readableSymbol(_ text: String) -> Bool {
        guard !text.isEmpty, text.utf8.count <= 20 else { return false }
        let separators = text.filter { $0 == "/" || $0 == "-" }
        guard separators.count <= 1, text.allSatisfy({ $0.isASCII && ($0.isLetter || $0.isNumber || $0 == "/" || $0 == "-") }) else { return false }
        if let sep = separators.first {
            let parts = text.split(separator: sep, omittingEmptySubsequences: false)
            return parts.count == 2 && !parts[0].isEmpty && !parts[1].isEmpty
        }
        return true
    }

    /// `ordersync check`: connects, checks the schema, the accounts (keys decrypted, never shown;
    /// `online`: one server-time and one signed call each) and the rows; changes nothing.
    public static func check(_ options: ReconcileOptions, online: Bool) async throws(AppError) -> CheckReport {
        let location = try location(options.databasePath)
        let db = try await openDatabase(options.databasePath, maxConnections: 2, migrate: false)
        var report = CheckReport(database: location.description, backend: db.dialect.name)
        do {
            try await inspect(db, into: &report, options: options, online: online)
        } catch {
            report.problems.append("\(error)")
        }
        await db.close()
        return report
    }

    static func inspect(_ db: OrderDatabase, into report: inout CheckReport, options: ReconcileOptions, online: Bool) async throws {
        do {
            try await db.verifyOrigin()
        } catch {
            report.problems.append("schema: \(error)")
            return
        }
        if !(try await db.isMigrated()) { report.notes.append("ordersync's own tables are not created yet: run ordersync migrate") }
        for index in try await db.missingOriginIndexes() {
            report.notes.append("no index \(index): fine for a few accounts; `ordersync migrate --add-indexes` creates it for many")
        }
        for table in OriginRecord.Table.allCases where !db.evidenceTables.contains(table) {
            report.notes.append("no usable table \(table.rawValue): its records of order ids are not used as ownership evidence")
        }
        // Accounts.
        let gateway = venues(options)
        let markets = try await db.accountMarkets()
        let stored = Dictionary(
            try await db.rows("SELECT id, exchange FROM accounts").map { ($0.int(0) ?? 0, $0.text(1) ?? "") },
            uniquingKeysWith: { a, _ in a }
        )
        for account in try await db.accounts() {
            let exchange = stored[account.id.rawValue] ?? account.exchange
            report.accountsByExchange[exchange.lowercased(), default: 0] += 1
            let support =
                gateway.supports(account) ? "supported" : laterExchanges.contains(account.exchange) ? "not supported yet" : "unknown exchange"
            var keys = "ok"
            if let problem = gateway.venue(for: account)?.credentialsProblem(account) {
                keys = problem
                if account.isActive { report.problems.append(problem) }
            } else if !Fernet.looksLikeToken(account.apiKey) || !Fernet.looksLikeToken(account.apiSecret.reveal()) {
                keys = "plaintext"
            }
            if support == "unknown exchange" && account.isActive {
                report.problems.append("account \(account.id) (\(account.name)): unknown exchange \"\(exchange)\"")
            } else if support == "not supported yet" && account.isActive {
                report.notes.append("account \(account.id) (\(account.name)): \(exchange) is not reconciled yet; its strategies' rows are left alone")
            }
            var entry = CheckReport.Account(
                id: account.id.rawValue,
                name: account.name,
                exchange: exchange,
                active: account.isActive,
                support: support,
                keys: keys
            )
            if online, account.isActive, support == "supported", keys == "ok" || keys == "plaintext" {
                let market = markets[account.id]?.sorted().first ?? .spot
                let problem = await gateway.venue(for: account)?.probe(account, market: market)
                entry.online = problem ?? "ok"
                if let problem { report.problems.append("account \(account.id) (\(account.name)) online: \(problem)") }
            }
            report.accounts.append(entry)
        }
        await gateway.shutdown()
        // Strategies' market types.
        for r in try await db.rows("SELECT id, group_name, market_type FROM strategies") where Market(stored: r.text(2) ?? "") == nil {
            report.problems.append("strategies \(r.int(0) ?? 0) (\(r.text(1) ?? "")): market_type \"\(r.text(2) ?? "")\" is not SPOT or FUTURES")
        }
        // Rows, as stored.
        for r in try await db.rows(
            """
            SELECT id, exchange_order_id, symbol, side, status, market_type, is_processing, processing_started_at, created_at FROM open_orders
            """
        ) {
            let id = r.int(0) ?? 0
            let status = (r.text(4) ?? "").uppercased()
            let market = r.text(5) ?? ""
            report.rowsByStatus[status, default: 0] += 1
            report.rowsByMarket[market, default: 0] += 1
            if status == "FAILED" {
                report.failed += 1
                continue
            }
            if OriginRules.finishedStatuses.contains(status) { continue }
            if status == "PENDING" || (r.text(1) ?? "").hasPrefix(OriginRules.placeholderPrefix) { report.placeholders += 1 }
            if status == "CANCELLING" { report.cancelling += 1 }
            if r.bool(6) == true { report.held += 1 }
            if !readableSymbol(r.text(2) ?? "") {
                report.problems.append(
                    "open_orders \(id): symbol \"\(r.text(2) ?? "")\" is not a pair ordersync can read (BTC/USDT, BTCUSDT, KRW-BTC)"
                )
            }
            if Market(stored: market) == nil && !market.isEmpty {
                report.problems.append("open_orders \(id): market_type \"\(market)\" is not SPOT or FUTURES (any case)")
            }
            if Side(parsing: r.text(3) ?? "") == nil {
                report.problems.append("open_orders \(id): side \"\(r.text(3) ?? "")\" is not BUY or SELL")
            }
            if !["NEW", "OPEN", "PARTIALLY_FILLED", "CANCELLING", "PENDING"].contains(status) {
                report.notes.append("open_orders \(id): status \"\(status)\" is unknown to ordersync; the row is left alone")
            }
        }
        if report.placeholders > 0 {
            report.notes.append(
                "\(report.placeholders) PENDING placeholder(s): never sent to an exchange; the origin resolves or fails them (after \(OriginRules.pendingGiveUp / 1000) s)"
            )
        }
        if report.failed > 0 {
            report.notes.append(
                "\(report.failed) FAILED row(s) (the origin's give-ups): never cancelled or queried; a FAILED placeholder is repaired "
                    + "in place when exactly one listed order matches it"
            )
        }
        if report.held > 0 {
            report.notes.append("\(report.held) row(s) held by the origin's job (is_processing): left alone until released or stale (5 min)")
        }
    }
}
