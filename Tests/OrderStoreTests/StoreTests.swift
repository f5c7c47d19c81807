import Foundation
import OrderStore
import Scenarios
import StoreTestSupport
import SyncCore
import SyncTestSupport
import Testing

/// The store contract, run on every backend (SQLite always; PostgreSQL 15 under `bash scripts/test`).
@Suite struct StoreConformance {
    static let now: Millis = 1_800_000_000_000

    static func scenario(_ name: String = "seed-isolation") throws -> Scenario {
        let url = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
            .deletingLastPathComponent().appendingPathComponent("fixtures/scenarios/\(name).json")
        return try Scenario.parse(try Data(contentsOf: url), file: url.lastPathComponent)
    }

    /// Columns of a table as the backend describes them: name, declared type, NOT NULL.
    static func columns(_ db: OrderDatabase, _ table: String) async throws -> [String] {
        if db.dialect == .sqlite {
            return try await db.rows("SELECT name, type, \"notnull\" FROM pragma_table_info(?) ORDER BY cid", [table]).map {
                "\($0.text(0)!) \($0.text(1)!) \($0.int(2)!)"
            }
        }
        return try await db.rows(
            """
            SELECT column_name, data_type, is_nullable, COALESCE(character_maximum_length, 0) FROM information_schema.columns
            WHERE table_schema = current_schema() AND table_name = ? ORDER BY ordinal_position
            """,
            [table]
        ).map { "\($0.text(0)!) \($0.text(1)!) \($0.text(2)!) \($0.int(3)!)" }
    }

    /// Every object of the schema (tables, columns, indexes, constraints), for before/after comparisons.
    static func schema(_ db: OrderDatabase, tables: [String]) async throws -> [String] {
        var out: [String] = []
        for table in tables.sorted() {
            out += try await columns(db, table).map { "\(table).\($0)" }
            if db.dialect == .sqlite {
                out += try await db.rows("SELECT type, name, COALESCE(sql, '') FROM sqlite_master WHERE tbl_name = ? ORDER BY name", [table]).map {
                    "\(table) \($0.text(0)!) \($0.text(1)!) \($0.text(2)!)"
                }
            } else {
                out += try await db.rows("SELECT indexname, indexdef FROM pg_indexes WHERE tablename = ? ORDER BY indexname", [table]).map {
                    "\(table) index \($0.text(0)!) \($0.text(1)!)"
                }
                out += try await db.rows(
                    """
                    SELECT conname, pg_get_constraintdef(c.oid) FROM pg_constraint c JOIN pg_class t ON t.oid = c.conrelid
                    WHERE t.relname = ? ORDER BY conname
                    """,
                    [table]
                ).map { "\(table) constraint \($0.text(0)!) \($0.text(1)!)" }
            }
        }
        return out
    }

    static let originTables = [
        "accounts", "daily_account_summaries", "failed_orders", "open_orders", "order_fill_events", "order_tracking_sessions",
        "pending_orders", "securities_tokens", "strategies", "strategy_accounts", "strategy_capital", "strategy_performance",
        "strategy_positions", "system_settings", "system_summaries", "tracking_logs", "trade_executions", "trades",
        "user_sessions", "users", "webhook_logs",
    ]

