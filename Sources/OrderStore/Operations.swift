import GRDB
import SyncCore

#if canImport(FoundationEssentials)
import FoundationEssentials
#else
import Foundation
#endif


extension OrderDatabase: ReconcileStore {
    // MARK: Loading a scenario

    /// Writes the DB side of a scenario (users, accounts, strategies, links, `open_orders`) in one
    /// transaction: all of it or, on any error, nothing. Errors name the item.
    public func load(_ scenario: Scenario, now: Millis) async throws {
        try await writer.write { db in
            func run(_ item: String, _ sql: String, _ arguments: StatementArguments) throws {
                do {
                    try db.execute(sql: sql, arguments: arguments)
                } catch let error as DatabaseError {
                    throw StoreError.loadRejected(item: item, message: error.message ?? error.description)
                }
            }
            for (i, u) in scenario.users.enumerated() {
                try run("users[\(i)]", "INSERT INTO users (id, username, webhook_token, is_active) VALUES (?, ?, ?, ?)",
                        [u.id.rawValue, u.username, u.webhookToken?.reveal(), u.isActive])
            }
            for (i, a) in scenario.accounts.enumerated() {
                try run("accounts[\(i)]", """
                    INSERT INTO accounts (id, user_id, name, exchange, public_api, secret_api, is_testnet, is_active)
                    VALUES (?, ?, ?, ?, ?, ?, ?, ?)
                    """, [a.id.rawValue, a.user.rawValue, a.name, a.exchange, a.apiKey, a.apiSecret.reveal(), a.isTestnet, a.isActive])
            }
            for (i, s) in scenario.strategies.enumerated() {
                try run("strategies[\(i)]", """
                    INSERT INTO strategies (id, user_id, name, group_name, market_type, is_active, is_public)
                    VALUES (?, ?, ?, ?, ?, ?, ?)
                    """, [s.id.rawValue, s.user.rawValue, s.name, s.groupName, s.market.rawValue, s.isActive, s.isPublic])
            }
            for (i, l) in scenario.links.enumerated() {
                try run("strategy_accounts[\(i)]", """
                    INSERT INTO strategy_accounts (id, strategy_id, account_id, weight, leverage, is_active)
                    VALUES (?, ?, ?, ?, ?, ?)
                    """, [l.id.rawValue, l.strategy.rawValue, l.account.rawValue, l.weight, l.leverage, l.isActive])
            }
            for (i, o) in scenario.dbOrders.enumerated() {
                let created = UTC.sqlDateTime(now - o.ageMs)
                try run("db_orders[\(i)] (exchange_order_id \(o.exchangeOrderID))", """
                    INSERT INTO open_orders (id, strategy_account_id, exchange_order_id, symbol, side, order_type, price,
                        stop_price, quantity, filled_quantity, status, market_type, created_at, updated_at)
                    VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
                    """, [o.id?.rawValue, o.link.rawValue, o.exchangeOrderID.rawValue, o.symbol, o.side.rawValue,
                          o.orderType.rawValue, o.price?.doubleValue, o.stopPrice?.doubleValue, o.quantity.doubleValue,
                          o.filledQuantity.doubleValue, o.status, o.market.rawValue, created, created])
            }
        }
    }

    // MARK: Reading

    /// Every account, ordered by id.
    public func accounts() async throws -> [AccountRecord] {
        try await writer.read { db in
            try Row.fetchAll(db, sql: """
                SELECT id, user_id, name, exchange, public_api, secret_api, is_testnet, is_active FROM accounts ORDER BY id
                """).map { r in
                AccountRecord(
                    id: AccountID(r["id"]), user: UserID(r["user_id"]), name: r["name"] ?? "",
                    exchange: (r["exchange"] as String? ?? "").uppercased(), apiKey: r["public_api"] ?? "",
                    apiSecret: Secret(r["secret_api"] ?? ""), isTestnet: r["is_testnet"] ?? false, isActive: r["is_active"] ?? false)
            }
        }
    }

