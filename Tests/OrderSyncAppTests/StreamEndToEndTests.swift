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

        func rows(_ sql: String) async throws -> [SQLRow] { try await TestDatabases.rows(db, sql) }

        func act(_ market: String, _ id: Int, _ action: String, quantity: String? = nil) async throws {
            let q = quantity.map { #","quantity":"\#($0)""# } ?? ""
            try await ReconcileEndToEndTests.post(
                simulator + "/_sim/act",
                #"{"account_id":1,"market":"\#(market)","order_id":\#(id),"action":"\#(action)"\#(q)}"#
            )
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

        /// Both streams connected and every resync since finished (no resync run still running).
        func healthy(opened: Int = 0) async throws -> Bool {
            let s = try await streams()
            guard (s["connections"] as? [String: Int]) == ["FUTURES": 1, "SPOT": 1], (s["connections_opened"] as? Int ?? 0) >= opened else {
                return false
            }
            let resyncs = try await rows("SELECT status FROM sync_runs WHERE trigger = 'resync'")
            return resyncs.count >= 1 && resyncs.allSatisfy { $0.text("status") != "running" }
        }
    }

    static func withRig(_ backend: TestBackend, _ body: (Rig) async throws -> Void) async throws {
        let dir = try CLITests.tempDir()
        defer { try? FileManager.default.removeItem(at: dir) }
        let db = try await TestDatabases.forTest(backend, in: dir, name: "streams")
        #expect(try await CLITests.run(["load", "--db", db, "--scenario", Self.scenario]).status == 0)
        let (base, simulator) = try await ReconcileEndToEndTests.simulator(Self.scenario)
        defer { simulator.terminate() }
        let serve = Process()
        serve.executableURL = URL(fileURLWithPath: try CLITests.binary())
        // The stream URLs follow the REST URL (ws:// on the simulator's port); passes 600 s apart.
        serve.arguments = [
            "serve", "--db", db, "--spot-url", base, "--futures-url", base, "--interval-seconds", "600", "--grace-ms", "2000",
            "--listen", "127.0.0.1:0",
        ]
        let out = Pipe()
        serve.standardOutput = out
        try serve.run()
        defer { if serve.isRunning { serve.terminate() } }
        _ = try await CLITests.read(out) { $0.contains("webhook listening") && $0.contains("pass ") }
        let rig = Rig(db: db, simulator: base, serve: serve)
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
}
