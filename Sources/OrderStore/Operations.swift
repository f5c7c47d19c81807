import Scenarios
import SyncCore

#if canImport(FoundationEssentials)
import FoundationEssentials
#else
import Foundation
#endif

/// Reading the origin app's loosely typed columns (floats, datetimes in two forms) into exact values.
enum Values {
    /// An amount from a FLOAT/NUMERIC/TEXT column; nil for NULL; throws for anything unreadable.
    static func amount(_ value: SQLValue, table: String, id: Int64, column: String) throws -> Amount? {
        switch value {
        case .null: return nil
        case .int(let i): return Amount(i)
        case .double(let d): if let a = Amount(d) { return a }
        case .text(let s): if let a = Amount(s) { return a }
        case .bool, .timestamp: break
        }
        throw StoreError.invalidValue(table: table, id: id, column: column, value: value.description)
    }

    /// A time from a DATETIME/TIMESTAMP column (SQLAlchemy's SQLite text, PostgreSQL's timestamp, or
    /// epoch seconds/ms); nil for NULL.
    static func optionalMillis(_ value: SQLValue, table: String, id: Int64, column: String) throws -> Millis? {
        switch value {
        case .null: return nil
        case .timestamp(let ms): return ms
        case .int(let i): return i < 100_000_000_000 ? i * 1000 : i
        case .double(let d): return d < 100_000_000_000 ? Millis(d * 1000) : Millis(d)
        case .text(let s): if let ms = UTC.parse(s) { return ms }
        case .bool: break
        }
        throw StoreError.invalidValue(table: table, id: id, column: column, value: value.description)
    }

    /// As `optionalMillis`, NULL reading as 0 (the epoch: as old as can be).
    static func millis(_ value: SQLValue, table: String, id: Int64, column: String) throws -> Millis {
        try optionalMillis(value, table: table, id: id, column: column) ?? 0
    }
}

extension OrderDatabase: ReconcileStore {
    // MARK: Loading a scenario