    /// Every strategy link (with its strategy's market and activity), ordered by id.
    public func strategyLinks() async throws -> [StrategyLink] {
        try await writer.read { db in try Self.fetchLinks(db, account: nil) }
    }

    static func fetchLinks(_ db: Database, account: AccountID?) throws -> [StrategyLink] {
        var sql = """
            SELECT sa.id, sa.strategy_id, sa.account_id, sa.is_active AS link_active, s.is_active AS strategy_active, s.market_type,
                   s.group_name
            FROM strategy_accounts sa JOIN strategies s ON s.id = sa.strategy_id
            """
        var arguments: StatementArguments = []
        if let account { sql += " WHERE sa.account_id = ?"; arguments = [account.rawValue] }
        sql += " ORDER BY sa.id"
        return try Row.fetchAll(db.cachedStatement(sql: sql), arguments: arguments).map { r in
            let text: String = r["market_type"] ?? ""
            guard let market = Market(stored: text) else {
                throw StoreError.invalidValue(table: "strategies", id: r["strategy_id"], column: "market_type", value: text)
            }
            return StrategyLink(
                id: StrategyLinkID(r["id"]), strategy: StrategyID(r["strategy_id"]), account: AccountID(r["account_id"]),
                market: market, isActive: (r["link_active"] ?? false) && (r["strategy_active"] ?? false), groupName: r["group_name"] ?? "")
        }
    }

    static let rowSelect = """
        SELECT o.id, o.strategy_account_id, o.exchange_order_id, o.symbol, o.side, o.order_type, o.price, o.stop_price,
               o.quantity, o.filled_quantity, o.status, o.market_type, o.created_at, o.updated_at,
               s.market_type AS strategy_market
        FROM open_orders o
        JOIN strategy_accounts sa ON sa.id = o.strategy_account_id
        JOIN strategies s ON s.id = sa.strategy_id
        """

    /// Decodes a row of `rowSelect` by column position (the hot path of every pass: no column-name lookups).
    static func decodeRow(_ r: Row) throws -> OpenOrderRow {
        let id: Int64 = r[0]
        func amount(_ index: Int, _ column: String) throws -> Amount? {
            try Values.amount(r[index], table: "open_orders", id: id, column: column)
        }
        let sideText: String = r[4] ?? ""
        guard let side = Side(parsing: sideText) else {
            throw StoreError.invalidValue(table: "open_orders", id: id, column: "side", value: sideText)
        }
        // The row's own market; the strategy's when the row has none (never the account's "first").
        let marketText: String? = r[11]
        guard let market = marketText.flatMap(Market.init(stored:)) ?? (r[14] as String?).flatMap(Market.init(stored:)) else {
            throw StoreError.invalidValue(table: "open_orders", id: id, column: "market_type", value: marketText ?? "NULL")
        }
        guard let quantity = try amount(8, "quantity") else {
            throw StoreError.invalidValue(table: "open_orders", id: id, column: "quantity", value: "NULL")
        }
        return OpenOrderRow(
            id: OpenOrderRowID(id), link: StrategyLinkID(r[1]),
            exchangeOrderID: ExchangeOrderID(r[2]), symbol: r[3], side: side,
            orderType: OrderType(r[5] ?? "LIMIT"), price: try amount(6, "price"), stopPrice: try amount(7, "stop_price"),
            quantity: quantity, filledQuantity: try amount(9, "filled_quantity") ?? .zero, status: r[10] ?? "",
            market: market,
            createdAt: try Values.millis(r[12], table: "open_orders", id: id, column: "created_at"),
            updatedAt: try Values.millis(r[13], table: "open_orders", id: id, column: "updated_at"))
    }

    /// Every `open_orders` row, ordered by id.
    public func openOrders() async throws -> [OpenOrderRow] {
        try await writer.read { db in
            try Row.fetchAll(db, sql: Self.rowSelect + " ORDER BY o.id").map(Self.decodeRow)
        }
    }

