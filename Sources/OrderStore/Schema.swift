import SyncCore

#if canImport(FoundationEssentials)
import FoundationEssentials
#else
import Foundation
#endif

/// The schema: the origin app's tables (created exactly as its models do on an empty database,
/// otherwise checked and never altered) and ordersync's own `sync_` tables, with its migrations
/// recorded in `sync_migrations`. One list of statements serves both backends; the few
/// differences are `SQLDialect`'s.
enum Schema {
    /// The columns ordersync reads or writes, per origin table.
    static let required: [(table: String, columns: [String])] = [
        ("users", ["id", "username", "webhook_token", "is_active"]),
        ("accounts", ["id", "user_id", "name", "exchange", "public_api", "secret_api", "is_testnet", "is_active"]),
        ("strategies", ["id", "user_id", "name", "group_name", "market_type", "is_active", "is_public"]),
        ("strategy_accounts", ["id", "strategy_id", "account_id", "is_active"]),
        (
            "open_orders",
            [
                "id", "strategy_account_id", "exchange_order_id", "symbol", "side", "order_type", "price", "stop_price",
                "quantity", "filled_quantity", "status", "market_type", "created_at", "updated_at", "is_processing",
                "processing_started_at", "cancel_attempted_at",
            ]
        ),
    ]

    /// The `open_orders` columns an adopted row is written with (every other column must be nullable).
    static let insertedOpenOrderColumns: Set<String> = [
        "id", "strategy_account_id", "exchange_order_id", "symbol", "side", "order_type", "price", "stop_price", "quantity",
        "filled_quantity", "status", "market_type", "created_at", "updated_at", "is_processing",
    ]

    /// ordersync's tables. `{pk}` is the dialect's auto-increment key; integers are BIGINT (ms epochs).
    static let syncTables = [
        """
        CREATE TABLE IF NOT EXISTS sync_runs (
            id {pk},
            trigger TEXT NOT NULL,
            started_at BIGINT NOT NULL,
            finished_at BIGINT,
            status TEXT NOT NULL DEFAULT 'running' CHECK (status IN ('running', 'ok', 'errors')),
            sections BIGINT NOT NULL DEFAULT 0,
            totals_json TEXT
        )
        """,
        """
        CREATE TABLE IF NOT EXISTS sync_findings (
            id {pk},
            run_id BIGINT NOT NULL REFERENCES sync_runs(id) ON DELETE CASCADE,
            account_id BIGINT NOT NULL,
            market TEXT NOT NULL,
            kind TEXT NOT NULL,
            exchange_order_id TEXT,
            client_order_id TEXT,
            symbol TEXT,
            side TEXT,
            strategy_account_id BIGINT,
            open_order_id BIGINT,
            detail TEXT NOT NULL,
            changes_json TEXT,
            outcome TEXT NOT NULL,
            created_at BIGINT NOT NULL
        )
        """,
        "CREATE INDEX IF NOT EXISTS sync_findings_run ON sync_findings(run_id)",
        "CREATE INDEX IF NOT EXISTS sync_findings_order ON sync_findings(exchange_order_id)",
        """
        CREATE TABLE IF NOT EXISTS sync_orphans (
            account_id BIGINT NOT NULL,
            market TEXT NOT NULL,
            exchange_order_id TEXT NOT NULL,
            client_order_id TEXT,
            symbol TEXT NOT NULL,
            side TEXT NOT NULL,
            order_type TEXT NOT NULL,
            status TEXT NOT NULL,
            price TEXT NOT NULL,
            stop_price TEXT,
            quantity TEXT NOT NULL,
            executed_quantity TEXT NOT NULL,
            order_time BIGINT NOT NULL,
            first_seen_at BIGINT NOT NULL,
            last_seen_at BIGINT NOT NULL,
            times_seen BIGINT NOT NULL CHECK (times_seen > 0),
            PRIMARY KEY (account_id, market, exchange_order_id)
        )
        """,
        """
        CREATE TABLE IF NOT EXISTS sync_misses (
            account_id BIGINT NOT NULL,
            market TEXT NOT NULL,
            exchange_order_id TEXT NOT NULL,
            misses BIGINT NOT NULL CHECK (misses > 0),
            first_missed_at BIGINT NOT NULL,
            last_missed_at BIGINT NOT NULL,
            PRIMARY KEY (account_id, market, exchange_order_id)
        )
        """,
        """
        CREATE TABLE IF NOT EXISTS sync_cancel_intents (
            id {pk},
            request_id TEXT NOT NULL,
            strategy_account_id BIGINT NOT NULL,
            account_id BIGINT NOT NULL,
            market TEXT NOT NULL,
            open_order_id BIGINT NOT NULL,
            exchange_order_id TEXT NOT NULL,
            symbol TEXT NOT NULL,
            state TEXT NOT NULL DEFAULT 'pending'
                CHECK (state IN ('pending', 'sent', 'cancelled', 'closed', 'failed', 'unknown')),
            final_status TEXT,
            reason TEXT,
            created_at BIGINT NOT NULL,
            resolved_at BIGINT
        )
        """,
        "CREATE INDEX IF NOT EXISTS sync_cancel_intents_unresolved ON sync_cancel_intents(state) WHERE state IN ('pending', 'sent', 'unknown')",
        "CREATE INDEX IF NOT EXISTS sync_cancel_intents_request ON sync_cancel_intents(request_id, open_order_id)",
        """
        CREATE TABLE IF NOT EXISTS sync_order_history (
            id {pk},
            open_order_id BIGINT NOT NULL,
            strategy_account_id BIGINT NOT NULL,
            account_id BIGINT NOT NULL,
            market TEXT NOT NULL,
            exchange_order_id TEXT NOT NULL,
            symbol TEXT NOT NULL,
            side TEXT NOT NULL,
            order_type TEXT NOT NULL,
            price TEXT,
            stop_price TEXT,
            quantity TEXT NOT NULL,
            filled_quantity TEXT NOT NULL,
            final_status TEXT NOT NULL,
            source TEXT NOT NULL CHECK (source IN ('reconcile', 'cancel')),
            run_id BIGINT REFERENCES sync_runs(id) ON DELETE SET NULL,
            created_at BIGINT,
            closed_at BIGINT NOT NULL
        )
        """,
        "CREATE INDEX IF NOT EXISTS sync_order_history_order ON sync_order_history(exchange_order_id)",
    ]