    /// Writes the DB side of a scenario (users, accounts, strategies, links, `open_orders`) in one
    /// transaction, every NOT NULL column of the origin's tables filled as its code fills it: all of
    /// it or, on any error, nothing. Errors name the item.
    public func load(_ scenario: Scenario, now: Millis) async throws {
        var statements: [(item: String, sql: String, arguments: [SQLValue])] = []
        func add(_ item: String, _ sql: String, _ arguments: [any SQLArgument]) {
            statements.append((item, sql, arguments.map(\.sqlValue)))
        }
        let stamp = Timestamp(now)
        for (i, u) in scenario.users.enumerated() {
            add(
                "users[\(i)]",
                """
                INSERT INTO users (id, username, password_hash, webhook_token, is_active, is_admin, must_change_password, created_at)
                VALUES (?, ?, ?, ?, ?, ?, ?, ?)
                """,
                [u.id.rawValue, u.username, "!fixture-no-login", u.webhookToken?.reveal(), u.isActive, false, false, stamp]
            )
        }
        for (i, a) in scenario.accounts.enumerated() {
            let stored = scenario.storage[a.id]
            add(
                "accounts[\(i)]",
                """
                INSERT INTO accounts (id, user_id, name, exchange, public_api, secret_api, is_testnet, is_active, account_type, created_at, updated_at)
                VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
                """,
                [
                    a.id.rawValue, a.user.rawValue, a.name, stored?.exchange ?? a.exchange, stored?.publicAPI ?? a.apiKey,
                    stored?.secretAPI ?? a.apiSecret.reveal(), a.isTestnet, a.isActive, "CRYPTO", stamp, stamp,
                ]
            )
        }
        for (i, s) in scenario.strategies.enumerated() {
            add(
                "strategies[\(i)]",
                """
                INSERT INTO strategies (id, user_id, name, group_name, market_type, is_active, is_public, created_at, updated_at)
                VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)
                """,
                [s.id.rawValue, s.user.rawValue, s.name, s.groupName, s.market.rawValue, s.isActive, s.isPublic, stamp, stamp]
            )
        }
        for (i, l) in scenario.links.enumerated() {
            add(
                "strategy_accounts[\(i)]",
                """
                INSERT INTO strategy_accounts (id, strategy_id, account_id, weight, leverage, is_active) VALUES (?, ?, ?, ?, ?, ?)
                """,
                [l.id.rawValue, l.strategy.rawValue, l.account.rawValue, l.weight, l.leverage, l.isActive]
            )
        }
        // Rows with an explicit id first; then PostgreSQL's sequences are moved past the ids used, so
        // rows without one (and the origin's next insert) take fresh ids.
        let ordered = scenario.dbOrders.enumerated().sorted { ($0.element.id == nil ? 1 : 0, $0.offset) < ($1.element.id == nil ? 1 : 0, $1.offset) }
        var sequencesAt = statements.count + ordered.filter { $0.element.id != nil }.count
        for (i, o) in ordered {
            let created = Timestamp(now - o.ageMs)
            var columns = [
                "strategy_account_id", "exchange_order_id", "symbol", "side", "order_type", "price", "stop_price", "quantity",
                "filled_quantity", "status", "market_type", "created_at", "updated_at", "is_processing", "processing_started_at",
                "cancel_attempted_at",
            ]
            var values: [any SQLArgument] = [
                o.link.rawValue, o.exchangeOrderID.rawValue, o.symbol, o.side.rawValue, o.orderType.rawValue,
                o.price?.doubleValue, o.stopPrice?.doubleValue, o.quantity.doubleValue, o.filledQuantity.doubleValue, o.status,
                o.marketText ?? o.market.rawValue, created, created, o.isProcessing, o.processingAgeMs.map { Timestamp(now - $0) },
                o.cancelAgeMs.map { Timestamp(now - $0) },
            ]
            if let id = o.id {
                columns.insert("id", at: 0)
                values.insert(id.rawValue, at: 0)
            }
            add(
                "db_orders[\(i)] (exchange_order_id \(o.exchangeOrderID))",
                "INSERT INTO open_orders (\(columns.joined(separator: ", "))) VALUES (\(placeholders(columns.count)))",
                values
            )
        }
        if ordered.allSatisfy({ $0.element.id != nil }) { sequencesAt = statements.count }
        // The origin's records of order ids, every NOT NULL column as its code fills it.
        let json = dialect == .postgres ? "CAST(? AS JSON)" : "?"
        for (i, r) in scenario.originRecords.enumerated() {
            let at = Timestamp(now - r.ageMs)
            let market = r.marketText ?? r.market.rawValue
            let item = "origin_records[\(i)] (\(r.table.rawValue) \(r.exchangeOrderID))"
            switch r.table {
            case .trades:
                add(
                    item,
                    """
                    INSERT INTO trades (strategy_account_id, exchange_order_id, symbol, side, order_type, order_price, price, quantity, timestamp, is_entry, market_type)
                    VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
                    """,
                    [
                        r.link.rawValue, r.exchangeOrderID, r.symbol, r.side.rawValue, r.orderType.rawValue, r.price?.doubleValue,
                        (r.price ?? .zero).doubleValue, r.quantity.doubleValue, at, true, market,
                    ]
                )
            case .tradeExecutions:
                add(
                    item,
                    """
                    INSERT INTO trade_executions (strategy_account_id, exchange_trade_id, exchange_order_id, symbol, side, execution_price,
                        execution_quantity, execution_time, market_type, created_at)
                    VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
                    """,
                    [
                        r.link.rawValue, "\(r.exchangeOrderID)-\(i)", r.exchangeOrderID, r.symbol, r.side.rawValue, (r.price ?? .zero).doubleValue,
                        r.quantity.doubleValue, at, market, at,
                    ]
                )
            case .orderFillEvents:
                add(
                    item,
                    """
                    INSERT INTO order_fill_events (account_id, strategy_account_id, exchange_order_id, symbol, side, order_type, filled_quantity,
                        average_price, status, event_time, processed, created_at)
                    VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
                    """,
                    [
                        r.account.rawValue, r.link.rawValue, r.exchangeOrderID, r.symbol, r.side.rawValue, r.orderType.rawValue,
                        r.quantity.doubleValue, r.price?.doubleValue, "PARTIALLY_FILLED", at, false, at,
                    ]
                )
            case .failedOrders:
                let params = #"{"symbol": "\#(r.symbol)", "side": "\#(r.side.rawValue)", "order_id": "\#(r.exchangeOrderID)"}"#
                add(
                    item,
                    """
                    INSERT INTO failed_orders (strategy_account_id, symbol, side, order_type, quantity, price, market_type, reason, exchange_error,
                        order_params, operation_type, original_order_id, status, retry_count, created_at, updated_at)
                    VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, \(json), ?, ?, ?, ?, ?, ?)
                    """,
                    [
                        r.link.rawValue, r.symbol, r.side.rawValue, r.orderType.rawValue, r.quantity.doubleValue, r.price?.doubleValue, market,
                        r.operationType == "CANCEL" ? "cancel failed" : "create failed", "timeout", params, r.operationType,
                        r.operationType == "CANCEL" ? r.exchangeOrderID : nil, "pending_retry", 0, at, at,
                    ]
                )
            }
        }
        let list = statements
        try await backend.write { conn in
            for (n, s) in list.enumerated() {
                if n == sequencesAt { try await Self.advanceSequences(conn) }
                do {
                    try await conn.execute(s.sql, s.arguments)
                } catch let error as StoreError {
                    throw StoreError.loadRejected(item: s.item, message: error.description)
                }
            }
            if sequencesAt >= list.count { try await Self.advanceSequences(conn) }
        }
    }

