import Foundation
import GRDB
import Testing
import OrderStore
import SyncCore
import SyncTestSupport

@Suite struct StoreTests {
    static let now: Millis = 1_800_000_000_000

    static func scenario(_ name: String = "seed-isolation") throws -> Scenario {
        let url = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
            .deletingLastPathComponent().appendingPathComponent("fixtures/scenarios/\(name).json")
        return try Scenario.parse(try Data(contentsOf: url), file: url.lastPathComponent)
    }

    static func tempPath() -> String {
        FileManager.default.temporaryDirectory.appendingPathComponent("ordersync-test-\(UUID().uuidString).sqlite").path
    }

    @Test func fileDatabaseIsWALWithForeignKeysAndMigratesOnce() async throws {
        let path = Self.tempPath()
        defer { try? FileManager.default.removeItem(atPath: path) }
        let db = try OrderDatabase.open(path: path)
        #expect(try db.journalMode() == "wal")
        #expect(try db.migrate().isEmpty)
        let schema = try await db.writer.read { db in
            try String.fetchAll(db, sql: "SELECT sql FROM sqlite_master WHERE sql IS NOT NULL ORDER BY name")
        }
        #expect(try OrderDatabase.open(path: path).migrate().isEmpty)
        let after = try await db.writer.read { db in
            try String.fetchAll(db, sql: "SELECT sql FROM sqlite_master WHERE sql IS NOT NULL ORDER BY name")
        }
        #expect(schema == after)
        let fk = try await db.writer.read { try Int.fetchOne($0, sql: "PRAGMA foreign_keys") }
        #expect(fk == 1)
        let names = try await db.writer.read { try String.fetchAll($0, sql: "SELECT name FROM sqlite_master WHERE type = 'table' AND name LIKE 'sync_%' ORDER BY name") }
        #expect(names == ["sync_cancel_intents", "sync_findings", "sync_misses", "sync_order_history", "sync_orphans", "sync_runs", "sync_sweeps"])
        let plan = try await db.writer.read { db in
            try Row.fetchAll(db, sql: "EXPLAIN QUERY PLAN SELECT * FROM open_orders WHERE strategy_account_id = 1 AND symbol = 'BTCUSDT'")
                .map { $0["detail"] as String }
        }
        #expect(plan.joined().contains("sync_ix_open_orders_link_symbol"), "\(plan)")
    }

    @Test func acceptsTablesTheOriginAppCreatedWithoutAlteringThem() async throws {
        let queue = try DatabaseQueue()
        // The origin app's own DDL, with columns ordersync does not know about.
        try await queue.write { db in
            try db.execute(sql: """
                CREATE TABLE users (id INTEGER PRIMARY KEY, username VARCHAR(80) NOT NULL UNIQUE, email VARCHAR(120),
                    password_hash VARCHAR(255), webhook_token VARCHAR(64) UNIQUE, is_active BOOLEAN, is_admin BOOLEAN);
                CREATE TABLE accounts (id INTEGER PRIMARY KEY, user_id INTEGER NOT NULL REFERENCES users(id), name VARCHAR(100),
                    exchange VARCHAR(50), public_api TEXT, secret_api TEXT, passphrase TEXT, is_testnet BOOLEAN, is_active BOOLEAN);
                CREATE TABLE strategies (id INTEGER PRIMARY KEY, user_id INTEGER, name VARCHAR(100), description TEXT,
                    group_name VARCHAR(100) UNIQUE, market_type VARCHAR(10), is_active BOOLEAN, is_public BOOLEAN);
                CREATE TABLE strategy_accounts (id INTEGER PRIMARY KEY, strategy_id INTEGER, account_id INTEGER, weight FLOAT,
                    leverage FLOAT, max_symbols INTEGER, is_active BOOLEAN, UNIQUE (strategy_id, account_id));
                CREATE TABLE open_orders (id INTEGER PRIMARY KEY, strategy_account_id INTEGER NOT NULL, exchange_order_id VARCHAR(100)
                    NOT NULL UNIQUE, symbol VARCHAR(20), side VARCHAR(10), order_type VARCHAR(20), price FLOAT, stop_price FLOAT,
                    quantity FLOAT, filled_quantity FLOAT, status VARCHAR(20), market_type VARCHAR(10), created_at DATETIME,
                    updated_at DATETIME, webhook_received_at DATETIME);
                """)
        }
        let columnsBefore = try await queue.read { db in try db.columns(in: "open_orders").map(\.name) }
        let db = OrderDatabase(writer: queue)
        #expect(try db.migrate() == ["v1-seed-tables", "v1-indexes", "v1-sync-tables", "v2-sync-sweeps"])
        #expect(try await queue.read { db in try db.columns(in: "open_orders").map(\.name) } == columnsBefore)
        try await db.load(try Self.scenario(), now: Self.now)
        #expect(try await db.openOrders().count == 5)
    }