    @Test(arguments: TestDatabases.backends)
    func migrateOnAnEmptyDatabaseCreatesEveryOriginTableAsItsModelsDo(_ backend: TestBackend) async throws {
        let (db, url) = try await TestDatabases.open(backend)
        defer { Task { await db.close() } }
        #expect(try await db.migrate().isEmpty)
        // The origin's own DDL on a second empty database: the same columns, types and NOT NULLs.
        let ddl = try #require(TestDatabases.originDDL(backend), "fixtures/origin/schema-*.sql")
        // The repository's copy is the shared reference's, when that is beside the repository.
        if let shared = TestDatabases.sharedOriginDDL(backend) { #expect(shared == ddl, "fixtures/origin differs from ../shared/reference/origin") }
        let (reference, _) = try await TestDatabases.open(backend, migrate: false)
        try await reference.write(TestDatabases.statements(ddl).map { ($0, []) })
        for table in Self.originTables {
            let ours = try await Self.columns(db, table)
            let theirs = try await Self.columns(reference, table)
            #expect(!ours.isEmpty && ours == theirs, "\(backend) \(table)")
        }
        await reference.close()
        let sync = try await db.rows(
            backend == .sqlite
                ? "SELECT name FROM sqlite_master WHERE type = 'table' AND name LIKE 'sync_%' ORDER BY name"
                : "SELECT table_name FROM information_schema.tables WHERE table_schema = current_schema() AND table_name LIKE 'sync_%' ORDER BY table_name"
        )
        .compactMap { $0.text(0) }
        #expect(
            sync == [
                "sync_alerts", "sync_cancel_intents", "sync_claims", "sync_findings", "sync_migrations", "sync_misses", "sync_order_history",
                "sync_orphans",
                "sync_runs",
                "sync_sweeps",
            ]
        )
        if backend == .sqlite {
            #expect(try await db.journalMode() == "wal")
            #expect(try await db.rows("PRAGMA foreign_keys").first?.int(0) == 1)
        }
        // A second process opening the same database finds it up to date.
        let again = try await OrderDatabase.open(try DatabaseLocation(url))
        #expect(try await again.migrate().isEmpty)
        await again.close()
    }