    /// After rows with explicit ids, PostgreSQL's sequences must move past them so the origin's next
    /// insert does not collide (SQLite needs nothing).
    static func advanceSequences(_ conn: any SQLConnection) async throws {
        guard conn.dialect == .postgres else { return }
        for table in ["users", "accounts", "strategies", "strategy_accounts", "open_orders"] {
            try await conn.execute("SELECT setval(pg_get_serial_sequence('\(table)', 'id'), COALESCE((SELECT max(id) FROM \(table)), 0) + 1, false)")
        }
    }

    // MARK: Reading

    /// Every account, ordered by id (`exchange` upper-cased: the origin's UI stores `binance`).
    public func accounts() async throws -> [AccountRecord] {
        try await backend.read { conn in
            try await conn.query("SELECT id, user_id, name, exchange, public_api, secret_api, is_testnet, is_active FROM accounts ORDER BY id").map {
                r in
                AccountRecord(
                    id: AccountID(r.int(0) ?? 0),
                    user: UserID(r.int(1) ?? 0),
                    name: r.text(2) ?? "",
                    exchange: (r.text(3) ?? "").uppercased(),
                    apiKey: r.text(4) ?? "",
                    apiSecret: Secret(r.text(5) ?? ""),
                    isTestnet: r.bool(6) ?? false,
                    isActive: r.bool(7) ?? false
                )
            }
        }
    }

    /// Every strategy link (with its strategy's market and activity), ordered by id.
    public func strategyLinks() async throws -> [StrategyLink] {
        try await backend.read { try await Self.fetchLinks($0, account: nil) }
    }

    static let linkSelect = """
        SELECT sa.id, sa.strategy_id, sa.account_id, sa.is_active, s.is_active, s.market_type, s.group_name
        FROM strategy_accounts sa JOIN strategies s ON s.id = sa.strategy_id
        """

    static func decodeLink(_ r: SQLRow) throws -> StrategyLink {
        let text = r.text(5) ?? ""
        guard let market = Market(stored: text) else {
            throw StoreError.invalidValue(table: "strategies", id: r.int(1) ?? 0, column: "market_type", value: text)
        }
        return StrategyLink(
            id: StrategyLinkID(r.int(0) ?? 0),
            strategy: StrategyID(r.int(1) ?? 0),
            account: AccountID(r.int(2) ?? 0),
            market: market,
            isActive: (r.bool(3) ?? false) && (r.bool(4) ?? false),
            groupName: r.text(6) ?? ""
        )
    }

    static func fetchLinks(_ conn: any SQLConnection, account: AccountID?) async throws -> [StrategyLink] {
        var sql = linkSelect
        var arguments: [any SQLArgument] = []
        if let account {
            sql += " WHERE sa.account_id = ?"
            arguments = [account.rawValue]
        }
        sql += " ORDER BY sa.id"
        return try await conn.query(sql, arguments).map(decodeLink)
    }

    /// The columns `decodeRow` reads, from `open_orders o` joined to its link `sa` and strategy `s`.
    static let rowColumns = """
        SELECT o.id, o.strategy_account_id, o.exchange_order_id, o.symbol, o.side, o.order_type, o.price, o.stop_price,
               o.quantity, o.filled_quantity, o.status, o.market_type, o.created_at, o.updated_at, s.market_type,
               o.is_processing, o.processing_started_at, o.cancel_attempted_at
        FROM open_orders o
        JOIN strategy_accounts sa ON sa.id = o.strategy_account_id
        JOIN strategies s ON s.id = sa.strategy_id
        """