    @Test func refusesAnOriginTableThatLacksAColumn() throws {
        let queue = try DatabaseQueue()
        try queue.write { try $0.execute(sql: "CREATE TABLE open_orders (id INTEGER PRIMARY KEY, exchange_order_id TEXT)") }
        #expect { try OrderDatabase(writer: queue).migrate() } throws: { "\($0)".contains("open_orders exists but lacks column(s) strategy_account_id") }
        #expect(try queue.read { try $0.tableExists("sync_runs") } == false)
    }

    @Test func loadIsAllOrNothing() async throws {
        let db = try OrderDatabase.inMemory()
        var scenario = try Self.scenario()
        try await db.load(scenario, now: Self.now)
        // A second load collides on ids: nothing of it may stay.
        scenario.users = [UserRecord(id: UserID(99), username: "new", webhookToken: nil, isActive: true)]
        await #expect { try await db.load(scenario, now: Self.now) } throws: { "\($0)".contains("accounts[0]") }
        #expect(try await db.writer.read { try Int.fetchOne($0, sql: "SELECT count(*) FROM users") } == 2)
        #expect(try await db.openOrders().count == 5)
    }

    @Test func readsRowsExactlyAndKeepsTheMarketOfTheRow() async throws {
        let db = try OrderDatabase.inMemory()
        try await db.load(try Self.scenario(), now: Self.now)
        let rows = try await db.openOrders()
        #expect(rows.map(\.quantity.description) == ["0.01", "0.01", "0.02", "0.005", "0.005"])
        #expect(rows.allSatisfy { $0.market == .futures && $0.createdAt == Self.now - Scenario.defaultAgeMs })
        #expect(try await db.openOrders(links: [StrategyLinkID(2)]).map(\.exchangeOrderID.rawValue) == ["8100004", "8100005"])
        let accounts = try await db.accounts()
        #expect("\(accounts)".contains("simsecret") == false)
    }

    /// Plans decided for random worlds, applied through the real store: deciding again on the
    /// store's own read-back gives no change (the SQL has the model's semantics).
    @Test func appliedPlansConvergeThroughSQLite() async throws {
        let seed = SeededGenerator.seed(fallback: 77, environment: ProcessInfo.processInfo.environment)
        print("StoreTests.appliedPlansConvergeThroughSQLite: seed \(seed), 150 scenarios")
        var rng = SeededGenerator(seed: seed)
        for n in 0..<150 {
            let world = World.random(using: &rng)
            let db = try OrderDatabase.inMemory()
            try await db.load(Self.scenario(for: world), now: world.now)
            // The loaded rows' times come from ages; rewrite them to the world's exact times.
            try await db.writer.write { d in
                for row in world.rows {
                    try d.execute(sql: "UPDATE open_orders SET id = ?, created_at = ?, updated_at = ? WHERE exchange_order_id = ?",
                                  arguments: [row.id.rawValue, UTC.sqlDateTime(row.createdAt), UTC.sqlDateTime(row.updatedAt), row.exchangeOrderID.rawValue])
                }
            }
            let policy = ReconcilePolicy(grace: World.grace, confirmations: 1, maxQueriesPerPass: 1_000,
                                         attributor: Attributor(claims: try ClaimSet(world.claims)))
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
                #expect(again.changes.isEmpty, "scenario \(n): \(again.changes)")
            }
        }
    }

    static func scenario(for world: World) -> Scenario {
        let accounts = world.accounts.map {
            AccountRecord(id: $0, user: UserID(1), name: "a\($0)", exchange: "BINANCE", apiKey: "k\($0)", apiSecret: Secret("s"), isTestnet: false, isActive: true)
        }
        let strategyIDs = Set(world.links.map(\.strategy)).sorted()
        let strategies = strategyIDs.map { id in
            StrategyRecord(id: id, user: UserID(1), name: "s\(id)", groupName: "g\(id)", market: world.links.first { $0.strategy == id }!.market,
                           isActive: true, isPublic: false)
        }
        // Strategies in the generator may span markets per link; give each link its own strategy market.
        var fixed = strategies
        var links: [StrategyLinkRecord] = []
        for link in world.links {
            var strategy = link.strategy
            if fixed.first(where: { $0.id == strategy })!.market != link.market {
                strategy = StrategyID(1000 + link.id.rawValue)
                fixed.append(StrategyRecord(id: strategy, user: UserID(1), name: "x", groupName: "x\(link.id)", market: link.market, isActive: true, isPublic: false))
            }
            links.append(StrategyLinkRecord(id: link.id, strategy: strategy, account: link.account, weight: 1, leverage: 1, isActive: link.isActive))
        }
        let rows = world.rows.map {
            Scenario.DBOrder(id: $0.id, link: $0.link, exchangeOrderID: $0.exchangeOrderID, symbol: $0.symbol, side: $0.side,
                             orderType: $0.orderType, price: $0.price, stopPrice: $0.stopPrice, quantity: $0.quantity,
                             filledQuantity: $0.filledQuantity, status: $0.status, market: $0.market, ageMs: world.now - $0.createdAt)
        }
        return Scenario(name: "world", description: "", users: [UserRecord(id: UserID(1), username: "u", webhookToken: nil, isActive: true)],
                        accounts: accounts, strategies: fixed, links: links, dbOrders: rows, exchangeOrders: [])
    }
}