    @Test(arguments: TestDatabases.backends)
    func anExistingOriginDatabaseIsNeverAltered(_ backend: TestBackend) async throws {
        let (db, _) = try await TestDatabases.open(backend, migrate: false)
        defer { Task { await db.close() } }
        let ddl = try #require(TestDatabases.originDDL(backend))
        try await db.write(TestDatabases.statements(ddl).map { ($0, []) })
        let before = try await Self.schema(db, tables: Self.originTables)
        #expect(
            try await db.migrate() == [
                "v1-origin-tables", "v1-sync-tables", "v2-sync-sweeps", "v3-findings-evidence", "v4-sync-claims", "v5-sync-alerts",
            ]
        )
        #expect(try await Self.schema(db, tables: Self.originTables) == before)
        try await db.load(try Self.scenario(), now: Self.now)
        #expect(try await db.openOrders().count == 5)
        // The optional indexes only when asked, and then nothing but indexes.
        #expect(try await db.missingOriginIndexes().count == 5)
        #expect(
            try await db.addOriginIndexes() == [
                "sync_ix_open_orders_link_symbol", "sync_ix_strategy_accounts_account", "sync_ix_trades_order", "sync_ix_trade_executions_order",
                "sync_ix_failed_orders_original",
            ]
        )
        #expect(try await db.missingOriginIndexes().isEmpty)
        let columnsOnly = { (lines: [String]) in lines.filter { $0.contains(".") && !$0.contains(" index ") && !$0.contains("CREATE INDEX") } }
        #expect(columnsOnly(try await Self.schema(db, tables: Self.originTables)) == columnsOnly(before))
    }

    @Test(arguments: TestDatabases.backends)
    func refusesAnOriginTableThatLacksAColumnAndChangesNothing(_ backend: TestBackend) async throws {
        let (db, _) = try await TestDatabases.open(backend, migrate: false)
        defer { Task { await db.close() } }
        let ddl = try #require(TestDatabases.originDDL(backend))
        // The origin's schema as an install from before its 2025-10-14 migration: no is_processing.
        let old = TestDatabases.statements(ddl).map {
            $0.replacingOccurrences(of: "\tis_processing BOOLEAN NOT NULL, \n", with: "")
                .replacingOccurrences(of: "\n\tis_processing BOOLEAN NOT NULL, ", with: "")
        }.filter { !$0.contains("(is_processing)") }
        try await db.write(old.map { ($0, []) })
        await #expect { try await db.migrate() } throws: { "\($0)".contains("open_orders exists but lacks column(s) is_processing") }
        let tables = try await db.rows(
            backend == .sqlite
                ? "SELECT name FROM sqlite_master WHERE name LIKE 'sync_%'"
                : "SELECT table_name FROM information_schema.tables WHERE table_name LIKE 'sync_%'"
        )
        #expect(tables.isEmpty)
    }

    @Test(arguments: TestDatabases.backends)
    func loadIsAllOrNothing(_ backend: TestBackend) async throws {
        let (db, _) = try await TestDatabases.open(backend)
        defer { Task { await db.close() } }
        var scenario = try Self.scenario()
        try await db.load(scenario, now: Self.now)
        // A second load collides on ids: nothing of it may stay.
        scenario.users = [UserRecord(id: UserID(99), username: "new", webhookToken: nil, isActive: true)]
        await #expect { try await db.load(scenario, now: Self.now) } throws: { "\($0)".contains("accounts[0]") }
        #expect(try await db.rows("SELECT count(*) FROM users").first?.int(0) == 2)
        #expect(try await db.openOrders().count == 5)
    }

    @Test(arguments: TestDatabases.backends)
    func readsRowsExactlyAndKeepsTheMarketOfTheRow(_ backend: TestBackend) async throws {
        let (db, _) = try await TestDatabases.open(backend)
        defer { Task { await db.close() } }
        try await db.load(try Self.scenario(), now: Self.now)
        let rows = try await db.openOrders()
        #expect(rows.map(\.quantity.description) == ["0.01", "0.01", "0.02", "0.005", "0.005"])
        #expect(rows.allSatisfy { $0.market == .futures && $0.createdAt == Self.now - Scenario.defaultAgeMs })
        #expect(try await db.openOrders(links: [StrategyLinkID(2)]).map(\.exchangeOrderID.rawValue) == ["8100004", "8100005"])
        let accounts = try await db.accounts()
        #expect("\(accounts)".contains("simsecret") == false)
    }

    /// Rows as the origin's code writes them: lower-case market types and exchange, slash symbols,
    /// placeholders, FAILED, CANCELLING and held rows; the store reads each for what it is.
    @Test(arguments: TestDatabases.backends)
    func readsTheOriginsRowsAsItsCodeWritesThem(_ backend: TestBackend) async throws {
        let (db, _) = try await TestDatabases.open(backend)
        defer { Task { await db.close() } }
        try await db.load(try Self.scenario("origin-shaped"), now: Self.now)
        #expect(try await db.accounts().map(\.exchange) == ["BINANCE", "BINANCE", "UPBIT"])
        let rows = try await db.openOrders()
        // FAILED rows (kept forever by the origin) are not read at all.
        #expect(!rows.contains { $0.status == "FAILED" })
        let byID = Dictionary(uniqueKeysWithValues: rows.map { ($0.exchangeOrderID.rawValue, $0) })
        let pending = try #require(rows.first { $0.status == "PENDING" })
        #expect(pending.lifecycle(now: Self.now) == .placeholder)
        #expect(byID["7001"]?.marketText == "futures" && byID["7001"]?.market == .futures && byID["7001"]?.symbol == "BTC/USDT")
        let cancelling = try #require(rows.first { $0.status == "CANCELLING" })
        #expect(cancelling.lifecycle(now: Self.now) == .cancelling)
        let held = try #require(rows.first { $0.isProcessing })
        #expect(held.isHeld(now: Self.now))
    }

    /// An adopted row is a row the origin could have written: every NOT NULL column, its forms.
    @Test(arguments: TestDatabases.backends)
    func adoptedRowsCarryEveryColumnTheWayTheOriginWritesThem(_ backend: TestBackend) async throws {
        let (db, _) = try await TestDatabases.open(backend)
        defer { Task { await db.close() } }
        try await db.load(try Self.scenario("origin-shaped"), now: Self.now)
        let order = ExchangeOrder(
            id: .regular(999_001),
            clientOrderID: nil,
            symbol: "ETHUSDT",
            side: .sell,
            type: .stop,
            status: .partiallyFilled,
            price: Amount("3100.5")!,
            stopPrice: Amount("3000")!,
            quantity: Amount("0.30")!,
            executedQuantity: Amount("0.1")!,
            time: Self.now - 60_000,
            // As Binance's venue gives it: its futures STOP is the origin's STOP_LIMIT.
            originType: .stopLimit
        )
        let snapshot = try await db.accountSnapshot(AccountID(1))
        var plan = ReconcilePlan(
            account: AccountID(1),
            market: .futures,
            coverage: .complete,
            scope: .allSymbols,
            decidedAt: Self.now,
            listed: 1,
            rows: 0,
            findings: [],
            queries: [],
            housekeeping: []
        )
        let adoption = Reconciler.adoption(
            of: order,
            into: StrategyLinkID(1),
            market: .futures,
            rows: snapshot.rows.filter { $0.market == .futures },
            evidence: .claim
        )
        plan.findings = [Finding(kind: .adopted, exchangeOrderID: order.id, link: StrategyLinkID(1), detail: "test", actions: [.adopt(adoption)])]
        let run = try await db.beginRun(trigger: "test", now: Self.now)
        #expect(try await db.apply(plan, runID: run, now: Self.now).applied == 1)
        // Applying it again changes nothing (the origin's unique exchange_order_id).
        #expect(try await db.apply(plan, runID: run, now: Self.now).skipped == 1)
        let r = try #require(
            try await db.rows(
                """
                SELECT symbol, market_type, order_type, status, is_processing, filled_quantity, webhook_received_at, created_at, updated_at,
                       processing_started_at, error_message, cancel_attempted_at, quantity, price, stop_price
                FROM open_orders WHERE exchange_order_id = '999001'
                """
            ).first
        )
        #expect(r.text(0) == "ETH/USDT" && r.text(1) == "futures" && r.text(2) == "STOP_LIMIT" && r.text(3) == "PARTIALLY_FILLED")
        #expect(r.bool(4) == false && r[5] == .double(0.1) && r[6] == .null && r[9] == .null && r[10] == .null && r[11] == .null)
        #expect(r[12] == .double(0.3) && r[13] == .double(3100.5) && r[14] == .double(3000))
        switch backend {
        case .sqlite:
            // SQLAlchemy's SQLite DATETIME text, to the microsecond.
            #expect(r.text(7) == UTC.sqlDateTime(Self.now - 60_000) && r.text(8) == UTC.sqlDateTime(Self.now))
            #expect(r.text(7)?.wholeMatch(of: /\d{4}-\d\d-\d\d \d\d:\d\d:\d\d\.\d{6}/) != nil)
        case .postgres:
            #expect(r[7] == .timestamp(Self.now - 60_000) && r[8] == .timestamp(Self.now))
        }
    }

    /// What the origin holds is neither updated nor deleted; a stale hold (over 5 minutes) is the
    /// origin's own rule for a dead lock, and then ordersync proceeds.
    @Test(arguments: TestDatabases.backends)
    func heldRowsAreNotTouchedUntilTheirLockIsStale(_ backend: TestBackend) async throws {
        let (db, _) = try await TestDatabases.open(backend)
        defer { Task { await db.close() } }
        try await db.load(try Self.scenario("origin-shaped"), now: Self.now)
        let held = try #require(try await db.openOrders().first { $0.isProcessing })
        let closed = ExchangeOrder(
            id: held.exchangeOrderID,
            clientOrderID: nil,
            symbol: "BTCUSDT",
            side: held.side,
            type: .limit,
            status: .filled,
            price: held.price ?? .zero,
            quantity: held.quantity,
            executedQuantity: held.quantity,
            time: Self.now - 600_000
        )
        var plan = ReconcilePlan(
            account: AccountID(1),
            market: .futures,
            coverage: .complete,
            scope: .allSymbols,
            decidedAt: Self.now,
            listed: 0,
            rows: 1,
            findings: [],
            queries: [],
            housekeeping: []
        )
        plan.findings = [
            Finding(
                kind: .drifted,
                exchangeOrderID: held.exchangeOrderID,
                detail: "t",
                actions: [.updateRow(held.id, readUpdatedAt: held.updatedAt, RowUpdate(order: closed, status: .partiallyFilled))]
            ),
            Finding(
                kind: .closed,
                exchangeOrderID: held.exchangeOrderID,
                detail: "t",
                actions: [.closeRow(held, finalStatus: .filled, filledQuantity: held.quantity)]
            ),
        ]
        let run = try await db.beginRun(trigger: "test", now: Self.now)
        let result = try await db.apply(plan, runID: run, now: Self.now)
        #expect(result.applied == 0 && result.skipped == 2)
        #expect(try await db.openOrders().contains { $0.id == held.id })
        // Six minutes later the lock is the origin's own definition of stale.
        let later = Self.now + 360_000
        #expect(try await db.apply(plan, runID: run, now: later).applied == 2)
        #expect(try await db.openOrders().contains { $0.id == held.id } == false)
        #expect(
            try await db.rows("SELECT final_status FROM sync_order_history WHERE open_order_id = ?", [held.id.rawValue]).first?.text(0) == "FILLED"
        )
    }

    /// The evidence read (issue #12): the origin's records of the ids asked for, with their links,
    /// and the account's placeholder rows in the range; a repair only while the row still has the
    /// placeholder id and status it was read with and the origin does not hold it.
    @Test(arguments: TestDatabases.backends)
    func evidenceIsReadInTwoStatementsAndARepairIsGuarded(_ backend: TestBackend) async throws {
        let (db, _) = try await TestDatabases.open(backend)
        defer { Task { await db.close() } }
        try await db.load(try Self.scenario("origin-evidence"), now: Self.now)
        #expect(db.evidenceTables == Set(OriginRecord.Table.allCases))
        let request = EvidenceRequest(
            account: AccountID(1),
            market: .futures,
            orderIDs: ["8020", "8021", "8040", "9999"],
            placeholdersCreated: (Self.now - 400_000)...(Self.now - 200_000)
        )
        let evidence = try await db.originEvidence(request)
        #expect(evidence.statements == 2)
        #expect(
            evidence.records.map { "\($0.table.rawValue) \($0.exchangeOrderID) \($0.link) \($0.symbol ?? "-") \($0.marketText ?? "-")" }.sorted() == [
                "failed_orders 8021 3 XRP/USDT FUTURES", "trades 8020 1 SOL/USDT futures", "trades 8040 2 DOGE/USDT futures",
            ]
        )
        #expect(evidence.placeholders.map(\.id) == [OpenOrderRowID(2), OpenOrderRowID(3)])
        #expect(evidence.placeholders.allSatisfy { $0.status == "FAILED" && $0.placeholderState(now: Self.now) == .lost })
        // A range that excludes them reads none.
        var narrow = request
        narrow.placeholdersCreated = (Self.now - 200_000)...Self.now
        #expect(try await db.originEvidence(narrow).placeholders.isEmpty)

        let row = evidence.placeholders[0]
        let order = ExchangeOrder(
            id: .regular(8010),
            clientOrderID: nil,
            symbol: "ETHUSDT",
            side: .sell,
            type: .limit,
            status: .new,
            price: Amount("3500")!,
            quantity: Amount("0.5")!,
            executedQuantity: .zero,
            time: Self.now - 300_000
        )
        func plan(readStatus: String) -> ReconcilePlan {
            var plan = ReconcilePlan(
                account: AccountID(1),
                market: .futures,
                coverage: .complete,
                scope: .symbols(["ETHUSDT"]),
                decidedAt: Self.now,
                listed: 1,
                rows: 0,
                findings: [],
                queries: [],
                housekeeping: []
            )
            plan.findings = [
                Finding(
                    kind: .adopted,
                    exchangeOrderID: order.id,
                    detail: "t",
                    actions: [
                        .repairPlaceholder(
                            PlaceholderRepair(
                                row: row.id,
                                link: row.link,
                                placeholderID: row.exchangeOrderID,
                                readStatus: readStatus,
                                order: order,
                                status: .open
                            )
                        )
                    ]
                )
            ]
            return plan
        }
        let run = try await db.beginRun(trigger: "test", now: Self.now)
        // The origin changed the row since it was read (here: its status is not the one read).
        #expect(try await db.apply(plan(readStatus: "PENDING"), runID: run, now: Self.now).skipped == 1)
        // The origin holds the row.
        try await db.execute(
            "UPDATE open_orders SET is_processing = ?, processing_started_at = ? WHERE id = ?",
            [true, Timestamp(Self.now - 1_000), row.id.rawValue]
        )
        #expect(try await db.apply(plan(readStatus: "FAILED"), runID: run, now: Self.now).skipped == 1)
        #expect(
            try await db.rows("SELECT exchange_order_id FROM open_orders WHERE id = ?", [row.id.rawValue]).first?.text(0)
                == row.exchangeOrderID.rawValue
        )
        try await db.execute("UPDATE open_orders SET is_processing = ? WHERE id = ?", [false, row.id.rawValue])
        #expect(try await db.apply(plan(readStatus: "FAILED"), runID: run, now: Self.now).applied == 1)
        let repaired = try #require(try await db.rows("SELECT exchange_order_id, status FROM open_orders WHERE id = ?", [row.id.rawValue]).first)
        #expect(repaired.text(0) == "8010" && repaired.text(1) == "OPEN")
        #expect(
            try await db.rows("SELECT evidence FROM sync_findings WHERE run_id = ? AND outcome = 'applied'", [run]).first?.text(0) == "placeholder:2"
        )
        // Once repaired, the same repair finds no placeholder to change.
        #expect(try await db.apply(plan(readStatus: "FAILED"), runID: run, now: Self.now).skipped == 1)
    }

    /// Cancel intents and their resolution: rows leave only with the exchange's final word, into history.
    @Test(arguments: TestDatabases.backends)
    func cancelIntentsResolveInOneTransactionPerAccount(_ backend: TestBackend) async throws {
        let (db, _) = try await TestDatabases.open(backend)
        defer { Task { await db.close() } }
        try await db.load(try Self.scenario(), now: Self.now)
        let rows = try await db.openOrders(links: [StrategyLinkID(1)])
        #expect(rows.count == 3)
        try await db.recordCancelIntents(requestID: "r1", rows: rows.map { ($0, AccountID(1)) }, now: Self.now)
        #expect(try await db.unresolvedCancels().count == 3)
        func final(_ row: OpenOrderRow, _ status: ExchangeOrderStatus) -> ExchangeOrder {
            ExchangeOrder(
                id: row.exchangeOrderID,
                clientOrderID: nil,
                symbol: "BTCUSDT",
                side: row.side,
                type: .limit,
                status: status,
                price: row.price ?? .zero,
                quantity: row.quantity,
                executedQuantity: .zero,
                time: Self.now
            )
        }
        try await db.resolveCancels(
            requestID: "r1",
            [
                CancelResolution(row: rows[0], account: AccountID(1), outcome: .cancelled(final(rows[0], .canceled))),
                CancelResolution(row: rows[1], account: AccountID(1), outcome: .alreadyFinal(final(rows[1], .filled))),
                CancelResolution(row: rows[2], account: AccountID(1), outcome: .failed(reason: "timeout", unknown: true)),
            ],
            now: Self.now + 5
        )
        #expect(try await db.cancelIntentStates() == ["cancelled": 1, "closed": 1, "unknown": 1])
        #expect(try await db.openOrders(links: [StrategyLinkID(1)]).map(\.id) == [rows[2].id])
        let history = try await db.rows("SELECT exchange_order_id, final_status, source FROM sync_order_history ORDER BY exchange_order_id")
        #expect(
            history.map { "\($0.text(0)!) \($0.text(1)!) \($0.text(2)!)" } == [
                "\(rows[0].exchangeOrderID) CANCELED cancel", "\(rows[1].exchangeOrderID) FILLED cancel",
            ]
        )
        let pending = try await db.unresolvedCancels()
        #expect(pending.map(\.openOrderID) == [rows[2].id] && pending.first?.row != nil)
        try await db.settleCancelsWithoutRows(requestID: "r1", openOrderIDs: [rows[2].id], now: Self.now + 10)
        #expect(try await db.unresolvedCancels().isEmpty)
    }

    /// Plans decided for random worlds, applied through the real store: deciding again on the
    /// store's own read-back gives no change (the SQL has the model's semantics).
    @Test(arguments: TestDatabases.backends)
    func appliedPlansConverge(_ backend: TestBackend) async throws {
        let seed = SeededGenerator.seed(fallback: 77, environment: ProcessInfo.processInfo.environment)
        let count = 120
        print("StoreConformance.appliedPlansConverge(\(backend)): seed \(seed), \(count) scenarios")
        var rng = SeededGenerator(seed: seed)
        let (db, _) = try await TestDatabases.open(backend)
        defer { Task { await db.close() } }
        for n in 0..<count {
            let world = World.random(using: &rng)
            try await db.write(
                [
                    "sync_findings", "sync_order_history", "sync_runs", "sync_orphans", "sync_misses", "sync_sweeps", "open_orders",
                    "strategy_accounts", "strategies", "accounts", "users",
                ].map { ("DELETE FROM \($0)", []) }
            )
            try await db.load(Self.scenario(for: world), now: world.now)
            // The loaded rows' times come from ages; rewrite them to the world's exact times.
            try await db.write(
                world.rows.map { row in
                    (
                        "UPDATE open_orders SET created_at = ?, updated_at = ? WHERE exchange_order_id = ?",
                        [Timestamp(row.createdAt), Timestamp(row.updatedAt), row.exchangeOrderID.rawValue]
                    )
                }
            )
            let policy = ReconcilePolicy(
                grace: World.grace,
                confirmations: 1,
                maxQueriesPerPass: 1_000,
                attributor: Attributor(claims: try ClaimSet(world.claims))
            )
            let run = try await db.beginRun(trigger: "test", now: world.now)
            func decide(_ key: World.Key) async throws -> ReconcilePlan {
                let state = try await db.accountSnapshot(key.account)
                var input = state.input(market: key.market, listing: world.listing(key), now: world.now)
                var plan = Reconciler.decide(input, policy: policy)
                for q in plan.queries { input.queryResults[q.id] = world.query(key, q.id) }
                if !plan.queries.isEmpty { plan = Reconciler.decide(input, policy: policy) }
                return plan
            }
            for key in world.keys { _ = try await db.apply(try await decide(key), runID: run, now: world.now) }
            for key in world.keys {
                let again = try await decide(key)
                #expect(again.changes.isEmpty, "\(backend) scenario \(n): \(again.changes)")
            }
            // An event's snapshot (its orders by id) is the account's, narrowed to those orders:
            // some of its rows' and orphans' ids, another account's, one nobody has.
            for account in Set(world.keys.map(\.account)) {
                let whole = try await db.accountSnapshot(account)
                let others = try await db.openOrders().filter { row in !whole.rows.contains { $0.id == row.id } }.map(\.exchangeOrderID)
                let known = whole.rows.map(\.exchangeOrderID) + whole.orphans.map(\.order.id) + Array(whole.misses.keys)
                let ids = known.filter { _ in Bool.random(using: &rng) } + others.prefix(1) + [ExchangeOrderID("nobody-\(n)")]
                let narrow = try await db.orderSnapshot(account, orders: ids)
                let expected = whole.only(Set(ids))
                #expect(
                    narrow.rows == expected.rows && narrow.links == expected.links && Set(narrow.orphans) == Set(expected.orphans)
                        && narrow.misses == expected.misses && narrow.lastSweepRun.isEmpty,
                    "\(backend) scenario \(n), account \(account): \(ids)"
                )
                #expect(Set(narrow.rows.map(\.exchangeOrderID)).isSubset(of: Set(ids)))
            }
        }
    }

    static func scenario(for world: World) -> Scenario {
        let accounts = world.accounts.map {
            AccountRecord(
                id: $0,
                user: UserID(1),
                name: "a\($0)",
                exchange: "BINANCE",
                apiKey: "k\($0)",
                apiSecret: Secret("s"),
                isTestnet: false,
                isActive: true
            )
        }
        let strategyIDs = Set(world.links.map(\.strategy)).sorted()
        let strategies = strategyIDs.map { id in
            StrategyRecord(
                id: id,
                user: UserID(1),
                name: "s\(id)",
                groupName: "g\(id)",
                market: world.links.first { $0.strategy == id }!.market,
                isActive: true,
                isPublic: false
            )
        }
        // Strategies in the generator may span markets per link; give each link its own strategy market.
        var fixed = strategies
        var links: [StrategyLinkRecord] = []
        for link in world.links {
            var strategy = link.strategy
            if fixed.first(where: { $0.id == strategy })!.market != link.market {
                strategy = StrategyID(1000 + link.id.rawValue)
                fixed.append(
                    StrategyRecord(
                        id: strategy,
                        user: UserID(1),
                        name: "x",
                        groupName: "x\(link.id)",
                        market: link.market,
                        isActive: true,
                        isPublic: false
                    )
                )
            }
            links.append(StrategyLinkRecord(id: link.id, strategy: strategy, account: link.account, weight: 1, leverage: 1, isActive: link.isActive))
        }
        let rows = world.rows.map {
            Scenario.DBOrder(
                id: $0.id,
                link: $0.link,
                exchangeOrderID: $0.exchangeOrderID,
                symbol: $0.symbol,
                side: $0.side,
                orderType: $0.orderType,
                price: $0.price,
                stopPrice: $0.stopPrice,
                quantity: $0.quantity,
                filledQuantity: $0.filledQuantity,
                status: $0.status,
                market: $0.market,
                ageMs: world.now - $0.createdAt
            )
        }
        return Scenario(
            name: "world",
            description: "",
            users: [UserRecord(id: UserID(1), username: "u", webhookToken: nil, isActive: true)],
            accounts: accounts,
            strategies: fixed,
            links: links,
            dbOrders: rows,
            exchangeOrders: []
        )
    }
}