    /// Rows that may describe a resting order: not `FAILED` (the origin keeps those forever) nor a
    /// terminal status it left in the table.
    static let rowSelect =
        rowColumns + """
             WHERE UPPER(o.status) NOT IN (\(OriginRules.finishedStatuses.sorted().map { "'\($0)'" }.joined(separator: ", ")))
            """

    /// Decodes a row of `rowSelect` by column position.
    static func decodeRow(_ r: SQLRow) throws -> OpenOrderRow {
        let id = r.int(0) ?? 0
        func amount(_ index: Int, _ column: String) throws -> Amount? {
            try Values.amount(r[index], table: "open_orders", id: id, column: column)
        }
        func time(_ index: Int, _ column: String) throws -> Millis? {
            try Values.optionalMillis(r[index], table: "open_orders", id: id, column: column)
        }
        let sideText = r.text(4) ?? ""
        guard let side = Side(parsing: sideText) else {
            throw StoreError.invalidValue(table: "open_orders", id: id, column: "side", value: sideText)
        }
        // The row's own market (any case); the strategy's when the row has none (never the account's "first").
        let marketText = r.text(11)
        guard let market = marketText.flatMap(Market.init(stored:)) ?? r.text(14).flatMap(Market.init(stored:)) else {
            throw StoreError.invalidValue(table: "open_orders", id: id, column: "market_type", value: marketText ?? "NULL")
        }
        guard let quantity = try amount(8, "quantity") else {
            throw StoreError.invalidValue(table: "open_orders", id: id, column: "quantity", value: "NULL")
        }
        return OpenOrderRow(
            id: OpenOrderRowID(id),
            link: StrategyLinkID(r.int(1) ?? 0),
            exchangeOrderID: ExchangeOrderID(r.text(2) ?? ""),
            symbol: r.text(3) ?? "",
            side: side,
            orderType: OrderType(r.text(5) ?? "LIMIT"),
            price: try amount(6, "price"),
            stopPrice: try amount(7, "stop_price"),
            quantity: quantity,
            filledQuantity: try amount(9, "filled_quantity") ?? .zero,
            status: r.text(10) ?? "",
            market: market,
            createdAt: try time(12, "created_at") ?? 0,
            updatedAt: try time(13, "updated_at") ?? 0,
            marketText: marketText ?? market.rawValue,
            isProcessing: r.bool(15) ?? false,
            processingStartedAt: try time(16, "processing_started_at"),
            cancelAttemptedAt: try time(17, "cancel_attempted_at")
        )
    }

    /// Every `open_orders` row that may describe a resting order, ordered by id.
    public func openOrders() async throws -> [OpenOrderRow] {
        try await backend.read { try await $0.query(Self.rowSelect + " ORDER BY o.id").map(Self.decodeRow) }
    }

    /// The rows of the given strategy links (for cancel selection), ordered by id.
    public func openOrders(links: Set<StrategyLinkID>) async throws -> [OpenOrderRow] {
        guard !links.isEmpty else { return [] }
        let ids = links.map(\.rawValue).sorted()
        return try await backend.read { conn in
            var rows: [OpenOrderRow] = []
            for chunk in stride(from: 0, to: ids.count, by: 500).map({ Array(ids[$0..<min($0 + 500, ids.count)]) }) {
                rows += try await conn.query(Self.rowSelect + " AND o.strategy_account_id IN (\(placeholders(chunk.count)))", chunk)
                    .map(Self.decodeRow)
            }
            return rows.sorted { $0.id < $1.id }
        }
    }

    public func accountMarkets() async throws -> [AccountID: Set<Market>] {
        try await backend.read { conn in
            var markets: [AccountID: Set<Market>] = [:]
            for r in try await conn.query(
                "SELECT DISTINCT sa.account_id, s.market_type FROM strategy_accounts sa JOIN strategies s ON s.id = sa.strategy_id"
            ) {
                if let market = Market(stored: r.text(1) ?? "") { markets[AccountID(r.int(0) ?? 0), default: []].insert(market) }
            }
            return markets
        }
    }

