import Foundation
import OrderStore
import StoreTestSupport
import SyncCore
import Testing

/// `ordersync claim`, `unclaim` and `orphans` over the real binary, on every backend.
@Suite struct OperatorCommandsTests {
    static func json(_ text: String) throws -> [String: Any] {
        try #require(try JSONSerialization.jsonObject(with: Data(text.utf8)) as? [String: Any], "\(text)")
    }

    @Test(arguments: TestDatabases.backends)
    func claimsAreCheckedRecordedListedAndRemoved(_ backend: TestBackend) async throws {
        let dir = try CLITests.tempDir()
        defer { try? FileManager.default.removeItem(at: dir) }
        let db = try await TestDatabases.forTest(backend, in: dir, name: "claims")
        #expect(try await CLITests.run(["load", "--db", db, "--scenario", ReconcileEndToEndTests.scenario]).status == 0)
        func claims() async throws -> [String] {
            try await TestDatabases.rows(db, "SELECT account_id, symbol, side, strategy_account_id FROM sync_claims ORDER BY symbol, side").map {
                "\($0.int(0)!) \($0.text(1)!) \($0.text(2)!) \($0.int(3)!)"
            }
        }

        #expect(try await CLITests.run(["claim", "--db", db]).stdout.contains("no claims"))
        // Two claims, one in the DB's slash form: recorded by the pair's key, all at once.
        let added = try await CLITests.run(["claim", "--db", db, "1:BTC/USDT:SELL=1", "1:ETHUSDT=5"])
        #expect(added.status == 0 && added.stdout.contains("claimed: account 1 BTCUSDT SELL → strategy link 1"), "\(added.stderr)")
        #expect(try await claims() == ["1 BTCUSDT SELL 1", "1 ETHUSDT  5"])
        let again = try await CLITests.run(["claim", "--db", db, "1:btcusdt:sell=1"])
        #expect(again.status == 0 && again.stdout.contains("already claimed"))

        // Refusals name the reason and record nothing — not even the acceptable claim beside one.
        let refusals: [([String], String)] = [
            (["1:BTCUSDT:BUY=3"], "already claimed by strategy link 1"),
            (["1:SOLUSDT=1", "2:XRPUSDT=1"], "strategy link 1 is on account 1, not on account 2"),
            (["1:SOLUSDT=99"], "strategy link 99 does not exist"),
            (["1:SOLUSDT=1", "1:SOL/USDT:BUY=3"], "SOLUSDT is already claimed by strategy link 1"),
        ]
        for (arguments, reason) in refusals {
            let refused = try await CLITests.run(["claim", "--db", db] + arguments)
            #expect(
                refused.status == 1 && refused.stderr.contains(reason) && refused.stderr.contains("nothing recorded"),
                "\(arguments): \(refused.stderr)"
            )
        }
        // A claim the configuration's file already gives another link is refused too.
        let config = dir.appendingPathComponent("ordersync.toml")
        try Data("[[attribution.claims]]\naccount_id = 1\nsymbol = \"SOLUSDT\"\nstrategy_account_id = 3\n".utf8).write(to: config)
        let configured = try await CLITests.run(["claim", "--db", db, "--config", config.path, "1:SOLUSDT=1"])
        #expect(configured.status == 1 && configured.stderr.contains("in the configuration"), "\(configured.stderr)")
        #expect(try await claims() == ["1 BTCUSDT SELL 1", "1 ETHUSDT  5"])
        // Bad input exits non-zero naming it.
        for bad in ["1:BTCUSDT", "x:BTCUSDT=1", "1:BTCUSDT:LONG=1", "1::=1"] {
            let result = try await CLITests.run(["claim", "--db", db, bad])
            #expect(result.status != 0 && result.status != 1 && result.stderr.contains(bad), "\(bad): \(result.stderr)")
        }

