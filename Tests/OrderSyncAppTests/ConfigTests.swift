import Foundation
import OrderSyncApp
import SyncCore
import Testing

@Suite struct ConfigTests {
    static func write(_ text: String) throws -> String {
        let path = FileManager.default.temporaryDirectory.appendingPathComponent("ordersync-config-\(UUID().uuidString).toml").path
        try text.write(toFile: path, atomically: true, encoding: .utf8)
        return path
    }

    @Test func theExampleFileLoadsWithTheDefaults() throws {
        let config = try OrdersyncConfig.load(path: CLITests.root.appendingPathComponent("config/ordersync.example.toml").path, environment: [:])
        let defaults = OrdersyncConfig()
        // The example states every default: loading it changes nothing.
        #expect(String(describing: config) == String(describing: defaults))
        #expect(config.exchange.weightBudget == 0.8 && config.exchange.recvWindowMs == 5000 && config.reconcile.intervalSeconds == 30)
        #expect(config.attribution.tagPrefix == "os1" && config.database.url == nil && config.attribution.claims.isEmpty)
        #expect(config.attribution.placeholderBeforeMs == 10_000 && config.attribution.placeholderAfterMs == 60_000)
    }

    @Test func valuesListsAndTheEnvironmentApplyInOrder() throws {
        let path = try Self.write(
            """
            [database]
            path = "/tmp/x.sqlite"
            [exchange]
            futures_url = "http://127.0.0.1:9/"
            weight_budget = 0.5
            [reconcile]
            grace_ms = 2500
            interval_seconds = 5
            [attribution]
            placeholder_after_ms = 90000
            [[attribution.conventions]]
            name = "webserver"
            pattern = '^web_(?<link>[0-9]+)_'
            [[attribution.claims]]
            account_id = 1
            symbol = "btcusdt"
            side = "SELL"
            strategy_account_id = 4
            """
        )
        defer { try? FileManager.default.removeItem(atPath: path) }
        let c = try OrdersyncConfig.load(
            path: path,
            environment: [
                "ORDERSYNC_RECONCILE_GRACE_MS": "700", "ORDERSYNC_RECONCILE_CONFIRMATIONS": "1", "ORDERSYNC_ORIGIN_SECRET_KEY": "12345",
                "ORDERSYNC_WEBHOOK_RATE_PER_SECOND": "2.5",
            ]
        )
        #expect(c.database.url == "/tmp/x.sqlite" && c.exchange.futuresURL == "http://127.0.0.1:9" && c.exchange.weightBudget == 0.5)
        #expect(c.reconcile.intervalSeconds == 5, "a whole number where a number is expected")
        #expect(c.reconcile.graceMs == 700 && c.reconcile.confirmations == 1, "the environment overrides the file")
        #expect(c.origin.secretKey == "12345" && c.webhook.ratePerSecond == 2.5, "a variable is read with its key's type")
        #expect(c.attribution.conventions.map(\.name) == ["webserver"])
        #expect(c.attribution.placeholderAfterMs == 90_000 && c.attribution.placeholderBeforeMs == 10_000)
        #expect(c.attribution.claims == [OperatorClaim(account: AccountID(1), symbol: "BTCUSDT", side: .sell, link: StrategyLinkID(4))])
        #expect(c.alerts.webhookURL == nil && c.alerts.telegramPerUser && c.alerts.unresolvedPasses == 3)
    }