    /// Everything the decision for one account needs. Under the account's lock nothing else of
    /// ordersync's writes this account's `sync_` rows, so the reads need no common snapshot.
    public func accountSnapshot(_ account: AccountID) async throws -> AccountSnapshot {
        try await backend.read { conn in
            let id = account.rawValue
            // One batch: a single access on SQLite, one connection on PostgreSQL.
            let results = try await conn.batch([
                SQLQuery(Self.rowSelect + " AND sa.account_id = ? ORDER BY o.id", [id]),
                SQLQuery(Self.linkSelect + " WHERE sa.account_id = ? ORDER BY sa.id", [id]),
                SQLQuery(
                    """
                    SELECT account_id, market, exchange_order_id, client_order_id, symbol, side, order_type, status, price, stop_price,
                           quantity, executed_quantity, order_time, first_seen_at, last_seen_at, times_seen
                    FROM sync_orphans WHERE account_id = ?
                    """,
                    [id]
                ),
                SQLQuery("SELECT exchange_order_id, misses FROM sync_misses WHERE account_id = ?", [id]),
                SQLQuery("SELECT market, last_sweep_run FROM sync_sweeps WHERE account_id = ?", [id]),
            ])
            let rows = try results[0].map(Self.decodeRow)
            let links = try results[1].map(Self.decodeLink)
            let orphans = results[2].compactMap(Self.decodeOrphan)
            var misses: [ExchangeOrderID: Int] = [:]
            for r in results[3] { misses[ExchangeOrderID(r.text(0) ?? "")] = Int(r.int(1) ?? 0) }
            var sweeps: [Market: Int64] = [:]
            for r in results[4] {
                if let market = Market(stored: r.text(0) ?? "") { sweeps[market] = r.int(1) }
            }
            return AccountSnapshot(account: account, rows: rows, links: links, orphans: orphans, misses: misses, lastSweepRun: sweeps)
        }
    }

    static func decodeOrphan(_ r: SQLRow) -> OrphanRecord? {
        guard let market = Market(stored: r.text(1) ?? ""), let side = Side(parsing: r.text(5) ?? ""),
            let status = ExchangeOrderStatus(rawValue: r.text(7) ?? ""), let price = Amount(r.text(8) ?? ""),
            let quantity = Amount(r.text(10) ?? ""), let executed = Amount(r.text(11) ?? "")
        else { return nil }
        let order = ExchangeOrder(
            id: ExchangeOrderID(r.text(2) ?? ""),
            clientOrderID: r.text(3),
            symbol: r.text(4) ?? "",
            side: side,
            type: OrderType(r.text(6) ?? ""),
            status: status,
            price: price,
            stopPrice: r.text(9).flatMap(Amount.init),
            quantity: quantity,
            executedQuantity: executed,
            time: r.int(12) ?? 0
        )
        return OrphanRecord(
            account: AccountID(r.int(0) ?? 0),
            market: market,
            order: order,
            firstSeen: r.int(13) ?? 0,
            lastSeen: r.int(14) ?? 0,
            timesSeen: Int(r.int(15) ?? 0)
        )
    }

    // MARK: The origin's evidence

    /// The origin's records of the requested order ids (one statement over every evidence table,
    /// 200 ids at a time) and the account's placeholder rows created in the range (one statement),
    /// read together: one access on SQLite, one connection on PostgreSQL. Read only.
    public func originEvidence(_ request: EvidenceRequest) async throws -> OriginEvidence {
        var queries: [SQLQuery] = []
        let tables = evidenceTables
        if !tables.isEmpty {
            for start in stride(from: 0, to: request.orderIDs.count, by: 200) {
                let chunk = Array(request.orderIDs[start..<min(start + 200, request.orderIDs.count)])
                let list = placeholders(chunk.count)
                var parts: [String] = []
                var arguments: [any SQLArgument] = []
                for table in OriginRecord.Table.allCases where tables.contains(table) {
                    parts.append(Self.recordSelect(table, list: list))
                    arguments += chunk
                }
                queries.append(SQLQuery(parts.joined(separator: " UNION ALL "), arguments))
            }
        }
        let recordStatements = queries.count
        queries.append(
            SQLQuery(
                Self.rowColumns + """
                     WHERE sa.account_id = ? AND o.exchange_order_id LIKE 'PENDING-%' AND UPPER(o.status) IN ('PENDING', 'FAILED')
                        AND o.created_at >= ? AND o.created_at <= ?
                    ORDER BY o.id
                    """,
                [request.account.rawValue, Timestamp(request.placeholdersCreated.lowerBound), Timestamp(request.placeholdersCreated.upperBound)]
            )
        )
        let batch = queries
        let results = try await backend.read { try await $0.batch(batch) }
        var evidence = OriginEvidence(statements: batch.count)
        for rows in results.prefix(recordStatements) {
            for r in rows {
                guard let table = OriginRecord.Table(rawValue: r.text(0) ?? ""), let link = r.int(2), let id = r.text(3) else { continue }
                evidence.records.append(
                    OriginRecord(
                        table: table,
                        id: r.int(1) ?? 0,
                        exchangeOrderID: id,
                        link: StrategyLinkID(link),
                        symbol: r.text(4),
                        marketText: r.text(5)
                    )
                )
            }
        }
        evidence.placeholders = try results[recordStatements].map(Self.decodeRow)
        return evidence
    }

