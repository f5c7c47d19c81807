import Foundation
import OrderStore
import StoreTestSupport
import SyncCore
import Testing

#if canImport(FoundationNetworking)
import FoundationNetworking
#endif

/// Issue #14 over the real binaries: `ordersync simulate` and `ordersync serve` with passes 600 s
/// apart, so whatever reaches the database after the first pass came by a user data stream (or a
/// stream's resync), never by a scheduled pass. Deadlines are generous (the outcome never depends on
/// the machine's speed); the latency figures are the benchmark's business.
@Suite(.serialized) struct StreamEndToEndTests {
    static let scenario = CLITests.root.appendingPathComponent("fixtures/scenarios/streams.json").path

    struct Rig {
        var db: String
        var simulator: String
        var serve: Process
        /// serve's webhook (`/healthz`, `/metrics`).
        var webhook: String

        func rows(_ sql: String) async throws -> [SQLRow] { try await TestDatabases.rows(db, sql) }

        func act(_ market: String, _ id: Int, _ action: String, quantity: String? = nil, account: Int = 1) async throws {
            let q = quantity.map { #","quantity":"\#($0)""# } ?? ""
            try await ReconcileEndToEndTests.post(
                simulator + "/_sim/act",
                #"{"account_id":\#(account),"market":"\#(market)","order_id":\#(id),"action":"\#(action)"\#(q)}"#
            )
        }

        /// `/healthz`'s `streams`: each account's mode and markets, by account id.
        func healthStreams() async throws -> [Int: (mode: String, markets: [String: String])] {
            let body = try #require(try await ReconcileEndToEndTests.get(webhook + "/healthz") as? [String: Any])
            let streams = try #require(body["streams"] as? [String: Any], "healthz has streams: \(body)")
            var out: [Int: (String, [String: String])] = [:]
            for a in streams["accounts"] as? [[String: Any]] ?? [] {
                out[a["account_id"] as? Int ?? 0] = (a["mode"] as? String ?? "", a["markets"] as? [String: String] ?? [:])
            }
            return out
        }

        /// `/metrics` as text.
        func metrics() async throws -> String {
            let (data, _) = try await URLSession.shared.data(from: URL(string: webhook + "/metrics")!)
            return String(decoding: data, as: UTF8.self)
        }

        func streams() async throws -> [String: Any] {
            try #require(try await ReconcileEndToEndTests.get(simulator + "/_sim/streams") as? [String: Any])
        }

        func connections() async throws -> [String: Int] { (try await streams()["connections"] as? [String: Int]) ?? [:] }

        func fault(_ body: String) async throws { try await ReconcileEndToEndTests.post(simulator + "/_sim/streams", body) }

        /// The row's (filled, status), nil when it is gone.
        func row(_ id: Int) async throws -> (String, String)? {
            guard let row = try await rows("SELECT filled_quantity, status FROM open_orders WHERE exchange_order_id = '\(id)'").first else {
                return nil
            }
            let filled = row.double("filled_quantity").flatMap { Amount(String($0)) } ?? .zero
            return (filled.description, row.text("status") ?? "")
        }

        func history(_ id: Int) async throws -> [String] {
            try await rows("SELECT final_status FROM sync_order_history WHERE exchange_order_id = '\(id)'").compactMap { $0.text("final_status") }
        }

        /// Both streams of every followed account connected and every resync since finished (no
        /// resync run still running).
        func healthy(opened: Int = 0, accounts: Int = 1) async throws -> Bool {
            let s = try await streams()
            guard (s["connections"] as? [String: Int]) == ["FUTURES": accounts, "SPOT": accounts], (s["connections_opened"] as? Int ?? 0) >= opened
            else {
                return false
            }
            let resyncs = try await rows("SELECT status FROM sync_runs WHERE trigger = 'resync'")
            return resyncs.count >= 1 && resyncs.allSatisfy { $0.text("status") != "running" }
        }
    }

