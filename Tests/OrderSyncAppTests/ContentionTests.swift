import Foundation
import GRDB
import SyncCore
import Testing

#if canImport(FoundationNetworking)
import FoundationNetworking
#endif

/// Another process plays the origin app on the same SQLite file — placing orders and inserting
/// their rows, updating and deleting its own rows — while `serve` runs passes every 100 ms and
/// webhooks cancel a strategy over and over. No busy error, no failed pass, no row of the origin's
/// lost or duplicated, and what ordersync removed it removed only with the exchange's word.
@Suite struct ContentionTests {
    @Test func theOriginAppWritesWhilePassesAndCancelsRun() async throws {
        let dir = try CLITests.tempDir()
        defer { try? FileManager.default.removeItem(at: dir) }
        let db = dir.appendingPathComponent("shared.sqlite").path
        #expect(try await CLITests.run(["load", "--db", db, "--scenario", CrashRecoveryTests.scenario]).status == 0)
        let (base, simulator) = try await ReconcileEndToEndTests.simulator(CrashRecoveryTests.scenario)
        defer { simulator.terminate() }
        let serve = Process()
        serve.executableURL = URL(fileURLWithPath: try CLITests.binary())
        serve.arguments = [
            "serve", "--db", db, "--spot-url", base, "--futures-url", base, "--interval-seconds", "0.1", "--grace-ms", "2000",
            "--confirmations", "1", "--listen", "127.0.0.1:0",
        ]
        let out = Pipe()
        let err = Pipe()
        serve.standardOutput = out
        serve.standardError = err
        try serve.run()
        defer { if serve.isRunning { serve.terminate() } }
        let started = try await CLITests.read(out) { $0.contains("webhook listening") }
        let hook = try #require(
            started.split(whereSeparator: { $0 == " " || $0 == "\n" }).first { $0.hasPrefix("http://127.0.0.1:") && !$0.hasPrefix(base) }.map(
                String.init
            )
        )
        let seed = SeededGenerator.seed(fallback: 0xDB, environment: ProcessInfo.processInfo.environment)
        print("ContentionTests seed \(seed)")
        let python =
            FileManager.default.isExecutableFile(atPath: CLITests.root.appendingPathComponent(".build-py/bin/python").path)
            ? CLITests.root.appendingPathComponent(".build-py/bin/python").path : "/usr/bin/python3"
        let origin = Process()
        origin.executableURL = URL(fileURLWithPath: python)
        origin.arguments = [CLITests.root.appendingPathComponent("Tests/python/origin_app.py").path, db, base, "2", String(seed)]
        let originOut = Pipe()
        origin.standardOutput = originOut
        try origin.run()
        // Cancels of one strategy (grid-q) fan out while the origin writes rows for every strategy.
        var cancels = 0
        while origin.isRunning {
            var request = URLRequest(url: URL(string: hook + "/api/webhook")!)
            request.httpMethod = "POST"
            request.setValue("application/json", forHTTPHeaderField: "Content-Type")
            request.httpBody = Data(
                #"{"group_name": "grid-q", "order_type": "CANCEL_ALL_ORDER", "token": "wh-trader5-token", "idempotency_key": "c\#(cancels)"}"#.utf8
            )
            let (_, response) = try await URLSession.shared.data(for: request)
            #expect((response as? HTTPURLResponse)?.statusCode == 200)
            cancels += 1
            // Pacing under the webhook's default rate limit (10 per second), not a wait for an event.
            try await Task.sleep(for: .milliseconds(150))
        }
        try await CrashRecoveryTests.waitForExit(origin)
        let report = try #require(try JSONSerialization.jsonObject(with: originOut.fileHandleForReading.readDataToEndOfFile()) as? [String: Any])
        let inserted = (report["inserted"] as? [String]) ?? []
        let deleted = (report["deleted"] as? [String]) ?? []
        print(
            "ContentionTests: origin inserted \(inserted.count) rows (\(deleted.count) deleted, \(report["updated"] ?? 0) updated, \(report["busy"] ?? 0) busy), \(cancels) cancels"
        )
        #expect(inserted.count >= 20 && report["busy"] as? Int == 0, "the origin app's writes went through: \(report)")

        // Two more passes after the writer stopped, then stop the daemon.
        let before = try await CLITests.read(out) { _ in true }
        _ = try await CLITests.read(out) { $0.components(separatedBy: "\n").filter { $0.hasPrefix("pass ") }.count >= 2 }
        serve.terminate()
        try await CrashRecoveryTests.waitForExit(serve)
        #expect(serve.terminationStatus == 0)
        let output =
            started + before + String(decoding: out.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
            + String(decoding: err.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
        #expect(
            !output.contains("pass failed") && !output.lowercased().contains("busy") && !output.lowercased().contains("locked"),
            "\(output.suffix(2000))"
        )
        let exchange = try await CrashRecoveryTests.truth(base)
        let open = Set(exchange.filter(\.open).map(\.id))
        let rows = try await DatabaseQueue(path: db).read { db in
            try Row.fetchAll(
                db,
                sql:
                    "SELECT o.exchange_order_id, s.group_name FROM open_orders o JOIN strategy_accounts sa ON sa.id = o.strategy_account_id JOIN strategies s ON s.id = sa.strategy_id"
            )
            .map { ($0[0] as String, $0[1] as String) }
        }
        let rowIDs = Set(rows.map(\.0))
        #expect(rowIDs.count == rows.count, "no duplicate rows")
        let history = try await DatabaseQueue(path: db).read { db in
            try Row.fetchAll(db, sql: "SELECT exchange_order_id, final_status FROM sync_order_history").map { ($0[0] as String, $0[1] as String) }
        }
        let closed = Dictionary(history, uniquingKeysWith: { a, _ in a })
        for id in inserted {
            // Each row the origin app kept is still there, or ordersync closed it with the exchange's final status.
            if !rowIDs.contains(id) {
                #expect(closed[id] != nil && !open.contains(id), "the origin's row for \(id) was lost")
            }
        }
        for (id, group) in rows where group != "grid-q" {
            #expect(open.contains(id) || !inserted.contains(id), "\(group)'s row \(id) points to a closed order")
        }
        let (data, _) = try await URLSession.shared.data(from: URL(string: base + "/_sim/stats")!)
        #expect(((try JSONSerialization.jsonObject(with: data) as? [String: Any])?["wide_cancels"] as? [String: Int])?.isEmpty == true)
    }
}
