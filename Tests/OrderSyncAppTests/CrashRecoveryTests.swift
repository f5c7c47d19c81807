import AsyncHTTPClient
import Foundation
import NIOCore
import OrderStore
import StoreTestSupport
import SyncCore
import Testing

#if canImport(FoundationNetworking)
import FoundationNetworking
#endif

/// `kill -9` of the real daemon at seeded random points while a CANCEL_ALL_ORDER fans out and
/// passes run, then a restart (which finishes unresolved cancels) and one pass. Every trial starts
/// from fixtures/scenarios/webhook-cases.json with a fresh simulator and database. Trials:
/// ORDERSYNC_CRASH_TRIALS (default 20 on SQLite, 10 on PostgreSQL).
@Suite struct CrashRecoveryTests {
    static let scenario = CLITests.root.appendingPathComponent("fixtures/scenarios/webhook-cases.json").path

    /// Starts `ordersync serve` and returns it with its webhook URL once it listens.
    static func serve(db: String, base: String) async throws -> (Process, Pipe, String) {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: try CLITests.binary())
        process.arguments = [
            "serve", "--db", db, "--spot-url", base, "--futures-url", base, "--interval-seconds", "0.25",
            "--confirmations", "1", "--grace-ms", "0", "--listen", "127.0.0.1:0",
        ]
        let out = Pipe()
        process.standardOutput = out
        try process.run()
        let text = try await CLITests.read(out) { $0.contains("webhook listening") }
        let hook = try #require(
            text.split(whereSeparator: { $0 == " " || $0 == "\n" }).first { $0.hasPrefix("http://127.0.0.1:") }.map(String.init),
            "\(text)"
        )
        return (process, out, hook)
    }

    static func truth(_ base: String) async throws -> [(account: Int, id: String, open: Bool)] {
        let (data, _) = try await URLSession.shared.data(from: URL(string: base + "/_sim/truth")!)
        let items = try #require(try JSONSerialization.jsonObject(with: data) as? [[String: Any]])
        return items.compactMap { o in
            guard let account = o["account_id"] as? Int, let id = o["order_id"] as? Int, let status = o["status"] as? String else { return nil }
            let algo = (o["algo"] as? Bool) ?? false
            return (account, algo ? "algo:\(id)" : String(id), ["NEW", "PARTIALLY_FILLED"].contains(status))
        }
    }

    @Test(arguments: TestDatabases.backends)
    func killNineDuringFanOutsAndPassesLosesNothing(_ backend: TestBackend) async throws {
        let trials = Int(ProcessInfo.processInfo.environment["ORDERSYNC_CRASH_TRIALS"] ?? "") ?? (backend == .sqlite ? 20 : 10)
        let seed = SeededGenerator.seed(fallback: 0xC0A5, environment: ProcessInfo.processInfo.environment)
        print("CrashRecoveryTests (\(backend)) seed \(seed), \(trials) trials (ORDERSYNC_SEED, ORDERSYNC_CRASH_TRIALS)")
        var rng = SeededGenerator(seed: seed)
        var killedWithPending = 0
        for trial in 1...trials {
            let dir = try CLITests.tempDir()
            defer { try? FileManager.default.removeItem(at: dir) }
            let db = try await TestDatabases.forTest(backend, in: dir, name: "crash")
            #expect(try await CLITests.run(["load", "--db", db, "--scenario", Self.scenario]).status == 0)
            let initialRows = try await TestDatabases.rows(
                db,
                """
                SELECT o.exchange_order_id, s.group_name FROM open_orders o JOIN strategy_accounts sa ON sa.id = o.strategy_account_id
                JOIN strategies s ON s.id = sa.strategy_id
                """
            ).map { ($0.text(0) ?? "", $0.text(1) ?? "") }
            let owner = Dictionary(uniqueKeysWithValues: initialRows)
            let (base, simulator) = try await ReconcileEndToEndTests.simulator(Self.scenario)
            defer { simulator.terminate() }
            try await ReconcileEndToEndTests.post(base + "/_sim/faults", #"{"latency_ms": 15}"#)

            // A fan-out (and the passes running beside it), killed at a seeded point.
            let (daemon, _, hook) = try await Self.serve(db: db, base: base)
            let group = Self.pick(["public-trend", "grid-q"], &rng)
            let token = group == "public-trend" ? "wh-owner-token" : "wh-trader5-token"
            // AsyncHTTPClient, and never cancelled: cancelling a task inside URLSession.data on Linux
            // can deadlock FoundationNetworking (seen here); the request ends when the daemon dies.
            let request = Task {
                var r = HTTPClientRequest(url: hook + "/api/webhook")
                r.method = .POST
                r.headers.add(name: "Content-Type", value: "application/json")
                r.body = .bytes(ByteBuffer(string: #"{"group_name": "\#(group)", "order_type": "CANCEL_ALL_ORDER", "token": "\#(token)"}"#))
                _ = try? await HTTPClient.shared.execute(r, timeout: .seconds(30))
            }
            // The kill point itself is the experiment (not a wait for something to happen).
            try await Task.sleep(for: .milliseconds(Int.random(in: 0...80, using: &rng)))
            kill(daemon.processIdentifier, SIGKILL)
            try await Self.waitForExit(daemon)
            await request.value
            let pendingAfterKill =
                try await TestDatabases.rows(db, "SELECT count(*) FROM sync_cancel_intents WHERE state IN ('pending', 'unknown')").first?.int(0) ?? 0
            if pendingAfterKill > 0 { killedWithPending += 1 }

            // Restart: unresolved cancels are finished first, then one pass.
            let (restarted, out, _) = try await Self.serve(db: db, base: base)
            _ = try await CLITests.read(out) { $0.components(separatedBy: "\n").filter { $0.hasPrefix("pass ") }.count >= 1 }
            restarted.terminate()
            try await Self.waitForExit(restarted)
            #expect(restarted.terminationStatus == 0, "trial \(trial)")

            let exchange = try await Self.truth(base)
            let open = Set(exchange.filter(\.open).map(\.id))
            let rows = try await TestDatabases.rows(db, "SELECT exchange_order_id FROM open_orders").compactMap { $0.text(0) }
            let unresolved = try await TestDatabases.rows(
                db,
                "SELECT count(*) FROM sync_cancel_intents WHERE state IN ('pending', 'sent', 'unknown')"
            ).first?.int(0)
            #expect(unresolved == 0, "trial \(trial) (seed \(seed)): every cancel intent resolved")
            for row in rows { #expect(open.contains(row), "trial \(trial) (seed \(seed)): row for \(row), which the exchange says is gone") }
            for (id, strategy) in owner {
                if open.contains(id) { #expect(rows.contains(id), "trial \(trial) (seed \(seed)): \(strategy)'s row for open order \(id) was lost") }
                if strategy != group {
                    #expect(open.contains(id), "trial \(trial) (seed \(seed)): \(strategy)'s order \(id) was cancelled by a cancel for \(group)")
                }
            }
            #expect(open.contains("8901") && open.contains("8902"), "trial \(trial): manual orders intact")
            let (data, _) = try await URLSession.shared.data(from: URL(string: base + "/_sim/stats")!)
            let stats = try #require(try JSONSerialization.jsonObject(with: data) as? [String: Any])
            #expect((stats["wide_cancels"] as? [String: Int])?.isEmpty == true, "trial \(trial)")
        }
        print("CrashRecoveryTests (\(backend)): \(trials) trials, \(killedWithPending) killed with cancel intents pending")
    }

    /// Polls until the process has exited (20 s at most); `waitUntilExit` would block a cooperative thread.
    static func waitForExit(_ process: Process) async throws {
        let deadline = Date().addingTimeInterval(20)
        while process.isRunning && Date() < deadline { try await Task.sleep(for: .milliseconds(10)) }
        try #require(!process.isRunning, "process \(process.processIdentifier) did not exit")
    }

    static func pick<T>(_ xs: [T], _ rng: inout SeededGenerator) -> T { xs[Int.random(in: 0..<xs.count, using: &rng)] }
}