    /// The rows of the given strategy links (for cancel selection), ordered by id.
    public func openOrders(links: Set<StrategyLinkID>) async throws -> [OpenOrderRow] {
        guard !links.isEmpty else { return [] }
        let ids = links.map(\.rawValue).sorted()
        return try await writer.read { db in
            try Row.fetchAll(
                db, sql: Self.rowSelect + " WHERE o.strategy_account_id IN (\(databaseQuestionMarks(count: ids.count))) ORDER BY o.id",
                arguments: StatementArguments(ids)
            ).map(Self.decodeRow)
        }
    }

    public func accountMarkets() async throws -> [AccountID: Set<Market>] {
        try await writer.read { db in
            var markets: [AccountID: Set<Market>] = [:]
            for r in try Row.fetchAll(db, sql: "SELECT DISTINCT sa.account_id, s.market_type FROM strategy_accounts sa JOIN strategies s ON s.id = sa.strategy_id") {
                if let market = Market(stored: r[1] ?? "") { markets[AccountID(r[0]), default: []].insert(market) }
            }
            return markets
        }
    }

    /// Everything the decision for one account needs, read in one snapshot.
    public func accountSnapshot(_ account: AccountID) async throws -> AccountSnapshot {
        try await writer.read { db in
            let rows = try Row.fetchAll(db.cachedStatement(sql: Self.rowSelect + " WHERE sa.account_id = ? ORDER BY o.id"), arguments: [account.rawValue])
                .map(Self.decodeRow)
            let links = try Self.fetchLinks(db, account: account)
            let orphans = try Row.fetchAll(db.cachedStatement(sql: "SELECT * FROM sync_orphans WHERE account_id = ?"), arguments: [account.rawValue])
                .compactMap(Self.decodeOrphan)
            var misses: [ExchangeOrderID: Int] = [:]
            for r in try Row.fetchAll(db.cachedStatement(sql: "SELECT exchange_order_id, misses FROM sync_misses WHERE account_id = ?"), arguments: [account.rawValue]) {
                misses[ExchangeOrderID(r[0])] = r[1]
            }
            var sweeps: [Market: Int64] = [:]
            for r in try Row.fetchAll(db.cachedStatement(sql: "SELECT market, last_sweep_run FROM sync_sweeps WHERE account_id = ?"), arguments: [account.rawValue]) {
                if let market = Market(stored: r[0]) { sweeps[market] = r[1] }
            }
            return AccountSnapshot(account: account, rows: rows, links: links, orphans: orphans, misses: misses, lastSweepRun: sweeps)
        }
    }

    static func decodeOrphan(_ r: Row) -> OrphanRecord? {
        guard let market = Market(stored: r["market"]), let side = Side(parsing: r["side"]),
            let status = ExchangeOrderStatus(rawValue: r["status"]), let price = Amount(r["price"] as String),
            let quantity = Amount(r["quantity"] as String), let executed = Amount(r["executed_quantity"] as String)
        else { return nil }
        let order = ExchangeOrder(
            id: ExchangeOrderID(r["exchange_order_id"]), clientOrderID: r["client_order_id"], symbol: r["symbol"], side: side,
            type: OrderType(r["order_type"] as String), status: status, price: price,
            stopPrice: (r["stop_price"] as String?).flatMap(Amount.init), quantity: quantity, executedQuantity: executed,
            time: r["order_time"])
        return OrphanRecord(
            account: AccountID(r["account_id"]), market: market, order: order, firstSeen: r["first_seen_at"],
            lastSeen: r["last_seen_at"], timesSeen: r["times_seen"])
    }

    // MARK: Runs and plans

    /// Starts a run record; returns its id.
    public func beginRun(trigger: String, now: Millis) async throws -> Int64 {
        try await writer.write { db in
            try db.execute(sql: "INSERT INTO sync_runs (trigger, started_at) VALUES (?, ?)", arguments: [trigger, now])
            return db.lastInsertedRowID
        }
    }