    /// `setup`: SQL run on the loaded database before serve starts; `environment` is added to serve's.
    static func withRig(
        _ backend: TestBackend,
        scenario: String = Self.scenario,
        environment: [String: String] = [:],
        setup: [String] = [],
        _ body: (Rig) async throws -> Void
    ) async throws {
        let dir = try CLITests.tempDir()
        defer { try? FileManager.default.removeItem(at: dir) }
        let db = try await TestDatabases.forTest(backend, in: dir, name: "streams")
        #expect(try await CLITests.run(["load", "--db", db, "--scenario", scenario]).status == 0)
        for sql in setup { try await TestDatabases.execute(db, sql) }
        let (base, simulator) = try await ReconcileEndToEndTests.simulator(scenario)
        defer { simulator.terminate() }
        let serve = Process()
        serve.executableURL = URL(fileURLWithPath: try CLITests.binary())
        // The stream URLs follow the REST URL (ws:// on the simulator's port); passes 600 s apart.
        serve.arguments = [
            "serve", "--db", db, "--spot-url", base, "--futures-url", base, "--interval-seconds", "600", "--grace-ms", "2000",
            "--listen", "127.0.0.1:0",
        ]
        serve.environment = ProcessInfo.processInfo.environment.merging(environment) { _, new in new }
        let out = Pipe()
        serve.standardOutput = out
        try serve.run()
        defer { if serve.isRunning { serve.terminate() } }
        let text = try await CLITests.read(out) { $0.contains("webhook listening") && $0.contains("pass ") }
        let webhook = try #require(
            text.split(separator: "\n").first { $0.contains("webhook listening on ") }.flatMap {
                $0.split(separator: " ").first { $0.hasPrefix("http://") }
            },
            "serve printed its address: \(text)"
        )
        let rig = Rig(db: db, simulator: base, serve: serve, webhook: String(webhook))
        #expect(try await MisbehaviourTests.eventually(60) { try await rig.healthy() }, "both streams connected and resynced")
        try await body(rig)
        serve.terminate()
        let stop = Date().addingTimeInterval(60)
        while serve.isRunning && Date() < stop { try await Task.sleep(for: .milliseconds(20)) }
        #expect(!serve.isRunning && serve.terminationStatus == 0)
        // One scheduled pass (at start): everything else was the streams' doing.
        #expect(try await rig.rows("SELECT id FROM sync_runs WHERE trigger = 'schedule'").count == 1)
        let streamRuns = try await rig.rows("SELECT status FROM sync_runs WHERE trigger = 'stream'")
        #expect(!streamRuns.isEmpty && streamRuns.allSatisfy { $0.text("status") != "running" }, "the rolling stream run is finished on shutdown")
    }