    /// One evidence table's part of the records statement: (table, id, link, order id, symbol, market).
    static func recordSelect(_ table: OriginRecord.Table, list: String) -> String {
        switch table {
        case .trades, .tradeExecutions:
            return "SELECT '\(table.rawValue)', id, strategy_account_id, exchange_order_id, symbol, market_type FROM \(table.rawValue) "
                + "WHERE exchange_order_id IN (\(list)) AND strategy_account_id IS NOT NULL"
        case .orderFillEvents:
            return "SELECT 'order_fill_events', id, strategy_account_id, exchange_order_id, symbol, CAST(NULL AS VARCHAR(10)) FROM order_fill_events "
                + "WHERE exchange_order_id IN (\(list))"
        case .failedOrders:
            return "SELECT 'failed_orders', id, strategy_account_id, original_order_id, symbol, market_type FROM failed_orders "
                + "WHERE original_order_id IN (\(list))"
        }
    }

    // MARK: Runs and plans

    /// Starts a run record; returns its id.
    public func beginRun(trigger: String, now: Millis) async throws -> Int64 {
        try await backend.write { conn in
            let rows = try await conn.query("INSERT INTO sync_runs (trigger, started_at) VALUES (?, ?) RETURNING id", [trigger, now])
            guard let id = rows.first?.int(0) else { throw StoreError.database("sync_runs: no id returned") }
            return id
        }
    }

    /// Closes a run record with its totals.
    public func finishRun(_ id: Int64, report: DriftReport) async throws {
        let totals = String(decoding: try JSONEncoder().encode(report.totals), as: UTF8.self)
        try await backend.write { conn in
            try await conn.execute(
                "UPDATE sync_runs SET finished_at = ?, status = ?, sections = ?, totals_json = ? WHERE id = ?",
                [report.finishedAt, report.errorCount == 0 ? "ok" : "errors", report.sections.count, totals, id]
            )
        }
    }

    /// Applies one account-market plan and records its findings (all but `matched`), in one
    /// transaction.
    public func apply(_ plan: ReconcilePlan, runID: Int64, now: Millis) async throws -> ApplyResult {
        // A quiet per-symbol pass (everything matched, nothing to do or record) writes nothing.
        if !plan.isCompleteSweep && plan.housekeeping.isEmpty && plan.findings.allSatisfy({ $0.kind == .matched && $0.actions.isEmpty }) {
            return ApplyResult()
        }
        return try await backend.write { conn in try await Self.apply(plan, runID: runID, now: now, conn: conn) }
    }

    /// A row leaves `open_orders` into `sync_order_history`: only if it still names the order and
    /// the origin does not hold it. Returns whether it left.
    static func close(
        _ row: OpenOrderRow,
        account: AccountID,
        finalStatus: String,
        filled: Amount,
        source: String,
        runID: Int64?,
        now: Millis,
        conn: any SQLConnection
    ) async throws -> Bool {
        let deleted = try await conn.query(
            """
            DELETE FROM open_orders WHERE id = ? AND exchange_order_id = ?
                AND (is_processing = ? OR processing_started_at < ?)
            RETURNING id
            """,
            [row.id.rawValue, row.exchangeOrderID.rawValue, false, Timestamp(now - OriginRules.staleProcessingLock)]
        )
        guard !deleted.isEmpty else { return false }
        try await conn.execute(
            """
            INSERT INTO sync_order_history (open_order_id, strategy_account_id, account_id, market, exchange_order_id, symbol,
                side, order_type, price, stop_price, quantity, filled_quantity, final_status, source, run_id, created_at, closed_at)
            VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
            """,
            [
                row.id.rawValue, row.link.rawValue, account.rawValue, row.market.rawValue, row.exchangeOrderID.rawValue, row.symbol,
                row.side.rawValue, row.orderType.rawValue, row.price?.description, row.stopPrice?.description,
                row.quantity.description, filled.description, finalStatus, source, runID, row.createdAt, now,
            ]
        )
        try await conn.execute(
            "DELETE FROM sync_misses WHERE account_id = ? AND market = ? AND exchange_order_id = ?",
            [account.rawValue, row.market.rawValue, row.exchangeOrderID.rawValue]
        )
        return true
    }

