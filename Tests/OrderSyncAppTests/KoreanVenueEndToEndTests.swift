import Foundation
import OrderStore
import StoreTestSupport
import Testing

#if canImport(FoundationNetworking)
import FoundationNetworking
#endif

/// Upbit and Bithumb accounts beside a Binance account, over the real binaries: `ordersync
/// simulate` twice (Binance, and `--exchange upbit|bithumb`), `ordersync reconcile` and `ordersync
/// cancel-all` with `--upbit-url`/`--bithumb-url`, on rows stored as the origin writes them
/// (`exchange` upbit, `BTC/KRW`, `market_type` spot). Every reconcile case of issue #5 on each; a
/// cancel-all of a public strategy across both exchanges cancels exactly its orders, by id, and
/// nothing account-wide.
@Suite struct KoreanVenueEndToEndTests {
    /// One of the two venues: its scenario (fixtures/scenarios/<venue>-cases.json: the same world,
    /// the venue's ids) and how its order ids look.
    enum Venue: String, CaseIterable, CustomStringConvertible {
        case upbit, bithumb
        var description: String { rawValue }
        var scenario: String { CLITests.root.appendingPathComponent("fixtures/scenarios/\(rawValue)-cases.json").path }
        func id(_ n: Int) -> String {
            self == .upbit ? "5e1a0000-0000-4000-8000-" + String(format: "%012x", n) : "C0101" + String(format: "%015d", n)
        }
    }

