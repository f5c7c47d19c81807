import Crypto
import Foundation
import GRDB
import LocalStack
import OrderSyncApp
import SyncTestSupport
import Testing

#if canImport(FoundationNetworking)
import FoundationNetworking
#endif

/// The real `ordersync` binary, as a person or cron runs it.
@Suite struct CLITests {
    static let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
    static let seedScenario = root.appendingPathComponent("fixtures/scenarios/seed-isolation.json").path

    /// The binary built beside the test bundle.
    static func binary() throws -> String {
        let dir = URL(fileURLWithPath: CommandLine.arguments[0]).deletingLastPathComponent()
        for candidate in [dir, dir.deletingLastPathComponent()] {
            let path = candidate.appendingPathComponent("ordersync").path
            if FileManager.default.isExecutableFile(atPath: path) { return path }
        }
        let fallback = root.appendingPathComponent(".build/debug/ordersync").path
        try #require(FileManager.default.isExecutableFile(atPath: fallback), "ordersync binary not built")
        return fallback
    }

    typealias Result = ChildProcess.Result

    /// Runs the binary; `environment` adds to (or, with "", removes from) this process's environment.
    static func run(_ arguments: [String], environment: [String: String] = [:]) async throws -> Result {
        var env: [String: String]?
        if !environment.isEmpty {
            env = ProcessInfo.processInfo.environment
            for (k, v) in environment { env?[k] = v.isEmpty ? nil : v }
        }
        return try await execute(try binary(), arguments, environment: env)
    }

    /// Runs `executable` to the end, collecting its output, without blocking a thread of the
    /// cooperative pool while it waits (ChildProcess says why).
    static func execute(
        _ executable: String,
        _ arguments: [String],
        environment: [String: String]? = nil,
        in directory: URL? = nil,
        stdin: String? = nil
    ) async throws -> Result {
        try await ChildProcess.run(executable, arguments, environment: environment, in: directory, stdin: stdin)
    }

    static func tempDir() throws -> URL {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("ordersync-cli-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        return dir
    }

    /// Every row of every table, as text: "unchanged" means this is equal.
    static func dump(_ path: String) throws -> [String] {
        let queue = try DatabaseQueue(path: path)
        defer { try? queue.close() }
        return try queue.read { db in
            var lines: [String] = []
            for table in try String.fetchAll(db, sql: "SELECT name FROM sqlite_master WHERE type = 'table' ORDER BY name") {
                lines += try Row.fetchAll(db, sql: "SELECT * FROM \(table.quotedDatabaseIdentifier)").map { "\(table) \($0)" }
            }
            return lines
        }
    }

    @Test func migrateLoadAndCountFive() async throws {
        let dir = try Self.tempDir()
        defer { try? FileManager.default.removeItem(at: dir) }
        let db = dir.appendingPathComponent("x.sqlite").path
        let migrate = try await Self.run(["migrate", "--db", db])
        #expect(migrate.status == 0)
        #expect(
            migrate.stdout.contains("applied v1-origin-tables, v1-sync-tables, v2-sync-sweeps, v3-findings-evidence, v4-sync-claims, v5-sync-alerts")
        )
        let load = try await Self.run(["load", "--db", db, "--scenario", Self.seedScenario])
        #expect(load.status == 0, "\(load.stderr)")
        #expect(load.stdout.contains("5 open orders"))
        let count = try await DatabaseQueue(path: db).read { try Int.fetchOne($0, sql: "SELECT count(*) FROM open_orders") }
        #expect(count == 5)
        let before = try Self.dump(db)
        let again = try await Self.run(["migrate", "--db", db])
        #expect(again.status == 0 && again.stdout.contains("up to date"))
        #expect(try Self.dump(db) == before)
    }