    @Test(arguments: [
        ("[reconcile]\ngrace = 5\n", "reconcile.grace: unknown key"),
        ("[reconcile]\ngrace_ms = \"soon\"\n", "reconcile.grace_ms: expected an integer"),
        ("[reconcile]\nconfirmations = 0\n", "reconcile.confirmations: must be at least 1"),
        ("[exchange]\nspot_url = \"ftp://x\"\n", "exchange.spot_url: must be an http(s) URL"),
        ("[exchange]\nweight_budget = 1.5\n", "exchange.weight_budget: must be in (0, 1]"),
        ("[attribution]\nplaceholder_before_ms = -1\n", "attribution.placeholder_before_ms: must be 0 to 600000"),
        ("[webhooks]\nlisten = \"x\"\n", "webhooks: unknown section"),
        ("[alerts]\nwebhook_url = \"https://hooks.example/x\"\n", "alerts.webhook_secret: is required with webhook_url"),
        ("[alerts]\ntelegram_url = \"api.telegram.org\"\n", "alerts.telegram_url: must be an http(s) URL"),
        ("[alerts]\ntelegram_per_user = \"maybe\"\n", "alerts.telegram_per_user: expected true or false"),
        ("[alerts]\nper_minute = 0\n", "alerts.per_minute: must be 1 to 600"),
        ("[reconcile]\ngrace_ms = = 3\n", "line 2"),
        ("[[attribution.claims]]\naccount_id = 1\nsymbol = \"BTCUSDT\"\n", "attribution.claims[0]: needs account_id, symbol, strategy_account_id"),
        ("[[attribution.conventions]]\nname = \"x\"\npattern = \"^web_([0-9]+)\"\n", "attribution.conventions[0]"),
        (
            "[[attribution.claims]]\naccount_id = 1\nsymbol = \"BTCUSDT\"\nside = \"UP\"\nstrategy_account_id = 2\n",
            "attribution.claims[0].side: BUY or SELL"
        ),
        ("[attribution]\nclaims = 3\n", "attribution.claims: expected an array of tables"),
        ("[cancel]\nparallelism = 1.5\n", "cancel.parallelism: expected an integer"),
        ("[webhook]\nlisten = \"nowhere\"\n", "webhook.listen: must be HOST:PORT"),
        ("reconcile = 3\n", "reconcile: expected a table"),
    ])
    func badFilesNameTheKey(text: String, message: String) throws {
        let path = try Self.write(text)
        defer { try? FileManager.default.removeItem(atPath: path) }
        let error = #expect(throws: AppError.self) { try OrdersyncConfig.load(path: path, environment: [:]) }
        #expect(error?.description.contains(path) == true && error?.description.contains(message) == true, "\(error?.description ?? "")")
    }

    @Test func badEnvironmentValuesNameTheVariable() throws {
        let error = #expect(throws: AppError.self) { try OrdersyncConfig.load(path: nil, environment: ["ORDERSYNC_RECONCILE_PARALLELISM": "many"]) }
        #expect(error?.description.contains("ORDERSYNC_RECONCILE_PARALLELISM=many: expected an integer") == true)
        // A variable does not paper over a file whose section is not a table.
        let file = try Self.write("reconcile = 3\n")
        defer { try? FileManager.default.removeItem(atPath: file) }
        let kept = #expect(throws: AppError.self) { try OrdersyncConfig.load(path: file, environment: ["ORDERSYNC_RECONCILE_GRACE_MS": "5"]) }
        #expect(kept?.description.contains("reconcile: expected a table") == true, "\(kept?.description ?? "")")
        let range = #expect(throws: AppError.self) { try OrdersyncConfig.load(path: nil, environment: ["ORDERSYNC_RECONCILE_SPREAD": "2"]) }
        #expect(range?.description == "ORDERSYNC_RECONCILE_SPREAD: must be between 0 and 1", "\(range?.description ?? "")")
    }

    /// `[alerts]`: the origin's TELEGRAM_BOT_TOKEN and TELEGRAM_CHAT_ID stand in for keys not set;
    /// keys set (in the file or ORDERSYNC_ALERTS_*) win.
    @Test func alertSinksHonourTheOriginsTelegramVariables() throws {
        let origin = ["TELEGRAM_BOT_TOKEN": "1:origin-bot", "TELEGRAM_CHAT_ID": "-42"]
        let fromOrigin = AlertSinks(OrdersyncConfig().alerts, environment: origin)
        #expect(fromOrigin.telegram.botToken?.reveal() == "1:origin-bot" && fromOrigin.telegram.chatID == "-42" && fromOrigin.webhook == nil)
        let path = try Self.write("[alerts]\ntelegram_chat_id = \"-7\"\nwebhook_url = \"http://127.0.0.1:9/hook/\"\nwebhook_secret = \"s\"\n")
        defer { try? FileManager.default.removeItem(atPath: path) }
        let c = try OrdersyncConfig.load(path: path, environment: ["ORDERSYNC_ALERTS_TELEGRAM_PER_USER": "false"])
        let sinks = AlertSinks(c.alerts, environment: origin)
        #expect(sinks.telegram.chatID == "-7" && sinks.telegram.botToken?.reveal() == "1:origin-bot" && !sinks.telegram.perUser)
        #expect(sinks.webhook?.url == "http://127.0.0.1:9/hook" && sinks.webhook?.secret.reveal() == "s")
        #expect(AlertSinks(OrdersyncConfig().alerts, environment: [:]).telegram.botToken == nil)
    }