    /// Indexes on the origin's tables that large installations want (a pass reads one account's rows
    /// by strategy link, and the origin's records of orphans' ids). Never created unless asked
    /// (`ordersync migrate --add-indexes`).
    static let originIndexes: [(name: String, table: String, columns: String)] = [
        ("sync_ix_open_orders_link_symbol", "open_orders", "strategy_account_id, symbol"),
        ("sync_ix_strategy_accounts_account", "strategy_accounts", "account_id"),
        // The origin's records of order ids, read for orders without a row (issue #12).
        ("sync_ix_trades_order", "trades", "exchange_order_id"),
        ("sync_ix_trade_executions_order", "trade_executions", "exchange_order_id"),
        ("sync_ix_failed_orders_original", "failed_orders", "original_order_id"),
    ]

    /// The origin's tables that record order ids, with the columns the evidence read needs; a table
    /// missing (an older origin install) or lacking one is simply not consulted.
    static let evidenceColumns: [(table: OriginRecord.Table, columns: [String])] = [
        (.trades, ["id", "strategy_account_id", "exchange_order_id", "symbol", "market_type"]),
        (.tradeExecutions, ["id", "strategy_account_id", "exchange_order_id", "symbol", "market_type"]),
        (.orderFillEvents, ["id", "strategy_account_id", "exchange_order_id", "symbol"]),
        (.failedOrders, ["id", "strategy_account_id", "original_order_id", "symbol", "market_type"]),
    ]

    /// The evidence tables this database has, with their columns.
    static func evidenceTables(_ conn: any SQLConnection) async throws -> Set<OriginRecord.Table> {
        let inspector = SchemaInspector(conn)
        let tables = try await inspector.tables()
        var found = Set<OriginRecord.Table>()
        for (table, needed) in evidenceColumns where tables.contains(table.rawValue) {
            let names = Set(try await inspector.columns(table.rawValue).map(\.name))
            if needed.allSatisfy(names.contains) { found.insert(table) }
        }
        return found
    }

