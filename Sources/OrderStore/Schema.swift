import GRDB

/// The literal schema: the origin app's tables (created only when absent, never altered) and
/// ordersync's own `sync_` tables.
enum Schema {
    /// The origin app's tables, in dependency order, with the DDL used when a table is absent and
    /// the columns ordersync needs when it is present.
    static let seedTables: [(name: String, ddl: String, required: [String])] = [
        ("users", """
            CREATE TABLE users (
                id INTEGER NOT NULL PRIMARY KEY,
                username VARCHAR(80) NOT NULL UNIQUE,
                webhook_token VARCHAR(64) UNIQUE,
                is_active BOOLEAN NOT NULL DEFAULT 1,
                created_at DATETIME
            )
            """, ["id", "username", "webhook_token", "is_active"]),
        ("accounts", """
            CREATE TABLE accounts (
                id INTEGER NOT NULL PRIMARY KEY,
                user_id INTEGER NOT NULL REFERENCES users(id),
                name VARCHAR(100) NOT NULL,
                exchange VARCHAR(50) NOT NULL,
                public_api TEXT NOT NULL,
                secret_api TEXT NOT NULL,
                is_testnet BOOLEAN NOT NULL DEFAULT 0,
                is_active BOOLEAN NOT NULL DEFAULT 1,
                created_at DATETIME
            )
            """, ["id", "user_id", "name", "exchange", "public_api", "secret_api", "is_testnet", "is_active"]),
        ("strategies", """
            CREATE TABLE strategies (
                id INTEGER NOT NULL PRIMARY KEY,
                user_id INTEGER NOT NULL REFERENCES users(id),
                name VARCHAR(100) NOT NULL,
                description TEXT,
                group_name VARCHAR(100) NOT NULL UNIQUE,
                market_type VARCHAR(10) NOT NULL DEFAULT 'SPOT',
                is_active BOOLEAN NOT NULL DEFAULT 1,
                is_public BOOLEAN NOT NULL DEFAULT 0,
                created_at DATETIME
            )
            """, ["id", "user_id", "name", "group_name", "market_type", "is_active", "is_public"]),
        ("strategy_accounts", """
            CREATE TABLE strategy_accounts (
                id INTEGER NOT NULL PRIMARY KEY,
                strategy_id INTEGER NOT NULL REFERENCES strategies(id),
                account_id INTEGER NOT NULL REFERENCES accounts(id),
                weight FLOAT NOT NULL DEFAULT 1.0,
                leverage FLOAT NOT NULL DEFAULT 1.0,
                is_active BOOLEAN NOT NULL DEFAULT 1,
                created_at DATETIME,
                UNIQUE (strategy_id, account_id)
            )
            """, ["id", "strategy_id", "account_id", "weight", "leverage", "is_active"]),
        ("open_orders", """
            CREATE TABLE open_orders (
                id INTEGER NOT NULL PRIMARY KEY,
                strategy_account_id INTEGER NOT NULL REFERENCES strategy_accounts(id),
                exchange_order_id VARCHAR(100) NOT NULL UNIQUE,
                symbol VARCHAR(20) NOT NULL,
                side VARCHAR(10) NOT NULL,
                order_type VARCHAR(20) NOT NULL DEFAULT 'LIMIT',
                price FLOAT,
                stop_price FLOAT,
                quantity FLOAT NOT NULL,
                filled_quantity FLOAT NOT NULL DEFAULT 0.0,
                status VARCHAR(20) NOT NULL DEFAULT 'OPEN',
                market_type VARCHAR(10) NOT NULL DEFAULT 'SPOT',
                created_at DATETIME,
                updated_at DATETIME
            )
            """, ["id", "strategy_account_id", "exchange_order_id", "symbol", "side", "order_type", "price",
                  "stop_price", "quantity", "filled_quantity", "status", "market_type", "created_at", "updated_at"]),
    ]