    /// Closes a run record with its totals.
    public func finishRun(_ id: Int64, report: DriftReport) async throws {
        let totals = String(decoding: try JSONEncoder().encode(report.totals), as: UTF8.self)
        try await writer.write { db in
            try db.execute(
                sql: "UPDATE sync_runs SET finished_at = ?, status = ?, sections = ?, totals_json = ? WHERE id = ?",
                arguments: [report.finishedAt, report.errorCount == 0 ? "ok" : "errors", report.sections.count, totals, id])
        }
    }

    /// Applies one account-market plan and records its findings (all but `matched`), in one
    /// transaction.
    public func apply(_ plan: ReconcilePlan, runID: Int64, now: Millis) async throws -> ApplyResult {
        // A quiet per-symbol pass (everything matched, nothing to do or record) writes nothing.
        if !plan.isCompleteSweep && plan.housekeeping.isEmpty && plan.findings.allSatisfy({ $0.kind == .matched && $0.actions.isEmpty }) {
            return ApplyResult()
        }
        return try await writer.write { db in try Self.apply(plan, runID: runID, now: now, db: db) }
    }

    static func apply(_ plan: ReconcilePlan, runID: Int64, now: Millis, db: Database) throws -> ApplyResult {
        var result = ApplyResult()
        let account = plan.account.rawValue, market = plan.market.rawValue
        let stamp = UTC.sqlDateTime(now)
        func perform(_ action: PlanAction) throws -> String {
            switch action {
            case .updateRow(let id, let readUpdatedAt, let u):
                // Only if the row still has the updated_at the decision saw (same transaction).
                guard let stored = try DatabaseValue.fetchOne(db, sql: "SELECT updated_at FROM open_orders WHERE id = ?", arguments: [id.rawValue]),
                    (try? Values.millis(stored, table: "open_orders", id: id.rawValue, column: "updated_at")) == readUpdatedAt
                else { return "skipped: row changed since read" }
                try db.execute(sql: """
                    UPDATE open_orders SET status = ?, filled_quantity = ?, quantity = ?, price = ?, stop_price = ?, updated_at = ?
                    WHERE id = ?
                    """, arguments: [u.status.rawValue, u.filledQuantity.doubleValue, u.quantity.doubleValue, u.price.doubleValue,
                                     u.stopPrice?.doubleValue, stamp, id.rawValue])
                return "applied"
            case .closeRow(let row, let status, let filled):
                try db.execute(sql: "DELETE FROM open_orders WHERE id = ? AND exchange_order_id = ?",
                               arguments: [row.id.rawValue, row.exchangeOrderID.rawValue])
                guard db.changesCount > 0 else { return "skipped: row already gone" }
                try db.execute(sql: """
                    INSERT INTO sync_order_history (open_order_id, strategy_account_id, account_id, market, exchange_order_id, symbol,
                        side, order_type, price, stop_price, quantity, filled_quantity, final_status, source, run_id, created_at, closed_at)
                    VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, 'reconcile', ?, ?, ?)
                    """, arguments: [row.id.rawValue, row.link.rawValue, account, market, row.exchangeOrderID.rawValue, row.symbol,
                                     row.side.rawValue, row.orderType.rawValue, row.price?.description, row.stopPrice?.description,
                                     row.quantity.description, filled.description, status.rawValue, runID, row.createdAt, now])
                try db.execute(sql: "DELETE FROM sync_misses WHERE account_id = ? AND market = ? AND exchange_order_id = ?",
                               arguments: [account, market, row.exchangeOrderID.rawValue])
                return "applied"
            case .adopt(let link, let o):
                guard let state = o.status.openState else { return "skipped: order not open" }
                try db.execute(sql: """
                    INSERT INTO open_orders (strategy_account_id, exchange_order_id, symbol, side, order_type, price, stop_price,
                        quantity, filled_quantity, status, market_type, created_at, updated_at)
                    VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
                    ON CONFLICT(exchange_order_id) DO NOTHING
                    """, arguments: [link.rawValue, o.id.rawValue, o.symbol, o.side.rawValue, o.type.rawValue, o.price.doubleValue,
                                     o.stopPrice?.doubleValue, o.quantity.doubleValue, o.executedQuantity.doubleValue, state.rawValue,
                                     market, UTC.sqlDateTime(o.time), stamp])
                return db.changesCount > 0 ? "applied" : "skipped: a row for this order appeared"
            case .recordMiss(let id, let count):
                try db.execute(sql: """
                    INSERT INTO sync_misses (account_id, market, exchange_order_id, misses, first_missed_at, last_missed_at)
                    VALUES (?, ?, ?, ?, ?, ?)
                    ON CONFLICT(account_id, market, exchange_order_id) DO UPDATE SET misses = excluded.misses, last_missed_at = excluded.last_missed_at
                    """, arguments: [account, market, id.rawValue, count, now, now])
                return "applied"
            case .clearMisses(let id):
                try db.execute(sql: "DELETE FROM sync_misses WHERE account_id = ? AND market = ? AND exchange_order_id = ?",
                               arguments: [account, market, id.rawValue])
                return "applied"
            case .registerOrphan(let o), .refreshOrphan(let o):
                try db.execute(sql: """
                    INSERT INTO sync_orphans (account_id, market, exchange_order_id, client_order_id, symbol, side, order_type, status,
                        price, stop_price, quantity, executed_quantity, order_time, first_seen_at, last_seen_at, times_seen)
                    VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, 1)
                    ON CONFLICT(account_id, market, exchange_order_id) DO UPDATE SET
                        client_order_id = excluded.client_order_id, status = excluded.status, price = excluded.price,
                        stop_price = excluded.stop_price, quantity = excluded.quantity, executed_quantity = excluded.executed_quantity,
                        last_seen_at = excluded.last_seen_at, times_seen = sync_orphans.times_seen + 1
                    """, arguments: [account, market, o.id.rawValue, o.clientOrderID, o.symbol, o.side.rawValue, o.type.rawValue,
                                     o.status.rawValue, o.price.description, o.stopPrice?.description, o.quantity.description,
                                     o.executedQuantity.description, o.time, now, now])
                return "applied"
            case .forgetOrphan(let id):
                try db.execute(sql: "DELETE FROM sync_orphans WHERE account_id = ? AND market = ? AND exchange_order_id = ?",
                               arguments: [account, market, id.rawValue])
                return "applied"
            }
        }
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys]
        for finding in plan.findings {
            var outcomes: [String] = []
            for action in finding.actions {
                let outcome = try perform(action)
                if outcome == "applied" { result.applied += 1 } else { result.skipped += 1; outcomes.append(outcome) }
            }
            guard finding.kind != .matched else { continue }
            let changes = finding.changes.isEmpty ? nil : String(decoding: try encoder.encode(finding.changes), as: UTF8.self)
            try db.execute(sql: """
                INSERT INTO sync_findings (run_id, account_id, market, kind, exchange_order_id, client_order_id, symbol, side,
                    strategy_account_id, open_order_id, detail, changes_json, outcome, created_at)
                VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
                """, arguments: [runID, account, market, finding.kind.rawValue, finding.exchangeOrderID?.rawValue, finding.clientOrderID,
                                 finding.symbol, finding.side?.rawValue, finding.link?.rawValue, finding.row?.rawValue, finding.detail,
                                 changes, outcomes.first ?? (finding.actions.isEmpty ? "none" : "applied"), now])
        }
        for action in plan.housekeeping { _ = try perform(action) }
        if plan.isCompleteSweep {
            try db.cachedStatement(sql: """
                INSERT INTO sync_sweeps (account_id, market, last_sweep_at, last_sweep_run) VALUES (?, ?, ?, ?)
                ON CONFLICT(account_id, market) DO UPDATE SET last_sweep_at = excluded.last_sweep_at, last_sweep_run = excluded.last_sweep_run
                """).execute(arguments: [account, market, now, runID])
        }
        return result
    }
}
