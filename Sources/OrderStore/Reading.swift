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

/// What a pass and a cancel read: accounts, links, rows, snapshots, the orphan registry.
extension OrderDatabase: ReconcileStore {
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
        try await snapshot(account, orders: nil)
    }

    /// What an event's decision needs: the rows of these orders alone, found by `exchange_order_id`
    /// (unique in the origin's schema, so an index lookup where the account's rows would be a scan
    /// of `open_orders` without the optional index on `strategy_account_id`), with their orphans
    /// and miss counts, and the account's links. No sweep runs (an event records no sweep).
    public func orderSnapshot(_ account: AccountID, orders: [ExchangeOrderID]) async throws -> AccountSnapshot {
        guard !orders.isEmpty else { return try await accountSnapshot(account).only([]) }
        return try await snapshot(account, orders: orders.map(\.rawValue))
    }

    /// The snapshot of the account, or of the named orders on it.
    func snapshot(_ account: AccountID, orders: [String]?) async throws -> AccountSnapshot {
        try await backend.read { conn in
            let id = account.rawValue
            func only(_ column: String) -> String { orders.map { " AND \(column) IN (\(placeholders($0.count)))" } ?? "" }
            let named: [any SQLArgument] = [id] + (orders ?? [])
            // One batch: a single access on SQLite, one connection on PostgreSQL.
            let results = try await conn.batch([
                // Sorted here, not by the database: a temporary B-tree per account was an eighth of the query.
                SQLQuery(Self.rowSelect + " AND sa.account_id = ?" + only("o.exchange_order_id"), named),
                SQLQuery(Self.linkSelect + " WHERE sa.account_id = ? ORDER BY sa.id", [id]),
                // ordersync's own three tables in one statement (each a round trip on PostgreSQL):
                // an orphan's columns as `decodeOrphan` reads them, a miss's count and a sweep's run
                // in the last numeric column, the table named in the last.
                SQLQuery(
                    """
                    SELECT account_id, market, exchange_order_id, client_order_id, symbol, side, order_type, status, price, stop_price,
                           quantity, executed_quantity, order_time, first_seen_at, last_seen_at, times_seen, 'orphan' AS source
                    FROM sync_orphans WHERE account_id = ?\(only("exchange_order_id"))
                    UNION ALL
                    SELECT account_id, market, exchange_order_id, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL,
                           misses, 'miss'
                    FROM sync_misses WHERE account_id = ?\(only("exchange_order_id"))
                    UNION ALL
                    SELECT account_id, market, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL,
                           last_sweep_run, 'sweep'
                    FROM sync_sweeps WHERE account_id = ?\(orders == nil ? "" : " AND 0 = 1")
                    """,
                    named + named + [id]
                ),
            ])
            let rows = try results[0].map(Self.decodeRow).sorted { $0.id.rawValue < $1.id.rawValue }
            let links = try results[1].map(Self.decodeLink)
            var orphans: [OrphanRecord] = []
            var misses: [ExchangeOrderID: Int] = [:]
            var sweeps: [Market: Int64] = [:]
            for r in results[2] {
                switch r.text(16) {
                case "orphan": if let orphan = Self.decodeOrphan(r) { orphans.append(orphan) }
                case "miss": misses[ExchangeOrderID(r.text(2) ?? "")] = Int(r.int(15) ?? 0)
                default: if let market = Market(stored: r.text(1) ?? "") { sweeps[market] = r.int(15) }
                }
            }
            return AccountSnapshot(account: account, rows: rows, links: links, orphans: orphans, misses: misses, lastSweepRun: sweeps)
        }
    }

    static func decodeOrphan(_ r: SQLRow) -> OrphanRecord? {
        guard let market = Market(stored: r.text(1) ?? ""), let side = Side(parsing: r.text(5) ?? ""),
            let statusText = r.text(7), let price = Amount(r.text(8) ?? ""),
            let quantity = Amount(r.text(10) ?? ""), let executed = Amount(r.text(11) ?? "")
        else { return nil }
        // The registry holds open orders only, with the venue's word for their status.
        let status = ExchangeOrderStatus.resting(venueText: statusText, executed: executed)
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
}