        // The listing: the database's and the file's, with their source.
        let listed = try Self.json(try await CLITests.run(["claim", "--db", db, "--config", config.path, "--format", "json"]).stdout)
        let lines = try #require(listed["claims"] as? [[String: Any]])
        #expect(
            lines.map { "\($0["account_id"]!) \($0["symbol"]!) \($0["side"] ?? "-") \($0["strategy_account_id"]!) \($0["source"]!)" }
                == ["1 SOLUSDT - 3 config", "1 BTCUSDT SELL 1 database", "1 ETHUSDT - 5 database"]
        )

        let removed = try await CLITests.run(["unclaim", "--db", db, "1:BTC/USDT"])
        #expect(removed.status == 0 && removed.stdout.contains("unclaimed 1"))
        #expect(try await claims() == ["1 ETHUSDT  5"])
        let none = try await CLITests.run(["unclaim", "--db", db, "1:BTCUSDT:SELL"])
        #expect(none.status == 1 && none.stdout.contains("no recorded claim"))
        #expect(try await CLITests.run(["unclaim", "--db", db, "1:BTCUSDT=1"]).status != 0)
    }

    @Test(arguments: TestDatabases.backends)
    func orphansListTheRegistryWithFilters(_ backend: TestBackend) async throws {
        let dir = try CLITests.tempDir()
        defer { try? FileManager.default.removeItem(at: dir) }
        let db = try await TestDatabases.forTest(backend, in: dir, name: "orphans")
        #expect(try await CLITests.run(["load", "--db", db, "--scenario", ReconcileEndToEndTests.scenario]).status == 0)
        #expect(try await CLITests.run(["orphans", "--db", db]).stdout.contains("no registered orphans"))
        let insert = """
            INSERT INTO sync_orphans (account_id, market, exchange_order_id, client_order_id, symbol, side, order_type, status, price,
                stop_price, quantity, executed_quantity, order_time, first_seen_at, last_seen_at, times_seen)
            VALUES (?, ?, ?, ?, ?, 'SELL', 'LIMIT', 'NEW', '75000', NULL, '0.020', '0', 1800000000000, ?, 1800000300000, ?)
            """
        try await TestDatabases.execute(db, insert, [Int64(1), "FUTURES", "7100", "manual-hedge", "BTCUSDT", Int64(1_800_000_000_000), Int64(5)])
        try await TestDatabases.execute(
            db,
            insert,
            [Int64(2), "FUTURES", "7200", Optional<String>.none, "ETHUSDT", Int64(1_800_000_100_000), Int64(1)]
        )
        try await TestDatabases.execute(db, insert, [Int64(1), "SPOT", "7300", "x", "BTCUSDT", Int64(1_800_000_200_000), Int64(2)])

        func ids(_ extra: [String]) async throws -> [String] {
            let result = try await CLITests.run(["orphans", "--db", db, "--format", "json"] + extra)
            #expect(result.status == 0, "\(result.stderr)")
            return try #require(try Self.json(result.stdout)["orphans"] as? [[String: Any]]).map { $0["exchange_order_id"] as! String }
        }
        #expect(try await ids([]) == ["7100", "7300", "7200"], "by account, then market, then symbol")
        #expect(try await ids(["--account", "2"]) == ["7200"])
        #expect(try await ids(["--symbol", "btc/usdt", "--market", "futures"]) == ["7100"])
        #expect(try await ids(["--min-seen", "2"]) == ["7100", "7300"])
        #expect(try await ids(["--exchange", "binance"]).count == 3)
        #expect(try await ids(["--exchange", "upbit"]).isEmpty)
        let first = try #require(
            try Self.json(try await CLITests.run(["orphans", "--db", db, "--format", "json"]).stdout)["orphans"] as? [[String: Any]]
        )
        .first
        #expect(
            first?["account"] as? String == "owner-main" && first?["times_seen"] as? Int == 5
                && first?["first_seen_at"] as? String == "2027-01-15T08:00:00.000Z"
        )
        let text = try await CLITests.run(["orphans", "--db", db]).stdout
        #expect(text.contains("1 owner-main") && text.contains("manual-hedge") && text.contains("3 orphan(s)"), "\(text)")
        for bad in [["--market", "swap"], ["--min-seen", "0"], ["--account", "-1"]] {
            let result = try await CLITests.run(["orphans", "--db", db] + bad)
            #expect(result.status != 0 && result.stderr.contains(bad[0]), "\(bad): \(result.stderr)")
        }
    }

    /// The acceptance of issue #17: a claim written by the CLI is used by the next pass of a
    /// running `serve` — the manual order it names is adopted for that link, with `claim` evidence.
    @Test(arguments: TestDatabases.backends)
    func aClaimWrittenWhileServeRunsIsUsedByItsNextPass(_ backend: TestBackend) async throws {
        let dir = try CLITests.tempDir()
        defer { try? FileManager.default.removeItem(at: dir) }
        let db = try await TestDatabases.forTest(backend, in: dir, name: "serve-claim")
        #expect(try await CLITests.run(["load", "--db", db, "--scenario", ReconcileEndToEndTests.scenario]).status == 0)
        let (base, simulator) = try await ReconcileEndToEndTests.simulator(ReconcileEndToEndTests.scenario)
        defer { simulator.terminate() }
        let serve = Process()
        serve.executableURL = URL(fileURLWithPath: try CLITests.binary())
        serve.arguments = [
            "serve", "--db", db, "--spot-url", base, "--futures-url", base, "--interval-seconds", "0.2", "--grace-ms", "0", "--listen",
            "127.0.0.1:0",
        ]
        serve.standardOutput = FileHandle.nullDevice
        // Passes every 0.2 s are what this test is about: with healthy streams a pass would come
        // only every `stream_interval_seconds`.
        serve.environment = ProcessInfo.processInfo.environment.merging(["ORDERSYNC_STREAMS_ENABLED": "false"]) { _, new in new }
        try serve.run()
        defer { if serve.isRunning { serve.terminate() } }

        func poll(_ what: String, _ condition: () async throws -> Bool) async throws {
            let deadline = Date().addingTimeInterval(60)
            while try await !condition() {
                guard Date() < deadline else {
                    Issue.record("timed out waiting for \(what)")
                    return
                }
                try await Task.sleep(for: .milliseconds(50))
            }
        }
        // Until the claim, the manual order is a registered orphan and has no row.
        try await poll("the orphan registered") {
            try await TestDatabases.rows(db, "SELECT times_seen FROM sync_orphans WHERE exchange_order_id = '7100'").first?.int(0) ?? 0 >= 2
        }
        #expect(try await TestDatabases.rows(db, "SELECT id FROM open_orders WHERE exchange_order_id = '7100'").isEmpty)
        #expect(try await CLITests.run(["orphans", "--db", db]).stdout.contains("7100"))

        let claimed = try await CLITests.run(["claim", "--db", db, "1:BTCUSDT:SELL=1"])
        #expect(claimed.status == 0, "\(claimed.stderr)")
        try await poll("the claimed order adopted") {
            try await TestDatabases.rows(db, "SELECT strategy_account_id FROM open_orders WHERE exchange_order_id = '7100'").first?.int(0) == 1
        }
        let finding = try await TestDatabases.rows(
            db,
            "SELECT evidence, strategy_account_id FROM sync_findings WHERE exchange_order_id = '7100' AND kind = 'orphan_adopted'"
        )
        #expect(finding.first?.text(0) == "claim" && finding.first?.int(1) == 1, "\(finding.map(\.values))")
        #expect(!(try await CLITests.run(["orphans", "--db", db]).stdout.contains("7100")), "an adopted order leaves the registry")
        serve.terminate()
    }

    @Test(arguments: TestDatabases.backends)
    func historyListsPassesAndCancelsInTheRange(_ backend: TestBackend) async throws {
        let dir = try CLITests.tempDir()
        defer { try? FileManager.default.removeItem(at: dir) }
        let db = try await TestDatabases.forTest(backend, in: dir, name: "history")
        #expect(try await CLITests.run(["load", "--db", db, "--scenario", ReconcileEndToEndTests.scenario]).status == 0)
        let t0: Int64 = 1_800_000_000_000  // 2027-01-15T08:00:00Z
        for (id, start, status) in [(Int64(1), t0, "ok"), (2, t0 + 3_600_000, "errors"), (3, t0 + 7_200_000, "ok")] {
            try await TestDatabases.execute(
                db,
                "INSERT INTO sync_runs (id, trigger, started_at, finished_at, status, sections, totals_json) VALUES (?, 'schedule', ?, ?, ?, 2, ?)",
                [id, start, start + 1_500, status, #"{"matched":3,"orphan_foreign":1}"#]
            )
        }
        for (run, account, order) in [(Int64(2), Int64(1), "7100"), (2, 2, "7200"), (3, 1, "7300")] {
            try await TestDatabases.execute(
                db,
                """
                INSERT INTO sync_findings (run_id, account_id, market, kind, exchange_order_id, symbol, side, detail, outcome, created_at)
                VALUES (?, ?, 'FUTURES', 'orphan_foreign', ?, 'BTCUSDT', 'SELL', 'no row', 'orphan reported', ?)
                """,
                [run, account, order, t0 + 3_600_500]
            )
        }
        for (oid, account, state) in [(Int64(1), Int64(1), "cancelled"), (2, 1, "cancelled"), (3, 2, "failed")] {
            try await TestDatabases.execute(
                db,
                """
                INSERT INTO sync_cancel_intents (request_id, strategy_account_id, account_id, market, open_order_id, exchange_order_id, symbol, state,
                    created_at, resolved_at)
                VALUES ('hook-1', ?, ?, 'FUTURES', ?, ?, 'BTCUSDT', ?, ?, ?)
                """,
                [account, account, oid, "80\(oid)", state, t0 + 3_700_000, t0 + 3_700_300]
            )
        }
        func document(_ extra: [String]) async throws -> [String: Any] {
            let result = try await CLITests.run(["history", "--db", db, "--format", "json"] + extra)
            #expect(result.status == 0, "\(result.stderr)")
            return try Self.json(result.stdout)
        }
        let window = ["--since", "2027-01-15T08:30:00Z", "--until", "2027-01-15T10:30:00Z"]
        let all = try await document(window)
        let passes = try #require(all["passes"] as? [[String: Any]])
        #expect(passes.map { $0["run_id"] as? Int } == [2, 3], "the pass at 08:00 is outside the range")
        #expect(passes.first?["status"] as? String == "errors" && (passes.first?["totals"] as? [String: Int])?["orphan_foreign"] == 1)
        #expect((passes.first?["findings"] as? [[String: Any]])?.compactMap { $0["exchange_order_id"] as? String } == ["7100", "7200"])
        let cancels = try #require(all["cancels"] as? [[String: Any]])
        #expect(cancels.count == 1 && cancels.first?["request_id"] as? String == "hook-1")
        #expect(cancels.first?["intents"] as? [String: Int] == ["cancelled": 2, "failed": 1] && cancels.first?["account_ids"] as? [Int] == [1, 2])

        let mine = try await document(window + ["--account", "2"])
        #expect((mine["passes"] as? [[String: Any]])?.map { ($0["findings"] as? [[String: Any]])?.count } == [1, 0])
        #expect(((mine["cancels"] as? [[String: Any]])?.first?["intents"] as? [String: Int]) == ["failed": 1])

        let text = try await CLITests.run(["history", "--db", db, "--findings"] + window).stdout
        let lines = text.split(separator: "\n").map(String.init)
        #expect(lines.first?.contains("2 pass(es), 1 cancel(s)") == true, "\(text)")
        #expect(lines.firstIndex { $0.hasPrefix("pass 2 ") }! < lines.firstIndex { $0.hasPrefix("cancel hook-1") }!, "one time line")
        #expect(text.contains("orphan_foreign  account 1 FUTURES BTCUSDT SELL 7100") && text.contains("cancelled 2, failed 1"), "\(text)")
        #expect(!(try await CLITests.run(["history", "--db", db] + window).stdout.contains("account 1 FUTURES")), "findings only with --findings")
        for bad in [["--since", "yesterday"], ["--since", "1h", "--until", "2h"], ["--account", "0"]] {
            let result = try await CLITests.run(["history", "--db", db] + bad)
            #expect(result.status != 0 && result.stderr.contains(bad[bad.count - 2]), "\(bad): \(result.stderr)")
        }
    }
}