@Suite struct DatabaseLocationTests {
    @Test func readsEachFormAndNeverPrintsThePassword() throws {
        let pg = try DatabaseLocation("postgresql://trader:password123@postgres:5432/trading_system")
        guard case .postgres(let location) = pg else {
            Issue.record("not postgres")
            return
        }
        #expect(location.host == "postgres" && location.port == 5432 && location.user == "trader" && location.database == "trading_system")
        #expect(location.password.reveal() == "password123")
        #expect("\(pg)" == "postgresql://trader:***@postgres:5432/trading_system" && !"\(pg)".contains("password123"))
        #expect(try DatabaseLocation("postgres://u@h/db") == .postgres(PostgresLocation(url: "postgres://u@h/db")!))
        #expect(try DatabaseLocation("sqlite:////tmp/x.db") == .sqlite(path: "/tmp/x.db"))
        #expect(try DatabaseLocation("sqlite:///app.db") == .sqlite(path: "app.db"))
        #expect(try DatabaseLocation("/var/lib/app.sqlite") == .sqlite(path: "/var/lib/app.sqlite"))
        #expect { try DatabaseLocation("mysql://x@y/z") } throws: { "\($0)".contains("unsupported") }
        #expect { try DatabaseLocation("postgresql://") } throws: { "\($0)".contains("PostgreSQL URL") }
    }
}