    static let syncTables = [
        """
        CREATE TABLE sync_runs (
            id INTEGER PRIMARY KEY AUTOINCREMENT,
            trigger TEXT NOT NULL,
            started_at INTEGER NOT NULL,
            finished_at INTEGER,
            status TEXT NOT NULL DEFAULT 'running' CHECK (status IN ('running', 'ok', 'errors')),
            sections INTEGER NOT NULL DEFAULT 0,
            totals_json TEXT
        )
        """,
        """
        CREATE TABLE sync_findings (
            id INTEGER PRIMARY KEY AUTOINCREMENT,
            run_id INTEGER NOT NULL REFERENCES sync_runs(id) ON DELETE CASCADE,
            account_id INTEGER NOT NULL,
            market TEXT NOT NULL,
            kind TEXT NOT NULL,
            exchange_order_id TEXT,
            client_order_id TEXT,
            symbol TEXT,
            side TEXT,
            strategy_account_id INTEGER,
            open_order_id INTEGER,
            detail TEXT NOT NULL,
            changes_json TEXT,
            outcome TEXT NOT NULL,
            created_at INTEGER NOT NULL
        )
        """,
        "CREATE INDEX sync_findings_run ON sync_findings(run_id)",
        "CREATE INDEX sync_findings_order ON sync_findings(exchange_order_id)",
        """
        CREATE TABLE sync_orphans (
            account_id INTEGER NOT NULL,
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
            order_time INTEGER NOT NULL,
            first_seen_at INTEGER NOT NULL,
            last_seen_at INTEGER NOT NULL,
            times_seen INTEGER NOT NULL CHECK (times_seen > 0),
            PRIMARY KEY (account_id, market, exchange_order_id)
        )
        """,
        """
        CREATE TABLE sync_misses (
            account_id INTEGER NOT NULL,
            market TEXT NOT NULL,
            exchange_order_id TEXT NOT NULL,
            misses INTEGER NOT NULL CHECK (misses > 0),
            first_missed_at INTEGER NOT NULL,
            last_missed_at INTEGER NOT NULL,
            PRIMARY KEY (account_id, market, exchange_order_id)
        )
        """,
        """
        CREATE TABLE sync_cancel_intents (
            id INTEGER PRIMARY KEY AUTOINCREMENT,
            request_id TEXT NOT NULL,
            strategy_account_id INTEGER NOT NULL,
            account_id INTEGER NOT NULL,
            market TEXT NOT NULL,
            open_order_id INTEGER NOT NULL,
            exchange_order_id TEXT NOT NULL,
            symbol TEXT NOT NULL,
            state TEXT NOT NULL DEFAULT 'pending'
                CHECK (state IN ('pending', 'sent', 'cancelled', 'closed', 'failed', 'unknown')),
            final_status TEXT,
            reason TEXT,
            created_at INTEGER NOT NULL,
            resolved_at INTEGER
        )
        """,
        "CREATE INDEX sync_cancel_intents_unresolved ON sync_cancel_intents(state) WHERE state IN ('pending', 'sent', 'unknown')",
        """
        CREATE TABLE sync_order_history (
            id INTEGER PRIMARY KEY AUTOINCREMENT,
            open_order_id INTEGER NOT NULL,
            strategy_account_id INTEGER NOT NULL,
            account_id INTEGER NOT NULL,
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
            run_id INTEGER REFERENCES sync_runs(id) ON DELETE SET NULL,
            created_at INTEGER,
            closed_at INTEGER NOT NULL
        )
        """,
        "CREATE INDEX sync_order_history_order ON sync_order_history(exchange_order_id)",
    ]

    static var migrator: DatabaseMigrator {
        var migrator = DatabaseMigrator()
        // The origin app's tables: created when absent; when present, checked, never altered.
        migrator.registerMigration("v1-seed-tables") { db in
            for table in seedTables {
                if try db.tableExists(table.name) {
                    let columns = Set(try db.columns(in: table.name).map { $0.name.lowercased() })
                    let missing = table.required.filter { !columns.contains($0) }
                    guard missing.isEmpty else {
                        throw StoreError.incompatibleSchema(table: table.name, missing: missing)
                    }
                } else {
                    try db.execute(sql: table.ddl)
                }
            }
        }
        // Indexes for the hot queries. Adding an index changes no column of the origin app's.
        migrator.registerMigration("v1-indexes") { db in
            try db.execute(sql: "CREATE INDEX IF NOT EXISTS sync_ix_open_orders_link_symbol ON open_orders(strategy_account_id, symbol)")
            try db.execute(sql: "CREATE INDEX IF NOT EXISTS sync_ix_strategy_accounts_account ON strategy_accounts(account_id)")
            // Adoption relies on exchange_order_id being unique (the origin app declares it so).
            let unique = try db.indexes(on: "open_orders").contains { $0.isUnique && $0.columns == ["exchange_order_id"] }
            if !unique {
                try db.execute(sql: "CREATE UNIQUE INDEX sync_ux_open_orders_exchange_order_id ON open_orders(exchange_order_id)")
            }
        }
        migrator.registerMigration("v1-sync-tables") { db in
            for ddl in syncTables { try db.execute(sql: ddl) }
        }
        // When each account-market last had a complete no-symbol listing (request economy).
        migrator.registerMigration("v2-sync-sweeps") { db in
            try db.execute(sql: """
                CREATE TABLE sync_sweeps (
                    account_id INTEGER NOT NULL,
                    market TEXT NOT NULL,
                    last_sweep_at INTEGER NOT NULL,
                    last_sweep_run INTEGER NOT NULL,
                    PRIMARY KEY (account_id, market)
                )
                """)
        }
        return migrator
    }
}