    static func simulator(_ scenario: String, _ arguments: [String]) async throws -> (String, Process) {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: try CLITests.binary())
        process.arguments = ["simulate", "--port", "0", "--scenario", scenario] + arguments
        let out = Pipe()
        process.standardOutput = out
        try process.run()
        let text = try await CLITests.read(out) { $0.contains("listening on") }
        let base = try #require(text.split(separator: " ").first { $0.hasPrefix("http://127.0.0.1:") }.map(String.init), "\(text)")
        return (base, process)
    }

    @Test(arguments: Venue.allCases, TestDatabases.backends)
    func everyCaseAndACancelAllAcrossTwoExchanges(_ venue: Venue, _ backend: TestBackend) async throws {
        let dir = try CLITests.tempDir()
        defer { try? FileManager.default.removeItem(at: dir) }
        let db = try await TestDatabases.forTest(backend, in: dir, name: venue.rawValue)
        #expect(try await CLITests.run(["load", "--db", db, "--scenario", venue.scenario]).status == 0)
        let (binance, binanceProcess) = try await Self.simulator(venue.scenario, ["--weight-limit", "10000000"])
        defer { binanceProcess.terminate() }
        let (spot, spotProcess) = try await Self.simulator(venue.scenario, ["--exchange", venue.rawValue])
        defer { spotProcess.terminate() }
        try await ReconcileEndToEndTests.post(spot + "/_sim/faults", #"{"failing_accounts":[3]}"#)
        let urls = ["--spot-url", binance, "--futures-url", binance, "--\(venue.rawValue)-url", spot]

        func reconcile(_ extra: [String]) async throws -> ReconcileEndToEndTests.Pass {
            let result = try await CLITests.run(["reconcile", "--db", db, "--format", "json", "--claim", "2:ETH/KRW=3"] + urls + extra)
            let json = try #require(
                try JSONSerialization.jsonObject(with: Data(result.stdout.utf8)) as? [String: Any],
                "\(result.stderr) \(result.stdout)"
            )
            return ReconcileEndToEndTests.Pass(status: result.status, json: json)
        }
        func rows(_ sql: String) async throws -> [SQLRow] { try await TestDatabases.rows(db, sql) }

        // Pass 1 (a long grace: nothing here is in flight): account 3's listing fails, its row stays.
        let first = try await reconcile(["--grace-ms", "600000"])
        #expect(first.status == 2)
        #expect(first.section(3, "SPOT")?["coverage"] as? String == "failed")
        #expect(try await rows("SELECT * FROM open_orders WHERE exchange_order_id = '\(venue.id(0xa300))'").count == 1)
        let section = try #require(first.section(2, "SPOT"))
        #expect(section["exchange"] as? String == venue.rawValue.uppercased())
        let counts = try #require(section["counts"] as? [String: Int])
        #expect(counts["matched"] == 2 && counts["drifted"] == 1 && counts["stale_suspected"] == 2, "\(counts)")
        #expect(counts["orphan_foreign"] == 1 && counts["orphan_adopted"] == 2, "\(counts)")
        #expect(first.findings("orphan_foreign").compactMap { $0["exchange_order_id"] as? String }.sorted() == [venue.id(0xa100), "8100"].sorted())
        let adopted = Dictionary(
            uniqueKeysWithValues: first.findings("orphan_adopted").map { ($0["exchange_order_id"] as! String, $0["strategy_account_id"] as! Int) }
        )
        #expect(adopted == [venue.id(0xa101): 2, venue.id(0xa102): 3], "tag → link 2, claim → link 3")
        let partial = try #require(
            try await rows("SELECT filled_quantity, status FROM open_orders WHERE exchange_order_id = '\(venue.id(0xa002))'").first
        )
        #expect(partial.double("filled_quantity") == 0.004 && partial.text("status") == "PARTIALLY_FILLED")
        // Adopted rows are spelled as the link's rows are: the origin's symbol and market_type forms.
        let inserted = try await rows(
            "SELECT symbol, market_type FROM open_orders WHERE exchange_order_id IN ('\(venue.id(0xa101))', '\(venue.id(0xa102))') ORDER BY symbol"
        )
        #expect(inserted.map { "\($0.text("symbol")!) \($0.text("market_type")!)" } == ["BTC/KRW spot", "ETH/KRW spot"])

        // Passes 2 and 3: the third miss is queried and the rows close with Upbit's final states.
        for _ in 0..<2 { #expect(try await reconcile(["--account", "1", "--account", "2", "--grace-ms", "0"]).status == 0) }
        let history = try await rows("SELECT exchange_order_id, final_status, filled_quantity FROM sync_order_history ORDER BY exchange_order_id")
        #expect(
            history.map { "\($0.text("exchange_order_id")!) \($0.text("final_status")!) \($0.text("filled_quantity")!)" }
                == ["\(venue.id(0xa003)) FILLED 0.01", "\(venue.id(0xa004)) CANCELED 0"]
        )
        let quiet = try await reconcile(["--account", "1", "--account", "2", "--grace-ms", "0"])
        for kind in ["drifted", "closed", "orphan_adopted", "orphan_gone", "stale_suspected", "unresolved"] {
            #expect(quiet.totals[kind] == 0, "\(kind) in a pass with no exchange change")
        }

        // CANCEL_ALL_ORDER for the public strategy: its rows on Binance and Upbit, by id; the flaky
        // account's cancel fails (exit 1) and its row is kept.
        let cancel = try await CLITests.run(["cancel-all", "--db", db, "--strategy", "kimchi", "--execute", "--format", "json"] + urls)
        #expect(cancel.status == 1, "\(cancel.stderr)")
        let spotTruth = try #require(try await ReconcileEndToEndTests.get(spot + "/_sim/truth") as? [[String: Any]])
        let state = Dictionary(uniqueKeysWithValues: spotTruth.map { ($0["uuid"] as! String, $0["state"] as! String) })
        for n in [0xa001, 0xa002, 0xa101] { #expect(state[venue.id(n)] == "cancel", "kimchi's order \(n) cancelled") }
        for n in [0xa006, 0xa100, 0xa102] { #expect(state[venue.id(n)] == "wait", "order \(n) is not kimchi's: untouched") }
        let binanceTruth = try #require(try await ReconcileEndToEndTests.get(binance + "/_sim/truth") as? [[String: Any]])
        let binanceStatus = Dictionary(uniqueKeysWithValues: binanceTruth.map { ($0["order_id"] as! Int, $0["status"] as! String) })
        #expect(binanceStatus[8001] == "CANCELED" && binanceStatus[8100] == "NEW")
        let spotStats = try #require(try await ReconcileEndToEndTests.get(spot + "/_sim/stats") as? [String: Any])
        #expect(spotStats["wide_cancels"] as? Int == 0 && spotStats["rate_limited"] as? Int == 0, "\(spotStats)")
        let binanceStats = try #require(try await ReconcileEndToEndTests.get(binance + "/_sim/stats") as? [String: Any])
        #expect((binanceStats["wide_cancels"] as? [String: Int])?.isEmpty == true, "\(binanceStats)")
        let left = try await rows("SELECT exchange_order_id FROM open_orders ORDER BY exchange_order_id")
        #expect(left.compactMap { $0.text("exchange_order_id") } == [venue.id(0xa006), venue.id(0xa102), venue.id(0xa300)])
    }

    /// The webhook's `exchange` filter on a strategy that spans two exchanges: `UPBIT` (or
    /// `BITHUMB`) cancels the strategy's orders on that exchange's accounts only; without the
    /// filter the rest goes too. Through the real webhook server over HTTP (LiveStack).
    @Test(arguments: Venue.allCases)
    func theWebhooksExchangeFilterSelectsOneExchange(_ venue: Venue) async throws {
        try await WebhookEndToEndTests.withStack(scenarioPath: venue.scenario) { stack, _ in
            let book = venue == .upbit ? stack.upbit : stack.bithumb
            func resting() async -> Set<String> { Set(await book.truth().filter { $0.order.state == "wait" }.map(\.order.uuid)) }
            let filtered = try await WebhookEndToEndTests.send(
                stack,
                #"{"group_name": "kimchi", "exchange": "\#(venue.rawValue.uppercased())", "market_type": "SPOT", "order_type": "CANCEL_ALL_ORDER", "token": "\#(venue.rawValue)-owner-token"}"#
            )
            #expect(filtered.status == 200, "\(filtered.raw)")
            let left = await resting()
            for n in [0xa001, 0xa002] { #expect(!left.contains(venue.id(n)), "kimchi's \(n) on \(venue) cancelled") }
            for n in [0xa006, 0xa100, 0xa101, 0xa102] {
                #expect(left.contains(venue.id(n)), "\(n): another strategy's, manual, or without a row yet")
            }
            #expect(await WebhookEndToEndTests.open(stack)[1]?.contains("8001") == true, "the Binance account is not selected")
            let all = try await WebhookEndToEndTests.send(
                stack,
                #"{"group_name": "kimchi", "market_type": "SPOT", "order_type": "CANCEL_ALL_ORDER", "token": "\#(venue.rawValue)-owner-token"}"#
            )
            #expect(all.status == 200 && all.cancelledIDs.contains("8001"), "\(all.raw)")
            #expect(await WebhookEndToEndTests.open(stack)[1]?.contains("8001") != true)
            #expect(await book.wideCancels == 0)
        }
    }
}