    @Test(arguments: TestDatabases.backends)
    func fillsCancelsAndManualOrdersReachTheDatabaseByTheStreams(_ backend: TestBackend) async throws {
        try await Self.withRig(backend) { rig in
            for (market, base) in [("FUTURES", 8000), ("SPOT", 8100)] {
                try await rig.act(market, base + 1, "partial_fill", quantity: "0.004")
                try await rig.act(market, base + 2, "fill")
                try await rig.act(market, base + 3, "cancel")
            }
            for base in [8000, 8100] {
                #expect(
                    try await MisbehaviourTests.eventually(60) {
                        let partial = try await rig.row(base + 1)
                        let filled = try await rig.row(base + 2)
                        let cancelled = try await rig.row(base + 3)
                        return partial?.0 == "0.004" && partial?.1 == "PARTIALLY_FILLED" && filled == nil && cancelled == nil
                    },
                    "market of \(base): partial fill, fill and cancel in the DB"
                )
                #expect(try await rig.history(base + 2) == ["FILLED"])
                #expect(try await rig.history(base + 3) == ["CANCELED"])
            }
            // /healthz: the account is on streams, both markets healthy; /metrics counts the events.
            let health = try await rig.healthStreams()
            #expect(health[1]?.mode == "streams" && health[1]?.markets == ["FUTURES": "healthy", "SPOT": "healthy"], "\(health)")
            let metrics = try await rig.metrics()
            for market in ["FUTURES", "SPOT"] {
                #expect(metrics.contains(#"ordersync_streams{market="\#(market)",state="healthy"} 1"#), "\(market) healthy in /metrics")
                #expect(
                    metrics.contains(#"ordersync_stream_events_total{market="\#(market)",status="FILLED",outcome="applied"}"#),
                    "\(market)'s fill counted as applied"
                )
            }
            #expect(metrics.contains(#"ordersync_passes_total{trigger="resync"}"#), "the resync is counted as a pass")
            // A manual order: registered as an orphan once its grace (2 s) is over, not at the next pass.
            try await ReconcileEndToEndTests.post(
                rig.simulator + "/_sim/place",
                #"{"account_id":1,"market":"FUTURES","symbol":"ETHUSDT","side":"SELL","type":"LIMIT","price":"4000","quantity":"0.1","client_order_id":"manual1"}"#
            )
            #expect(
                try await MisbehaviourTests.eventually(60) {
                    try await rig.rows("SELECT client_order_id FROM sync_orphans WHERE client_order_id = 'manual1'").count == 1
                },
                "the manual order registered as a foreign orphan"
            )
        }
    }

    @Test func afterDropExpireDuplicateAndReorderTheDatabaseEqualsTheTruth() async throws {
        try await Self.withRig(.sqlite) { rig in
            // Dropped: a change made while the streams are down is found by the resync that follows.
            let opened = try await rig.streams()["connections_opened"] as? Int ?? 0
            try await rig.fault(#"{"action":"drop"}"#)
            try await rig.act("FUTURES", 8004, "cancel")
            #expect(try await MisbehaviourTests.eventually(60) { try await rig.healthy(opened: opened + 2) }, "reconnected")
            #expect(try await MisbehaviourTests.eventually(60) { (try await rig.row(8004)) == nil })
            #expect(try await rig.history(8004) == ["CANCELED"])

            // Expired listenKey and ended subscription: new key, new subscription, resync.
            let again = try await rig.streams()["connections_opened"] as? Int ?? 0
            try await rig.fault(#"{"action":"expire"}"#)
            try await rig.act("SPOT", 8104, "fill")
            #expect(try await MisbehaviourTests.eventually(60) { try await rig.healthy(opened: again + 2) }, "resubscribed")
            #expect(try await MisbehaviourTests.eventually(60) { (try await rig.row(8104)) == nil })
            #expect(try await rig.history(8104) == ["FILLED"])

            // Repeated and swapped events: applied once each, the later state wins.
            try await rig.fault(#"{"action":"duplicate","count":4}"#)
            try await rig.fault(#"{"action":"reorder","count":1}"#)
            try await rig.act("FUTURES", 8005, "partial_fill", quantity: "0.003")
            try await rig.act("FUTURES", 8005, "partial_fill", quantity: "0.002")
            try await rig.act("SPOT", 8105, "cancel")
            #expect(
                try await MisbehaviourTests.eventually(60) {
                    let partial = try await rig.row(8005)
                    let cancelled = try await rig.row(8105)
                    return partial?.0 == "0.005" && partial?.1 == "PARTIALLY_FILLED" && cancelled == nil
                },
                "the later fill kept, the cancel applied"
            )
            #expect(try await rig.history(8105) == ["CANCELED"], "closed once")

            // Withheld: late events still arrive, and the DB follows the truth.
            try await rig.fault(#"{"action":"withhold","ms":500}"#)
            try await rig.act("FUTURES", 8005, "fill")
            #expect(try await MisbehaviourTests.eventually(60) { (try await rig.row(8005)) == nil })
            #expect(try await rig.history(8005) == ["FILLED"])

            // The database equals the simulator's truth: every open order has its row, nothing else does.
            let truth = try #require(try await ReconcileEndToEndTests.get(rig.simulator + "/_sim/truth") as? [[String: Any]])
            let open = Set(
                truth.filter { ["NEW", "PARTIALLY_FILLED"].contains($0["status"] as? String) }.compactMap { $0["order_id"] as? Int }.map(String.init)
            )
            let rows = Set(try await rig.rows("SELECT exchange_order_id FROM open_orders").compactMap { $0.text("exchange_order_id") })
            #expect(rows == open)
        }
    }

    /// An account activated while serve runs is followed (and on streams in `/healthz`) within the
    /// refresh; one deactivated is let go: its connections close and it leaves `/healthz`.
    @Test func accountsActivatedOrDeactivatedWhileServeRunsAreFollowedOrLetGo() async throws {
        let dir = try CLITests.tempDir()
        defer { try? FileManager.default.removeItem(at: dir) }
        // The streams fixture with a second account on both strategies, inactive when serve starts.
        var scenario = try #require(try JSONSerialization.jsonObject(with: Data(contentsOf: URL(fileURLWithPath: Self.scenario))) as? [String: Any])
        scenario["accounts"] =
            (scenario["accounts"] as? [[String: Any]] ?? []) + [
                ["id": 2, "user_id": 1, "name": "streams-second", "api_key": "streams-key-2", "api_secret": "streams-secret-2"]
            ]
        scenario["strategy_accounts"] =
            (scenario["strategy_accounts"] as? [[String: Any]] ?? []) + [
                ["id": 3, "strategy_id": 1, "account_id": 2], ["id": 4, "strategy_id": 2, "account_id": 2],
            ]
        let path = dir.appendingPathComponent("streams-two.json").path
        try JSONSerialization.data(withJSONObject: scenario).write(to: URL(fileURLWithPath: path))
        try await Self.withRig(
            .sqlite,
            scenario: path,
            environment: ["ORDERSYNC_STREAMS_REFRESH_SECONDS": "0.5"],
            setup: ["UPDATE accounts SET is_active = 0 WHERE id = 2"]
        ) { rig in
            #expect(try await rig.healthStreams().keys.sorted() == [1], "only the active account")
            try await TestDatabases.execute(rig.db, "UPDATE accounts SET is_active = 1 WHERE id = 2")
            #expect(
                try await MisbehaviourTests.eventually(60) {
                    let healthy = try await rig.healthy(accounts: 2)
                    let mode = try await rig.healthStreams()[2]?.mode
                    return healthy && mode == "streams"
                },
                "the activated account followed and resynced"
            )
            // Its events reach the database: a manual order on it, registered once its grace is over.
            try await ReconcileEndToEndTests.post(
                rig.simulator + "/_sim/place",
                #"{"account_id":2,"market":"SPOT","symbol":"ETHUSDT","side":"SELL","type":"LIMIT","price":"4000","quantity":"0.1","client_order_id":"manual2"}"#
            )
            #expect(
                try await MisbehaviourTests.eventually(60) {
                    try await rig.rows("SELECT account_id FROM sync_orphans WHERE client_order_id = 'manual2'").first?.int("account_id") == 2
                },
                "the new account's manual order registered"
            )
            try await TestDatabases.execute(rig.db, "UPDATE accounts SET is_active = 0 WHERE id = 1")
            #expect(
                try await MisbehaviourTests.eventually(60) {
                    let connections = try await rig.connections()
                    let followed = try await rig.healthStreams().keys.sorted()
                    return connections == ["FUTURES": 1, "SPOT": 1] && followed == [2]
                },
                "the deactivated account let go"
            )
        }
    }
}