    /// ordersync's migrations, in order. Each runs once; all pending ones run in one transaction.
    static let migrations: [(id: String, run: @Sendable (any SQLConnection) async throws -> Void)] = [
        (
            "v1-origin-tables",
            { conn in
                // A database without any origin table is a fresh install (demo, tests): create them all,
                // exactly as the origin's models do. Otherwise create none of them.
                let existing = try await SchemaInspector(conn).tables()
                guard existing.isDisjoint(with: OriginSchema.tables) else { return }
                for statement in conn.dialect == .sqlite ? OriginSchema.sqlite : OriginSchema.postgres {
                    try await conn.execute(statement.sql)
                }
            }
        ),
        (
            "v1-sync-tables",
            { conn in
                for ddl in syncTables { try await conn.execute(ddl.replacingOccurrences(of: "{pk}", with: conn.dialect.autoIncrementPrimaryKey)) }
            }
        ),
        // When each account-market last had a complete no-symbol listing (request economy).
        (
            "v2-sync-sweeps",
            { conn in
                try await conn.execute(
                    """
                    CREATE TABLE IF NOT EXISTS sync_sweeps (
                        account_id BIGINT NOT NULL,
                        market TEXT NOT NULL,
                        last_sweep_at BIGINT NOT NULL,
                        last_sweep_run BIGINT NOT NULL,
                        PRIMARY KEY (account_id, market)
                    )
                    """
                )
            }
        ),
        // What an adoption rests on (issue #12): `tag`, `recorded:<table>#<id>`, `placeholder:<row>`, `claim`.
        (
            "v3-findings-evidence",
            { conn in
                try await conn.execute("ALTER TABLE sync_findings ADD COLUMN evidence TEXT")
            }
        ),
        // Operator claims written by `ordersync claim` (issue #17): read by every pass, beside the config's.
        // `symbol` is the pair's spelling-independent key (`BTCUSDT`), `side` empty for both sides.
        (
            "v4-sync-claims",
            { conn in
                try await conn.execute(
                    """
                    CREATE TABLE IF NOT EXISTS sync_claims (
                        account_id BIGINT NOT NULL,
                        symbol TEXT NOT NULL,
                        side TEXT NOT NULL DEFAULT '' CHECK (side IN ('', 'BUY', 'SELL')),
                        strategy_account_id BIGINT NOT NULL,
                        created_at BIGINT NOT NULL,
                        PRIMARY KEY (account_id, symbol, side)
                    )
                    """
                )
            }
        ),
        // Alerts raised by `serve` and their delivery per sink (issue #17): one row per alert key and
        // sink, so a key delivered once is never sent to that sink again, across passes and restarts.
        (
            "v5-sync-alerts",
            { conn in
                try await conn.execute(
                    """
                    CREATE TABLE IF NOT EXISTS sync_alerts (
                        id \(conn.dialect.autoIncrementPrimaryKey),
                        alert_key TEXT NOT NULL,
                        sink TEXT NOT NULL,
                        kind TEXT NOT NULL,
                        account_id BIGINT,
                        strategy_account_id BIGINT,
                        exchange_order_id TEXT,
                        message TEXT NOT NULL,
                        payload_json TEXT NOT NULL,
                        state TEXT NOT NULL DEFAULT 'pending' CHECK (state IN ('pending', 'sent', 'failed', 'dropped')),
                        attempts BIGINT NOT NULL DEFAULT 0,
                        last_error TEXT,
                        created_at BIGINT NOT NULL,
                        updated_at BIGINT NOT NULL,
                        UNIQUE (alert_key, sink)
                    )
                    """
                )
                try await conn.execute("CREATE INDEX IF NOT EXISTS sync_ix_alerts_created ON sync_alerts (created_at)")
            }
        ),
    ]

    /// Applies pending migrations; returns their ids (empty when up to date).
    static func migrate(_ backend: any SQLBackend, now: Millis) async throws -> [String] {
        try await backend.write { conn in
            if conn.dialect == .postgres {
                // Two ordersync processes starting at once: one migrates, the other waits and finds it done.
                try await conn.execute("SELECT pg_advisory_xact_lock(8275310047)")
            }
            try await conn.execute("CREATE TABLE IF NOT EXISTS sync_migrations (id TEXT PRIMARY KEY, applied_at BIGINT NOT NULL)")
            let done = Set(try await conn.query("SELECT id FROM sync_migrations").compactMap { $0.text(0) })
            var applied: [String] = []
            for migration in migrations where !done.contains(migration.id) {
                try await migration.run(conn)
                try await conn.execute("INSERT INTO sync_migrations (id, applied_at) VALUES (?, ?)", [migration.id, now])
                applied.append(migration.id)
            }
            try await verifyOrigin(conn)
            return applied
        }
    }