    static func apply(_ plan: ReconcilePlan, runID: Int64, now: Millis, conn: any SQLConnection) async throws -> ApplyResult {
        var result = ApplyResult()
        let account = plan.account.rawValue
        let market = plan.market.rawValue
        let stamp = Timestamp(now)
        func perform(_ action: PlanAction) async throws -> String {
            switch action {
            case .updateRow(let id, let readUpdatedAt, let u):
                // Only if the row still has the updated_at the decision saw and the origin does not hold it.
                guard
                    let stored = try await conn.query(
                        "SELECT updated_at, is_processing, processing_started_at FROM open_orders WHERE id = ?" + conn.dialect.forUpdate,
                        [id.rawValue]
                    ).first
                else { return "skipped: row already gone" }
                guard (try? Values.millis(stored[0], table: "open_orders", id: id.rawValue, column: "updated_at")) == readUpdatedAt else {
                    return "skipped: row changed since read"
                }
                if stored.bool(1) == true {
                    let started = try? Values.optionalMillis(stored[2], table: "open_orders", id: id.rawValue, column: "processing_started_at")
                    if started.flatMap({ $0 }).map({ now - $0 < OriginRules.staleProcessingLock }) ?? true { return "skipped: held by the origin" }
                }
                try await conn.execute(
                    """
                    UPDATE open_orders SET status = COALESCE(?, status), filled_quantity = ?, quantity = ?, price = ?, stop_price = ?, updated_at = ?
                    WHERE id = ?
                    """,
                    [
                        u.status?.rawValue, u.filledQuantity.doubleValue, u.quantity.doubleValue, u.price.doubleValue,
                        u.stopPrice?.doubleValue, stamp, id.rawValue,
                    ]
                )
                return "applied"
            case .closeRow(let row, let status, let filled):
                let closed = try await close(
                    row,
                    account: plan.account,
                    finalStatus: status.rawValue,
                    filled: filled,
                    source: "reconcile",
                    runID: runID,
                    now: now,
                    conn: conn
                )
                return closed ? "applied" : "skipped: row gone or held by the origin"
            case .adopt(let a):
                let o = a.order
                guard let state = o.status.openState else { return "skipped: order not open" }
                // Every NOT NULL column, with the origin's own defaults (is_processing false; webhook_received_at
                // NULL as on its single-order path).
                let inserted = try await conn.query(
                    """
                    INSERT INTO open_orders (strategy_account_id, exchange_order_id, symbol, side, order_type, price, stop_price,
                        quantity, filled_quantity, status, market_type, created_at, updated_at, is_processing)
                    VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
                    ON CONFLICT (exchange_order_id) DO NOTHING
                    RETURNING id
                    """,
                    [
                        a.link.rawValue, o.id.rawValue, a.symbol, o.side.rawValue, a.orderType.rawValue,
                        o.price.isZero && a.orderType == .market ? nil : o.price.doubleValue, o.stopPrice?.doubleValue,
                        o.quantity.doubleValue, o.executedQuantity.doubleValue, state.rawValue, a.marketText,
                        Timestamp(o.time), stamp, false,
                    ]
                )
                return inserted.isEmpty ? "skipped: a row for this order appeared" : "applied"
            case .repairPlaceholder(let r):
                // Only while the row still has its placeholder id and the status it was read with (the
                // origin may be changing it now), the origin does not hold it, and no row has the real id.
                let o = r.order
                let changed = try await conn.query(
                    """
                    UPDATE open_orders SET exchange_order_id = ?, status = ?, filled_quantity = ?, updated_at = ?
                    WHERE id = ? AND exchange_order_id = ? AND status = ? AND (is_processing = ? OR processing_started_at < ?)
                        AND NOT EXISTS (SELECT 1 FROM open_orders other WHERE other.exchange_order_id = ?)
                    RETURNING id
                    """,
                    [
                        o.id.rawValue, r.status.rawValue, o.executedQuantity.doubleValue, stamp, r.row.rawValue,
                        r.placeholderID.rawValue, r.readStatus, false, Timestamp(now - OriginRules.staleProcessingLock), o.id.rawValue,
                    ]
                )
                return changed.isEmpty ? "skipped: placeholder row changed since read" : "applied"
            case .recordMiss(let id, let count):
                try await conn.execute(
                    """
                    INSERT INTO sync_misses (account_id, market, exchange_order_id, misses, first_missed_at, last_missed_at)
                    VALUES (?, ?, ?, ?, ?, ?)
                    ON CONFLICT (account_id, market, exchange_order_id) DO UPDATE SET misses = excluded.misses, last_missed_at = excluded.last_missed_at
                    """,
                    [account, market, id.rawValue, count, now, now]
                )
                return "applied"
            case .clearMisses(let id):
                try await conn.execute(
                    "DELETE FROM sync_misses WHERE account_id = ? AND market = ? AND exchange_order_id = ?",
                    [account, market, id.rawValue]
                )
                return "applied"
            case .registerOrphan(let o), .refreshOrphan(let o):
                try await conn.execute(
                    """
                    INSERT INTO sync_orphans (account_id, market, exchange_order_id, client_order_id, symbol, side, order_type, status,
                        price, stop_price, quantity, executed_quantity, order_time, first_seen_at, last_seen_at, times_seen)
                    VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, 1)
                    ON CONFLICT (account_id, market, exchange_order_id) DO UPDATE SET
                        client_order_id = excluded.client_order_id, status = excluded.status, price = excluded.price,
                        stop_price = excluded.stop_price, quantity = excluded.quantity, executed_quantity = excluded.executed_quantity,
                        last_seen_at = excluded.last_seen_at, times_seen = sync_orphans.times_seen + 1
                    """,
                    [
                        account, market, o.id.rawValue, o.clientOrderID, o.symbol, o.side.rawValue, o.type.rawValue,
                        o.status.rawValue, o.price.description, o.stopPrice?.description, o.quantity.description,
                        o.executedQuantity.description, o.time, now, now,
                    ]
                )
                return "applied"
            case .forgetOrphan(let id):
                try await conn.execute(
                    "DELETE FROM sync_orphans WHERE account_id = ? AND market = ? AND exchange_order_id = ?",
                    [account, market, id.rawValue]
                )
                return "applied"
            }
        }
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys]
        for finding in plan.findings {
            var outcomes: [String] = []
            for action in finding.actions {
                let outcome = try await perform(action)
                if outcome == "applied" {
                    result.applied += 1
                } else {
                    result.skipped += 1
                    outcomes.append(outcome)
                }
            }
            guard finding.kind != .matched else { continue }
            let changes = finding.changes.isEmpty ? nil : String(decoding: try encoder.encode(finding.changes), as: UTF8.self)
            try await conn.execute(
                """
                INSERT INTO sync_findings (run_id, account_id, market, kind, exchange_order_id, client_order_id, symbol, side,
                    strategy_account_id, open_order_id, detail, changes_json, outcome, created_at, evidence)
                VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
                """,
                [
                    runID, account, market, finding.kind.rawValue, finding.exchangeOrderID?.rawValue, finding.clientOrderID,
                    finding.symbol, finding.side?.rawValue, finding.link?.rawValue, finding.row?.rawValue, finding.detail,
                    changes, outcomes.first ?? (finding.actions.isEmpty ? "none" : "applied"), now, finding.evidence,
                ]
            )
        }
        for action in plan.housekeeping { _ = try await perform(action) }
        if plan.isCompleteSweep {
            try await conn.execute(
                """
                INSERT INTO sync_sweeps (account_id, market, last_sweep_at, last_sweep_run) VALUES (?, ?, ?, ?)
                ON CONFLICT (account_id, market) DO UPDATE SET last_sweep_at = excluded.last_sweep_at, last_sweep_run = excluded.last_sweep_run
                """,
                [account, market, now, runID]
            )
        }
        return result
    }
}
