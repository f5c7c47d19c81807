import Foundation
import OrderStore
import StoreTestSupport
import Testing

#if canImport(FoundationNetworking)
import FoundationNetworking
#endif

/// `ordersync reconcile` (the real binary) against `ordersync simulate` (the real binary) and a
/// temporary SQLite database: every case of issue #5 classified and repaired as the rules say.
@Suite struct ReconcileEndToEndTests {
    static let scenario = CLITests.root.appendingPathComponent("fixtures/scenarios/reconcile-cases.json").path

    /// Starts the simulator on a free port; returns its base URL and the process. The weight
    /// limit is raised: these tests run passes every few hundred ms, which the real limit would
    /// (rightly) pace to a window a minute — the weight rules have their own tests.
    static func simulator(_ scenario: String) async throws -> (String, Process) {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: try CLITests.binary())
        process.arguments = ["simulate", "--port", "0", "--scenario", scenario, "--weight-limit", "10000000"]
        let out = Pipe()
        process.standardOutput = out
        try process.run()
        let text = try await CLITests.read(out) { $0.contains("listening on") }
        let base = try #require(text.split(separator: " ").first { $0.hasPrefix("http://127.0.0.1:") }.map(String.init), "\(text)")
        return (base, process)
    }

    static func post(_ url: String, _ body: String) async throws {
        var request = URLRequest(url: URL(string: url)!)
        request.httpMethod = "POST"
        request.httpBody = Data(body.utf8)
        let (_, response) = try await URLSession.shared.data(for: request)
        try #require((response as? HTTPURLResponse)?.statusCode == 200)
    }

    static func get(_ url: String) async throws -> Any {
        let (data, _) = try await URLSession.shared.data(from: URL(string: url)!)
        return try JSONSerialization.jsonObject(with: data)
    }

    struct Pass {
        var status: Int32
        var json: [String: Any]
        func section(_ account: Int, _ market: String) -> [String: Any]? {
            (json["sections"] as? [[String: Any]])?.first { $0["account_id"] as? Int == account && ($0["market"] as? String) == market }
        }
        func findings(_ kind: String) -> [[String: Any]] {
            ((json["sections"] as? [[String: Any]]) ?? []).flatMap { ($0["findings"] as? [[String: Any]]) ?? [] }.filter {
                $0["kind"] as? String == kind
            }
        }
        var totals: [String: Int] { (json["totals"] as? [String: Int]) ?? [:] }
    }

    @Test(arguments: TestDatabases.backends)
    func everyCaseIsClassifiedAndRepairedByTheRules(_ backend: TestBackend) async throws {
        let dir = try CLITests.tempDir()
        defer { try? FileManager.default.removeItem(at: dir) }
        let db = try await TestDatabases.forTest(backend, in: dir, name: "cases")
        #expect(try await CLITests.run(["load", "--db", db, "--scenario", Self.scenario]).status == 0)
        let (base, simulator) = try await Self.simulator(Self.scenario)
        defer { simulator.terminate() }
        try await Self.post(base + "/_sim/faults", #"{"failing_accounts":[3]}"#)

        func reconcile(_ extra: [String]) async throws -> Pass {
            let result = try await CLITests.run(
                [
                    "reconcile", "--db", db, "--spot-url", base, "--futures-url", base, "--format", "json",
                    "--claim", "1:ETHUSDT=5",
                ] + extra
            )
            let json = try #require(
                try JSONSerialization.jsonObject(with: Data(result.stdout.utf8)) as? [String: Any],
                "\(result.stderr) \(result.stdout)"
            )
            return Pass(status: result.status, json: json)
        }
        func rows(_ sql: String) async throws -> [SQLRow] { try await TestDatabases.rows(db, sql) }

        // Pass 1: every account; account 3's listing fails → exit 2, and its row is untouched. A long
        // grace keeps the order placed "1 s ago" in flight however slow the machine is today.
        let first = try await reconcile(["--grace-ms", "600000"])
        #expect(first.status == 2)
        #expect(first.section(3, "FUTURES")?["coverage"] as? String == "failed")
        #expect(try await rows("SELECT * FROM open_orders WHERE exchange_order_id = '7300'").count == 1)
        let futures = try #require(first.section(1, "FUTURES"))
        let counts = try #require(futures["counts"] as? [String: Int])
        #expect(counts["matched"] == 2, "7001 and the algo order 9100: \(counts)")
        #expect(counts["drifted"] == 1 && counts["orphan_foreign"] == 1 && counts["in_flight"] == 1 && counts["orphan_adopted"] == 2, "\(counts)")
        #expect(first.section(1, "SPOT")?["counts"].flatMap { $0 as? [String: Int] }?["matched"] == 1)
        #expect(first.section(2, "FUTURES")?["counts"].flatMap { $0 as? [String: Int] }?["stale_suspected"] == 2)
        #expect(first.findings("drifted").first?["exchange_order_id"] as? String == "7002")
        #expect(first.findings("orphan_foreign").map { $0["exchange_order_id"] as? String } == ["7100"])
        #expect(first.findings("in_flight").map { $0["exchange_order_id"] as? String } == ["7102"])
        let adopted = Dictionary(
            uniqueKeysWithValues: first.findings("orphan_adopted").map { ($0["exchange_order_id"] as! String, $0["strategy_account_id"] as! Int) }
        )
        #expect(adopted == ["7101": 1, "7103": 5], "tag → link 1, claim → link 5")
        let partial = try #require(try await rows("SELECT filled_quantity, status FROM open_orders WHERE exchange_order_id = '7002'").first)
        #expect(partial.double("filled_quantity") == 0.004 && partial.text("status") == "PARTIALLY_FILLED")

        // Passes 2 and 3 (accounts 1 and 2, grace 0 from now on): the third consecutive miss is
        // queried and the rows close with the exchange's final status.
        let second = try await reconcile(["--account", "1", "--account", "2", "--grace-ms", "0"])
        #expect(second.status == 0)
        // After the first full sweep, only the symbols of rows, orphans and claims are listed.
        #expect(first.section(1, "FUTURES")?["symbols"] == nil)
        #expect(second.section(1, "FUTURES")?["symbols"] as? [String] == ["BTCUSDT", "ETHUSDT"], "rows and orphan on BTCUSDT, claim on ETHUSDT")
        #expect(first.findings("drifted").first?["strategy"] as? String == "trend")
        #expect(try await rows("SELECT * FROM open_orders WHERE exchange_order_id IN ('7003', '7004')").count == 2)
        _ = try await reconcile(["--account", "1", "--account", "2", "--grace-ms", "0"])
        let history = try await rows("SELECT exchange_order_id, final_status, filled_quantity FROM sync_order_history ORDER BY exchange_order_id")
        #expect(
            history.map { "\($0.text("exchange_order_id")!) \($0.text("final_status")!) \($0.text("filled_quantity")!)" }
                == ["7003 FILLED 0.01", "7004 CANCELED 0"]
        )
        #expect(try await rows("SELECT * FROM open_orders WHERE exchange_order_id IN ('7003', '7004')").isEmpty)

        // Another pass with no exchange change makes zero changes; exit codes follow --fail-on.
        let stable = try await reconcile(["--account", "1", "--account", "2", "--grace-ms", "0"])
        let quiet = try await reconcile(["--account", "1", "--account", "2", "--grace-ms", "0"])
        for kind in ["drifted", "closed", "orphan_adopted", "orphan_gone", "stale_suspected", "unresolved"] {
            #expect(quiet.totals[kind] == 0, "\(kind) in a pass with no exchange change")
        }
        #expect(stable.totals == quiet.totals)
        #expect(quiet.totals["orphan_foreign"] == 2, "7100 and, now past grace, 7102")
        #expect(
            try await CLITests.run([
                "reconcile", "--db", db, "--spot-url", base, "--futures-url", base, "--account", "1", "--account", "2", "--grace-ms", "0", "--claim",
                "1:ETHUSDT=5", "--fail-on", "orphans",
            ]).status == 1
        )
        #expect(
            try await CLITests.run([
                "reconcile", "--db", db, "--spot-url", base, "--futures-url", base, "--account", "1", "--account", "2", "--grace-ms", "0", "--claim",
                "1:ETHUSDT=5", "--fail-on", "stale",
            ]).status == 0
        )
        let text = try await CLITests.run([
            "reconcile", "--db", db, "--spot-url", base, "--futures-url", base, "--account", "1", "--grace-ms", "0", "--claim", "1:ETHUSDT=5",
            "--fail-on", "any",
        ])
        let manual = text.stdout.split(separator: "\n").first { $0.hasPrefix("orphan_foreign") && $0.contains("7100") }.map(String.init) ?? ""
        #expect(
            text.status == 1
                && manual.split(separator: " ").prefix(8) == ["orphan_foreign", "-", "1", "FUTURES", "BTCUSDT", "SELL", "LIMIT", "75000"],
            "\(text.stdout)"
        )
        #expect(manual.contains("manual-hedge") && manual.contains("orphan reported"), "\(manual)")
        #expect(text.stdout.contains("drifted") == false && text.stdout.split(separator: "\n").contains { $0.hasPrefix("in_flight") } == false)

        // The manual order is still live, nothing was ever cancelled, the orphan is registered.
        let truth = try #require(try await Self.get(base + "/_sim/truth") as? [[String: Any]])
        #expect(truth.first { $0["order_id"] as? Int == 7100 }?["status"] as? String == "NEW")
        let stats = try #require(try await Self.get(base + "/_sim/stats") as? [String: Any])
        #expect((stats["wide_cancels"] as? [String: Int])?.isEmpty == true)
        #expect(((stats["requests"] as? [String: Int]) ?? [:]).keys.allSatisfy { !$0.hasPrefix("DELETE") && !$0.hasPrefix("POST") })
        #expect(try await rows("SELECT * FROM sync_orphans WHERE exchange_order_id = '7100'").first?.int("times_seen") ?? 0 >= 5)
        #expect(try await rows("SELECT count(*) AS n FROM sync_runs WHERE status != 'running'").first?.int("n") == 8)

        // Bad input is named and exits 2.
        let bad = try await CLITests.run(["reconcile", "--db", db, "--claim", "1:BTCUSDT=1", "--claim", "1:BTCUSDT=2"])
        #expect(bad.status != 0 && bad.stderr.contains("claimed by more than one"))
    }

    @Test(arguments: TestDatabases.backends)
    func serveRunsPassesAndStopsCleanlyOnSIGTERM(_ backend: TestBackend) async throws {
        let dir = try CLITests.tempDir()
        defer { try? FileManager.default.removeItem(at: dir) }
        let db = try await TestDatabases.forTest(backend, in: dir, name: "serve")
        #expect(try await CLITests.run(["load", "--db", db, "--scenario", Self.scenario]).status == 0)
        let (base, simulator) = try await Self.simulator(Self.scenario)
        defer { simulator.terminate() }

        let serve = Process()
        serve.executableURL = URL(fileURLWithPath: try CLITests.binary())
        serve.arguments = [
            "serve", "--db", db, "--spot-url", base, "--futures-url", base, "--interval-seconds", "0.2", "--confirmations", "1",
            "--listen", "127.0.0.1:0",
        ]
        let out = Pipe()
        serve.standardOutput = out
        try serve.run()
        defer { if serve.isRunning { serve.terminate() } }
        let text = try await CLITests.read(out) {
            $0.contains("webhook listening") && $0.components(separatedBy: "\n").filter { $0.hasPrefix("pass ") }.count >= 3
        }
        let lines = text.components(separatedBy: "\n").filter { $0.hasPrefix("pass ") }
        #expect(lines.count >= 3, "\(text)")
        #expect(lines.first?.contains("3 accounts") == true && lines.first?.contains("errors 0") == true, "\(text)")
        // The webhook runs in the same process: a RECONCILE with the subscriber's token, then /metrics
        // with the exchange client's metrics (the process bootstraps the Prometheus factory).
        let hook = try #require(
            text.split(whereSeparator: { $0 == " " || $0 == "\n" }).first { $0.hasPrefix("http://127.0.0.1:") && !$0.hasPrefix(base) }.map(
                String.init
            ),
            "\(text)"
        )
        var request = URLRequest(url: URL(string: hook + "/api/webhook")!)
        request.httpMethod = "POST"
        request.setValue("application/json", forHTTPHeaderField: "Content-Type")
        request.httpBody = Data(#"{"group_name": "trend", "order_type": "RECONCILE", "token": "cases-sub-token"}"#.utf8)
        let (body, response) = try await URLSession.shared.data(for: request)
        let reply = try #require(try JSONSerialization.jsonObject(with: body) as? [String: Any])
        #expect((response as? HTTPURLResponse)?.statusCode == 200, "\(reply)")
        #expect(((reply["report"] as? [String: Any])?["sections"] as? [[String: Any]])?.compactMap { $0["account_id"] as? Int } == [2])
        let (metricsBody, _) = try await URLSession.shared.data(from: URL(string: hook + "/metrics")!)
        let metrics = String(decoding: metricsBody, as: UTF8.self)
        #expect(
            metrics.contains("ordersync_exchange_requests_total") && metrics.contains("ordersync_passes_total")
                && metrics.contains("ordersync_findings_total")
        )
        // Timers are histograms: the dashboard's and the alert rules' `_bucket` series exist.
        #expect(metrics.contains("ordersync_pass_duration_seconds_bucket{"), "\(metrics)")
        #expect(!metrics.contains("cases-secret") && !metrics.contains("cases-sub-token"))
        serve.terminate()  // SIGTERM
        let stop = Date().addingTimeInterval(60)
        while serve.isRunning && Date() < stop { try await Task.sleep(for: .milliseconds(20)) }
        #expect(!serve.isRunning && serve.terminationStatus == 0)
        let runs = try await TestDatabases.rows(db, "SELECT status FROM sync_runs")
        #expect(runs.count >= 3 && runs.allSatisfy { $0.text("status") != "running" }, "no run left half-recorded")
    }
}