    @Test func theCLIReadsTheDatabaseFromTheFileAndExitsTwoOnABadKey() async throws {
        let dir = try CLITests.tempDir()
        defer { try? FileManager.default.removeItem(at: dir) }
        let db = dir.appendingPathComponent("c.sqlite").path
        let bad = try Self.write("[reconcile]\nconfirm = 2\n")
        defer { try? FileManager.default.removeItem(atPath: bad) }
        let result = try await CLITests.run(["reconcile", "--config", bad, "--db", db])
        #expect(result.status == 2 && result.stderr.contains("reconcile.confirm: unknown key"))
        #expect(!FileManager.default.fileExists(atPath: db), "nothing opened on bad config")
        let noDB = try await CLITests.run(["reconcile"])
        #expect(noDB.status == 2 && noDB.stderr.contains("no database"))
        // A file naming the database (an empty one: no accounts, nothing to list) is enough.
        let good = try Self.write("[database]\npath = \"\(db)\"\n")
        defer { try? FileManager.default.removeItem(atPath: good) }
        let run = try await CLITests.run(["reconcile", "--config", good, "--format", "json"])
        #expect(run.status == 0, "\(run.stderr)")
        #expect(FileManager.default.fileExists(atPath: db))
    }
}

@Suite struct DatabaseConfigTests {
    @Test func theDatabaseIsTheFlagThenTheFileThenDATABASE_URL() throws {
        let path = try ConfigTests.write(
            """
            [database]
            url = "postgresql://trader:password123@postgres:5432/trading_system"
            max_connections = 7
            [origin]
            secret_key = "from-the-file"
            """
        )
        let config = try OrdersyncConfig.load(path: path, environment: [:])
        #expect(config.database.url == "postgresql://trader:password123@postgres:5432/trading_system" && config.database.maxConnections == 7)
        #expect(config.origin.secretKey == "from-the-file" && config.origin.accountsEncryptionKey == nil)
        #expect(
            try EntryPoints.databaseName(flag: "/tmp/a.sqlite", config: config.database.url, environment: ["DATABASE_URL": "x"]) == "/tmp/a.sqlite"
        )
        #expect(try EntryPoints.databaseName(flag: nil, config: config.database.url, environment: ["DATABASE_URL": "x"]) == config.database.url)
        #expect(try EntryPoints.databaseName(flag: nil, config: nil, environment: ["DATABASE_URL": "sqlite:////tmp/o.db"]) == "sqlite:////tmp/o.db")
        #expect(throws: AppError.self) { try EntryPoints.databaseName(flag: nil, config: nil, environment: [:]) }
        let bad = try ConfigTests.write("[database]\nmax_connections = 0\n")
        #expect { try OrdersyncConfig.load(path: bad, environment: [:]) } throws: { "\($0)".contains("database.max_connections: must be 1 to 100") }
    }

    @Test func theCLIFindsDATABASE_URLAndNamesAMissingDatabase() async throws {
        let dir = try CLITests.tempDir()
        defer { try? FileManager.default.removeItem(at: dir) }
        let file = dir.appendingPathComponent("env.sqlite").path
        let migrated = try await CLITests.run(["migrate"], environment: ["DATABASE_URL": "sqlite:///" + file])
        #expect(migrated.status == 0 && migrated.stdout.contains("\(file): applied v1-origin-tables"), "\(migrated.stdout) \(migrated.stderr)")
        let none = try await CLITests.run(["migrate"], environment: ["DATABASE_URL": ""])
        #expect(none.status == 2 && none.stderr.contains("no database: give --db"))
        let wrong = try await CLITests.run(["reconcile", "--db", "mysql://u@h/db"], environment: ["DATABASE_URL": ""])
        #expect(wrong.status == 2 && wrong.stderr.contains("unsupported database URL scheme"))
        // A PostgreSQL nobody listens on: the error names the server, never the password.
        let down = try await CLITests.run(["check", "--db", "postgresql://trader:s3cret-pw@127.0.0.1:1/trading_system"])
        #expect(
            down.status == 2 && down.stderr.contains("postgresql://trader:***@127.0.0.1:1/trading_system") && !down.stderr.contains("s3cret-pw"),
            "\(down.stderr)"
        )
    }
}
