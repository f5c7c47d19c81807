import Foundation
import OrderStore
import StoreTestSupport
import Testing

/// `ordersync check` through the real binary, on each backend: exit 0 on the origin's healthy
/// database, and every problem named (wrong key, unknown exchange, a symbol, market type or side it
/// cannot read) with exit 1 — reading only, never showing a key or the database password.
@Suite struct CheckTests {
    @Test(arguments: TestDatabases.backends)
    func checkNamesEachProblemAndChangesNothing(_ backend: TestBackend) async throws {
        let dir = try CLITests.tempDir()
        defer { try? FileManager.default.removeItem(at: dir) }
        var db = try await TestDatabases.forTest(backend, in: dir, name: "check")
        if backend == .postgres {
            // The test cluster trusts loopback: a password in the URL is accepted and must never be printed.
            db = db.replacingOccurrences(of: "postgres@", with: "postgres:never-print-me@")
        }
        #expect(try await CLITests.run(["load", "--db", db, "--scenario", OriginShapedTests.scenario]).status == 0)

        let healthy = try await CLITests.run(["check", "--db", db, "--format", "json"])
        #expect(healthy.status == 0, "\(healthy.stdout) \(healthy.stderr)")
        let json = try #require(try JSONSerialization.jsonObject(with: Data(healthy.stdout.utf8)) as? [String: Any])
        #expect(json["ok"] as? Bool == true && (json["problems"] as? [String])?.isEmpty == true)
        #expect(json["accounts_by_exchange"] as? [String: Int] == ["binance": 2, "upbit": 1])
        #expect(json["placeholders"] as? Int == 1 && json["failed"] as? Int == 1 && json["held"] as? Int == 1 && json["cancelling"] as? Int == 1)
        #expect((json["rows_by_market"] as? [String: Int])?["futures"] == 7)
        let text = try await CLITests.run(["check", "--db", db])
        #expect(
            text.status == 0 && text.stdout.contains("ordersync can run") && text.stdout.contains("upbit-krw [upbit] active, supported"),
            "\(text.stdout)"
        )

        // The problems: a key rotated away from the one the rows were encrypted with, an exchange
        // nobody knows, and rows ordersync cannot read.
        try await TestDatabases.execute(db, "UPDATE accounts SET exchange = 'kraken' WHERE id = 3")
        try await TestDatabases.execute(db, "UPDATE open_orders SET symbol = 'BTC//USDT' WHERE exchange_order_id = '7002'")
        try await TestDatabases.execute(db, "UPDATE open_orders SET market_type = 'margin' WHERE exchange_order_id = '7003'")
        try await TestDatabases.execute(db, "UPDATE open_orders SET side = 'HOLD' WHERE exchange_order_id = '7004'")
        let dump = try await TestDatabases.dump(db)
        let bad = try await CLITests.run(["check", "--db", db], environment: ["SECRET_KEY": "rotated-secret"])
        #expect(bad.status == 1, "\(bad.stdout) \(bad.stderr)")
        for needle in [
            "account 1: public_api is Fernet ciphertext that does not decrypt with the key derived from SECRET_KEY",
            "account 2: public_api is Fernet ciphertext", "account 3 (upbit-krw): unknown exchange \"kraken\"",
            "symbol \"BTC//USDT\" is not a pair", "market_type \"margin\" is not SPOT or FUTURES", "side \"HOLD\" is not BUY or SELL",
        ] {
            #expect(bad.stdout.contains(needle), "\(needle) in \(bad.stdout)")
        }
        #expect(try await TestDatabases.dump(db) == dump, "check is read-only")
        for secret in ["origin-api-key-1", "origin-api-secret-1", "rotated-secret", "never-print-me", "gAAAAA"] {
            #expect(!bad.stdout.contains(secret) && !bad.stderr.contains(secret) && !healthy.stdout.contains(secret), "\(secret) printed")
        }

        // A database without the origin's tables: named, exit 1.
        let empty = try await TestDatabases.forTest(backend, in: dir, name: "empty")
        if backend == .sqlite { _ = FileManager.default.createFile(atPath: empty, contents: nil) }
        let none = try await CLITests.run(["check", "--db", empty])
        #expect(
            none.status == 1
                && none.stdout.contains("the origin app's table(s) users, accounts, strategies, strategy_accounts, open_orders are missing"),
            "\(none.stdout) \(none.stderr)"
        )
    }
}