    @Test(arguments: [
        ("malformed", "{\"users\": [\n  {\"id\": 1,, }\n", "line 2, column 12: expected a quoted key"),
        (
            "unknown-link",
            "\"strategy_account_id\": 2, \"exchange_order_id\": \"8100005\"=>\"strategy_account_id\": 7, \"exchange_order_id\": \"8100005\"",
            "db_orders[4].strategy_account_id: no strategy_accounts row with id 7"
        ),
        (
            "duplicate", "\"exchange_order_id\": \"8100005\"=>\"exchange_order_id\": \"8100001\"",
            "db_orders[4].exchange_order_id: duplicate exchange_order_id \"8100001\""
        ),
        ("non-decimal", "\"price\": \"72000\"=>\"price\": \"72k\"", "db_orders[4].price: \"72k\" is not a decimal amount"),
        ("typo", "\"quantity\": \"0.020\"}=>\"qty\": \"0.020\"}", "db_orders[2].qty: unknown key"),
        (
            "bad-market", "\"market_type\": \"FUTURES\"}=>\"market_type\": \"OPTIONS\"}",
            "strategies[0].market_type: \"OPTIONS\" is not SPOT or FUTURES"
        ),
    ])
    func badScenariosExitNonZeroNamingFileAndItemAndChangeNothing(name: String, edit: String, message: String) async throws {
        let dir = try Self.tempDir()
        defer { try? FileManager.default.removeItem(at: dir) }
        let db = dir.appendingPathComponent("x.sqlite").path
        #expect(try await Self.run(["load", "--db", db, "--scenario", Self.seedScenario]).status == 0)
        let before = try Self.dump(db)

        let file = dir.appendingPathComponent("\(name).json")
        var text = try String(contentsOfFile: Self.seedScenario, encoding: .utf8)
        if name == "malformed" {
            text = edit
        } else {
            let parts = edit.components(separatedBy: "=>")
            let range = try #require(text.range(of: parts[0]), "fixture changed: \(parts[0])")
            text.replaceSubrange(range, with: parts[1])
        }
        try text.write(to: file, atomically: true, encoding: .utf8)
        let result = try await Self.run(["load", "--db", db, "--scenario", file.path])
        #expect(result.status != 0)
        #expect(result.stderr.contains(file.path), "\(result.stderr)")
        #expect(result.stderr.contains(message), "\(result.stderr)")
        #expect(try Self.dump(db) == before)
    }

    @Test func aScenarioThatCollidesWithTheDatabaseWritesNothing() async throws {
        let dir = try Self.tempDir()
        defer { try? FileManager.default.removeItem(at: dir) }
        let db = dir.appendingPathComponent("x.sqlite").path
        #expect(try await Self.run(["load", "--db", db, "--scenario", Self.seedScenario]).status == 0)
        let before = try Self.dump(db)
        let result = try await Self.run(["load", "--db", db, "--scenario", Self.seedScenario])
        #expect(result.status != 0)
        #expect(result.stderr.contains("users[0]") && result.stderr.contains("nothing was written"))
        #expect(try Self.dump(db) == before)
    }

    @Test func helpAndVersion() async throws {
        for command in [[], ["migrate"], ["load"]] {
            let help = try await Self.run(command + ["--help"])
            #expect(help.status == 0 && help.stdout.contains("USAGE"))
        }
        #expect(try await Self.run(["--version"]).stdout.trimmingCharacters(in: .whitespacesAndNewlines) == "0.1.0")
        let missing = try await Self.run(["load", "--db", "/tmp/never.sqlite"])
        #expect(missing.status != 0 && missing.stderr.contains("--scenario"))
        #expect(!FileManager.default.fileExists(atPath: "/tmp/never.sqlite"))
    }

    @Test func secretsNeverReachOutput() async throws {
        let dir = try Self.tempDir()
        defer { try? FileManager.default.removeItem(at: dir) }
        let db = dir.appendingPathComponent("x.sqlite").path
        for result in [
            try await Self.run(["load", "--db", db, "--scenario", Self.seedScenario]),
            try await Self.run(["load", "--db", db, "--scenario", Self.seedScenario]),
        ] {
            for secret in ["simsecret-account-x-do-not-log", "tok-alice-", "tok-bob-"] {
                #expect(!result.stdout.contains(secret) && !result.stderr.contains(secret))
            }
        }
    }