    /// The origin's tables as ordersync needs them: present, with the columns it uses, no NOT NULL
    /// column in `open_orders` that an adopted row could not fill, and `exchange_order_id` unique.
    static func verifyOrigin(_ conn: any SQLConnection) async throws {
        let inspector = SchemaInspector(conn)
        let tables = try await inspector.tables()
        let absent = required.map(\.table).filter { !tables.contains($0) }
        guard absent.isEmpty else { throw StoreError.incompatibleSchema(table: absent.joined(separator: ", "), missing: [], absent: true) }
        for (table, needed) in required {
            let columns = try await inspector.columns(table)
            let names = Set(columns.map(\.name))
            let missing = needed.filter { !names.contains($0) }
            guard missing.isEmpty else { throw StoreError.incompatibleSchema(table: table, missing: missing) }
            if table == "open_orders" {
                let unfillable = columns.filter { $0.notNull && !$0.hasDefault && !insertedOpenOrderColumns.contains($0.name) }.map(\.name)
                guard unfillable.isEmpty else { throw StoreError.unfillableColumns(table: table, columns: unfillable) }
            }
        }
        guard try await inspector.hasUniqueIndex(table: "open_orders", column: "exchange_order_id") else {
            throw StoreError.notUnique(table: "open_orders", column: "exchange_order_id")
        }
    }
}

/// Reads the schema of either backend.
struct SchemaInspector {
    struct Column: Hashable {
        var name: String
        var type: String
        var notNull: Bool
        var hasDefault: Bool
    }

    let conn: any SQLConnection
    init(_ conn: any SQLConnection) { self.conn = conn }

    func tables() async throws -> Set<String> {
        let sql =
            conn.dialect == .sqlite
            ? "SELECT name FROM sqlite_master WHERE type = 'table'"
            : "SELECT table_name FROM information_schema.tables WHERE table_schema = current_schema()"
        return Set(try await conn.query(sql).compactMap { $0.text(0)?.lowercased() })
    }

    func columns(_ table: String) async throws -> [Column] {
        if conn.dialect == .sqlite {
            return try await conn.query("SELECT name, type, \"notnull\", dflt_value FROM pragma_table_info(?) ORDER BY cid", [table]).map {
                Column(
                    name: ($0.text(0) ?? "").lowercased(),
                    type: ($0.text(1) ?? "").uppercased(),
                    notNull: $0.bool(2) ?? false,
                    hasDefault: $0[3] != .null
                )
            }
        }
        return try await conn.query(
            """
            SELECT column_name, data_type, is_nullable, column_default FROM information_schema.columns
            WHERE table_schema = current_schema() AND table_name = ? ORDER BY ordinal_position
            """,
            [table]
        ).map {
            Column(
                name: ($0.text(0) ?? "").lowercased(),
                type: ($0.text(1) ?? "").uppercased(),
                notNull: $0.text(2) == "NO",
                hasDefault: $0[3] != .null
            )
        }
    }

    func indexes(_ table: String) async throws -> Set<String> {
        let sql =
            conn.dialect == .sqlite
            ? "SELECT name FROM sqlite_master WHERE type = 'index' AND tbl_name = ?"
            : "SELECT indexname FROM pg_indexes WHERE schemaname = current_schema() AND tablename = ?"
        return Set(try await conn.query(sql, [table]).compactMap { $0.text(0) })
    }

    /// Whether a unique index (or UNIQUE constraint) covers exactly this one column.
    func hasUniqueIndex(table: String, column: String) async throws -> Bool {
        if conn.dialect == .sqlite {
            for index in try await conn.query("SELECT name FROM pragma_index_list(?) WHERE \"unique\" = 1", [table]).compactMap({ $0.text(0) }) {
                let columns = try await conn.query("SELECT name FROM pragma_index_info(?)", [index]).compactMap { $0.text(0) }
                if columns == [column] { return true }
            }
            return false
        }
        let rows = try await conn.query(
            """
            SELECT count(*) FROM pg_index i
            JOIN pg_class t ON t.oid = i.indrelid
            JOIN pg_namespace n ON n.oid = t.relnamespace
            JOIN pg_attribute a ON a.attrelid = t.oid AND a.attnum = i.indkey[0]
            WHERE n.nspname = current_schema() AND t.relname = ? AND i.indisunique AND i.indnatts = 1 AND a.attname = ?
            """,
            [table, column]
        )
        return (rows.first?.int(0) ?? 0) > 0
    }
}