    @Test func demoCancelsThePublicStrategyOverHTTPAndIsolationHolds() async throws {
        let text = try await Self.run(["demo"])
        #expect(text.status == 0, "\(text.stderr)")
        #expect(text.stdout.contains("CANCEL_ALL_ORDER trend-public: 7 order(s) — cancelled 7, already closed 0, failed 0"), "\(text.stdout)")
        #expect(text.stdout.contains("grid-private: ETHUSDT SELL 5005, ETHUSDT SELL 5006"))
        #expect(
            text.stdout.contains("no row (manual or foreign): BTCUSDT SELL 5100, BTCUSDT BUY 5102, KRW-BTC SELL 5e1a0000-0000-4000-8000-00000000d100")
        )
        // The public spot strategy: the owner's Binance spot account, an Upbit and a Bithumb subscriber.
        #expect(text.stdout.contains("CANCEL_ALL_ORDER kimchi-spot: 4 order(s) — cancelled 4, already closed 0, failed 0"), "\(text.stdout)")
        #expect(
            text.stdout.contains("BTC/KRW BUY order 5e1a0000-0000-4000-8000-00000000d001 (row 11, link 8) → CANCELED")
                && text.stdout.contains("BTC/KRW BUY order C0101000000000053249 (row 13, link 9) → CANCELED")
        )
        #expect(text.stdout.contains("Isolation held"))
        // The origin's lost orders: a placeholder repaired in place, a recorded id adopted; both then cancelled.
        #expect(
            text.stdout.contains("placeholder repaired") && text.stdout.contains("placeholder:9")
                && text.stdout.contains("SOL/USDT BUY order 5200 (row 9, link 1) → CANCELED")
        )
        #expect(text.stdout.contains("recorded:trades#1") && text.stdout.contains("XRPUSDT SELL order 5201"))
        #expect(text.stderr.isEmpty, "no noise on stderr: \(text.stderr)")
        let json = try await Self.run(["demo", "--format", "json"])
        let object = try #require(JSONSerialization.jsonObject(with: Data(json.stdout.utf8)) as? [String: Any])
        let totals = try #require((object["drift_report"] as? [String: Any])?["totals"] as? [String: Int])
        #expect(
            totals["drifted"] == 2 && totals["closed"] == 2 && totals["orphan_adopted"] == 3 && totals["orphan_foreign"] == 2
                && totals["in_flight"] == 1
        )
        #expect(object["isolation_held"] as? Bool == true)
        let cancels = try #require(object["cancels"] as? [[String: Any]])
        #expect(cancels.compactMap { ($0["totals"] as? [String: Int])?["cancelled"] } == [7, 4])
        #expect(try await Self.run(["demo", "--format", "yaml"]).status != 0)
    }

    /// `ordersync demo` from an installed binary: a copy of it in a temporary directory, run with
    /// the checkout hidden (an empty tmpfs mounted over it in a private mount namespace, where the
    /// machine allows it: root and `unshare`), so that nothing the demo reads may come from the
    /// source tree or `.build`.
    @Test func theDemoRunsFromACopiedBinaryWithoutTheCheckout() async throws {
        let dir = try Self.tempDir()
        defer { try? FileManager.default.removeItem(at: dir) }
        let copy = dir.appendingPathComponent("ordersync").path
        try FileManager.default.copyItem(atPath: try Self.binary(), toPath: copy)
        let hide = "mount -t tmpfs ordersync-hidden \(Self.root.path) && test -z \"$(ls -A \(Self.root.path))\""
        let canHide = await Self.shell(["unshare", "-m", "sh", "-c", hide]).status == 0
        let command = canHide ? ["unshare", "-m", "sh", "-c", hide + " && cd / && exec \(copy) demo"] : [copy, "demo"]
        if !canHide {
            print("CLITests.theDemoRunsFromACopiedBinaryWithoutTheCheckout: unshare unavailable; the copy runs with the checkout in place")
        }
        let result = await Self.shell(command, in: dir)
        #expect(result.status == 0, "\(result.stderr)")
        #expect(result.stdout.contains("scenario demo") && result.stdout.contains("Isolation held"), "\(result.stdout)")
    }

    /// The scenario built into the binary is the fixture (scripts/gen-demo-scenario writes one from the other).
    @Test func theEmbeddedDemoScenarioIsTheFixture() throws {
        let fixture = try String(contentsOfFile: Self.root.appendingPathComponent("fixtures/scenarios/demo.json").path, encoding: .utf8)
        #expect(
            Demo.bundledScenario.trimmingCharacters(in: .newlines) == fixture.trimmingCharacters(in: .newlines),
            "run scripts/gen-demo-scenario after editing fixtures/scenarios/demo.json"
        )
    }

    /// Runs a command found on PATH (through /usr/bin/env), optionally in `directory`.
    static func shell(_ arguments: [String], in directory: URL? = nil) async -> Result {
        (try? await execute("/usr/bin/env", arguments, in: directory)) ?? Result(status: -1, stdout: "", stderr: "cannot run \(arguments)")
    }

    /// Reads a running child's pipe until `done` holds for what was read, or 30 s pass (`ChildProcess.read`).
    static func read(_ pipe: Pipe, until done: (String) -> Bool) async throws -> String {
        try await ChildProcess.read(pipe, until: done)
    }

    @Test func simulateServesTheScenarioAndStopsOnSIGTERM() async throws {
        let (base, process) = try await ReconcileEndToEndTests.simulator(Self.seedScenario)
        defer { if process.isRunning { process.terminate() } }
        // A signed request with the scenario's key pair lists its five futures orders.
        let query = "symbol=BTCUSDT&timestamp=\(Int64(Date().timeIntervalSince1970 * 1000))"
        let signature = hmacHex(secret: "simsecret-account-x-do-not-log", payload: query)
        var request = URLRequest(url: URL(string: "\(base)/fapi/v1/openOrders?\(query)&signature=\(signature)")!)
        request.setValue("simkey-account-x", forHTTPHeaderField: "X-MBX-APIKEY")
        let (data, response) = try await URLSession.shared.data(for: request)
        #expect((response as? HTTPURLResponse)?.statusCode == 200)
        let orders = try #require(try JSONSerialization.jsonObject(with: data) as? [[String: Any]])
        #expect(orders.compactMap { $0["orderId"] as? Int }.sorted() == [8_100_001, 8_100_002, 8_100_003, 8_100_004, 8_100_005])
        process.terminate()  // SIGTERM
        let stop = Date().addingTimeInterval(20)
        while process.isRunning && Date() < stop { try await Task.sleep(for: .milliseconds(20)) }
        #expect(!process.isRunning && process.terminationStatus == 0)
    }

    /// A file for the simulator alone: accounts (no owner, no name) and exchange orders. `simulate`
    /// serves it; `load` refuses it naming the account and the key, and writes nothing.
    @Test func aSimulatorOnlyScenarioNeedsOnlyAccountsAndExchangeOrders() async throws {
        let dir = try Self.tempDir()
        defer { try? FileManager.default.removeItem(at: dir) }
        let file = dir.appendingPathComponent("sim-only.json").path
        try #"""
        {"name": "sim-only",
         "accounts": [{"id": 7, "api_key": "solo-key", "api_secret": "solo-secret"}],
         "exchange_orders": [{"account_id": 7, "market": "FUTURES", "order_id": 77, "symbol": "ETHUSDT", "side": "SELL", "price": "4000", "quantity": "0.1"}]}
        """#.write(toFile: file, atomically: true, encoding: .utf8)
        let (base, process) = try await ReconcileEndToEndTests.simulator(file)
        defer { if process.isRunning { process.terminate() } }
        let query = "timestamp=\(Int64(Date().timeIntervalSince1970 * 1000))"
        var request = URLRequest(url: URL(string: "\(base)/fapi/v1/openOrders?\(query)&signature=\(hmacHex(secret: "solo-secret", payload: query))")!)
        request.setValue("solo-key", forHTTPHeaderField: "X-MBX-APIKEY")
        let (data, response) = try await URLSession.shared.data(for: request)
        #expect((response as? HTTPURLResponse)?.statusCode == 200)
        #expect(try #require(try JSONSerialization.jsonObject(with: data) as? [[String: Any]]).compactMap { $0["orderId"] as? Int } == [77])
        let db = dir.appendingPathComponent("db.sqlite").path
        let load = try await Self.run(["load", "--db", db, "--scenario", file])
        #expect(load.status == 2 && load.stderr.contains("accounts[0]") && load.stderr.contains("user_id"), "\(load.stderr)")
        if FileManager.default.fileExists(atPath: db) { #expect(try Self.dump(db).allSatisfy { !$0.hasPrefix("accounts ") }) }
    }

    @Test func simulateRejectsBadOptionsByName() async throws {
        let rate = try await Self.run(["simulate", "--fault-rate", "2"])
        #expect(rate.status != 0 && rate.stderr.contains("--fault-rate"))
        let port = try await Self.run(["simulate", "--port", "70000"])
        #expect(port.status != 0 && port.stderr.contains("--port"))
        let missing = try await Self.run(["simulate", "--scenario", "/nonexistent/s.json"])
        #expect(missing.status == 2 && missing.stderr.contains("/nonexistent/s.json"))
    }
}

func hmacHex(secret: String, payload: String) -> String {
    HMAC<SHA256>.authenticationCode(for: Array(payload.utf8), using: SymmetricKey(data: Array(secret.utf8)))
        .map { ($0 < 16 ? "0" : "") + String($0, radix: 16) }.joined()
}
