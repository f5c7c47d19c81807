import BinanceSimulator
import Crypto
import Foundation
import LocalStack
import OrderStore
import OrderSyncApp
import StoreTestSupport
import SyncCore
import Testing

/// Issue #17's alerts, end to end: the daemon's passes and cancels against the simulator, the
/// sinks a Telegram Bot API stand-in and a JSON receiver on loopback (AlertReceiver).
@Suite struct AlertTests {
    static let token = "123456:alert-test-bot-token"
    static let hookSecret = "alert-hook-secret"
    /// The owner's own bot (`users.telegram_bot_token`).
    static let ownerToken = "654321:owner-own-bot-token"

    /// The stack with alerts going to `url`'s stand-ins: quick retries, short streaks, no grace.
    static func withAlertingStack(
        _ backend: TestBackend,
        _ url: String,
        _ body: (LiveStack, String) async throws -> Void
    ) async throws {
        try await WebhookEndToEndTests.withStack(
            scenarioPath: OriginEvidenceTests.scenario,
            backend: backend,
            ratePerSecond: 1000,
            configure: { options in
                options.config.alerts.telegramURL = url
                options.config.alerts.telegramBotToken = Self.token
                options.config.alerts.telegramChatID = "-1001"
                options.config.alerts.webhookURL = url + "/hook"
                options.config.alerts.webhookSecret = Self.hookSecret
                options.config.alerts.retryBackoffMs = 20
                options.config.alerts.maxAttempts = 3
                options.config.alerts.perMinute = 600
                options.config.alerts.timeoutMs = 30_000
                options.config.alerts.unresolvedPasses = 2
                options.config.alerts.failingPasses = 2
                options.config.reconcile.graceMs = 0
                options.config.reconcile.confirmations = 1
            },
            body
        )
    }

    static func pass(_ stack: LiveStack) async throws -> DriftReport {
        try await stack.daemon.reconcile(accounts: Set((1...4).map { AccountID(Int64($0)) }))
    }

    static func alerts(_ path: String) async throws -> [SQLRow] {
        try await TestDatabases.rows(path, "SELECT alert_key, sink, kind, state, attempts, last_error, account_id FROM sync_alerts ORDER BY id")
    }

    /// Polls until the alerts awaited are recorded (their recording runs on the alerter's own
    /// task) and none is pending (deliveries finished), 60 s at most.
    static func delivered(_ path: String, awaiting: @escaping ([SQLRow]) -> Bool) async throws -> [SQLRow] {
        var rows: [SQLRow] = []
        let ok = try await MisbehaviourTests.eventually(60) {
            rows = try await Self.alerts(path)
            return awaiting(rows) && rows.allSatisfy { $0.text("state") != "pending" }
        }
        try #require(ok, "alerts still pending: \(rows)")
        return rows
    }

    /// The webhook receiver's deliveries, by alert key (each carries its JSON and signature).
    static func hooks(_ receiver: AlertReceiver) async -> [String: [AlertReceiver.Request]] {
        Dictionary(grouping: await receiver.received("webhook"), by: { $0.json["key"] as? String ?? "" })
    }

    static func median(_ xs: [Millis]) -> Millis { xs.sorted()[xs.count / 2] }

    @Test(arguments: TestDatabases.backends)
    func eachAlertArrivesOnceAtEverySinkWithItsAccountStrategyAndOrder(_ backend: TestBackend) async throws {
        let receiver = AlertReceiver(botTokens: [Self.token, Self.ownerToken])
        let (url, stop) = try await AlertReceiver.start(receiver)
        do {
            try await Self.withAlertingStack(backend, url) { stack, path in try await Self.scenario(stack, path, receiver) }
        } catch {
            await stop()
            throw error
        }
        await stop()
    }

    static func scenario(_ stack: LiveStack, _ path: String, _ receiver: AlertReceiver) async throws {
        // A row whose order the exchange does not know (unresolved every pass), and each user's own
        // Telegram chat (users.telegram_id): the owner's through the owner's own bot, the
        // subscriber's through the operator's.
        try await TestDatabases.execute(
            path,
            """
            INSERT INTO open_orders (strategy_account_id, exchange_order_id, symbol, side, order_type, price, stop_price, quantity,
                filled_quantity, status, market_type, webhook_received_at, created_at, updated_at, is_processing, processing_started_at,
                error_message, cancel_attempted_at)
            SELECT strategy_account_id, '999001', symbol, side, order_type, price, stop_price, quantity, filled_quantity, status, market_type,
                webhook_received_at, created_at, updated_at, is_processing, processing_started_at, error_message, cancel_attempted_at
            FROM open_orders WHERE exchange_order_id = '8001'
            """
        )
        let lost = try #require(try await TestDatabases.rows(path, "SELECT id FROM open_orders WHERE exchange_order_id = '999001'").first?.int(0))
        try await TestDatabases.execute(path, "UPDATE users SET telegram_id = '777' WHERE id = 2")
        try await TestDatabases.execute(path, "UPDATE users SET telegram_id = '555', telegram_bot_token = ? WHERE id = 1", [Self.ownerToken])

        // Three passes: orphans and adoptions every pass, the lost row unresolved from the first.
        var quiet: [Millis] = []
        for _ in 0..<3 {
            let report = try await Self.pass(stack)
            quiet.append(report.finishedAt - report.startedAt)
        }
        var rows = try await Self.delivered(path) { $0.count >= 7 * 3 }
        var hooks = await Self.hooks(receiver)
        let expected = [
            "foreign_orphan:1:FUTURES:8030", "foreign_orphan:1:FUTURES:8031", "foreign_orphan:1:FUTURES:8040",
            "adopted:1:FUTURES:8010", "adopted:1:FUTURES:8020", "adopted:1:FUTURES:8021", "row_unresolved:\(lost)",
        ]
        #expect(Set(hooks.keys) == Set(expected), "\(hooks.keys.sorted())")
        #expect(hooks.values.allSatisfy { $0.count == 1 }, "each once across three passes: \(hooks.mapValues(\.count))")
        func one(_ key: String) -> [String: Any] { hooks[key]?.first?.json ?? [:] }
        #expect(one("foreign_orphan:1:FUTURES:8030")["account_id"] as? Int == 1)
        #expect(one("foreign_orphan:1:FUTURES:8030")["exchange_order_id"] as? String == "8030")
        #expect(one("foreign_orphan:1:FUTURES:8040")["symbol"] as? String == "DOGEUSDT")
        #expect(
            one("adopted:1:FUTURES:8020")["strategy"] as? String == "origin-futures"
                && one("adopted:1:FUTURES:8020")["strategy_account_id"] as? Int == 1
        )
        #expect(
            one("adopted:1:FUTURES:8021")["strategy"] as? String == "origin-other"
                && one("adopted:1:FUTURES:8021")["strategy_account_id"] as? Int == 3
        )
        #expect((one("adopted:1:FUTURES:8010")["text"] as? String)?.contains("placeholder:2") == true)
        #expect(
            one("row_unresolved:\(lost)")["strategy"] as? String == "origin-futures"
                && one("row_unresolved:\(lost)")["exchange_order_id"] as? String == "999001"
        )
        // Every body is signed with the configured secret.
        for request in hooks.values.flatMap({ $0 }) {
            let mac = HMAC<SHA256>.authenticationCode(for: request.body, using: SymmetricKey(data: Data(Self.hookSecret.utf8)))
            #expect(request.headers["x-ordersync-signature"] == "sha256=" + mac.map { String(format: "%02x", $0) }.joined())
        }
        // The operator's chat and the owner's (through the owner's bot) got each alert once; the
        // subscriber's chat nothing (all were about the owner's account 1).
        var telegram = await receiver.received("telegram")
        #expect(telegram.filter { $0.json["chat_id"] as? String == "-1001" && $0.path.contains(Self.token) }.count == expected.count)
        #expect(telegram.filter { $0.json["chat_id"] as? String == "555" && $0.path.contains(Self.ownerToken) }.count == expected.count)
        #expect(!telegram.contains { $0.json["chat_id"] as? String == "777" })
        #expect(rows.count == expected.count * 3 && rows.allSatisfy { $0.text("state") == "sent" }, "\(rows)")

        // Account 1's listing fails two passes in a row: one alert; a cancel meanwhile fails: one
        // alert for its account-market; the listing answers again: one recovery.
        var faults = FaultSettings()
        faults.failingAccounts = [AccountID(1)]
        await stack.exchange.setFaults(faults)
        for _ in 0..<3 { _ = try await Self.pass(stack) }
        let cancel = try await WebhookEndToEndTests.send(stack, WebhookEndToEndTests.cancel("origin-futures", token: "origin-owner-token-0001"))
        #expect(cancel.status == 200 && cancel.totals["failed"] ?? 0 > 0, "\(cancel.raw)")
        await stack.exchange.setFaults(FaultSettings())
        for _ in 0..<2 { _ = try await Self.pass(stack) }
        rows = try await Self.delivered(path) { rows in
            ["listing_failing:1:", "listing_recovered:1:", "cancel_"].allSatisfy { p in
                rows.filter { ($0.text("alert_key") ?? "").hasPrefix(p) }.count >= 3
            }
        }
        hooks = await Self.hooks(receiver)
        let failing = hooks.keys.filter { $0.hasPrefix("listing_failing:1:FUTURES:") }
        let recovered = hooks.keys.filter { $0.hasPrefix("listing_recovered:1:FUTURES:") }
        let cancels = hooks.keys.filter { $0.hasPrefix("cancel_") }
        #expect(failing.count == 1 && recovered.count == 1, "\(hooks.keys.sorted())")
        #expect(cancels.count == 1, "\(hooks.keys.sorted())")
        if let key = cancels.first, let alert = hooks[key]?.first?.json {
            #expect(alert["strategy"] as? String == "origin-futures" && alert["account_id"] as? Int == 1)
            let orders = Set((alert["orders"] as? [String]) ?? [])
            #expect(orders.contains("999001") && orders.contains("8001"), "the strategy's rows on account 1: \(orders)")
        }
        #expect(hooks.values.allSatisfy { $0.count == 1 })

        // A sink that fails is tried max_attempts times and marked failed; the others still deliver.
        await receiver.set("webhook", .fail)
        await stack.exchange.setFaults(faults)
        for _ in 0..<2 { _ = try await Self.pass(stack) }
        rows = try await Self.delivered(path) { $0.filter { ($0.text("alert_key") ?? "").hasPrefix("listing_failing:1:") }.count >= 6 }
        let again = rows.filter { ($0.text("alert_key") ?? "").hasPrefix("listing_failing:1:") && !failing.contains($0.text("alert_key") ?? "") }
        #expect(
            Set(again.map { "\($0.text("sink") ?? "") \($0.text("state") ?? "") \($0.int("attempts") ?? 0)" })
                == ["webhook failed 3", "telegram sent 1", "telegram:user:1 sent 1"],
            "a second failure of the listing is a new alert: \(again)"
        )
        #expect(again.first { $0.text("sink") == "webhook" }?.text("last_error") == "HTTP 500")
        hooks = await Self.hooks(receiver)
        #expect(hooks.filter { $0.key.hasPrefix("listing_failing:1:") && !failing.contains($0.key) }.map(\.value.count) == [3])
        telegram = await receiver.received("telegram")
        #expect(!telegram.contains { $0.json["chat_id"] as? String == "777" }, "the subscriber hears nothing of the owner's account")

        // A sink that hangs: passes go on at their pace while its requests are held.
        await receiver.set("webhook", .answer)
        await receiver.set("telegram", .hang)
        await stack.exchange.setFaults(FaultSettings())
        var hanging: [Millis] = []
        for _ in 0..<3 {
            let report = try await Self.pass(stack)
            hanging.append(report.finishedAt - report.startedAt)
        }
        #expect(try await MisbehaviourTests.eventually(30) { await receiver.heldCount > 0 }, "the recovery alert is held by the hanging sink")
        let held = try await Self.alerts(path).filter {
            ($0.text("alert_key") ?? "").hasPrefix("listing_recovered:1:") && !recovered.contains($0.text("alert_key") ?? "")
        }
        #expect(held.contains { $0.text("sink") == "telegram" && $0.text("state") == "pending" }, "pending while its sink hangs: \(held)")
        #expect(held.contains { $0.text("sink") == "webhook" }, "the webhook sink is not held up by Telegram's")
        print("AlertTests: pass duration median \(Self.median(quiet)) ms with every sink answering, \(Self.median(hanging)) ms with Telegram hanging")
        await receiver.release()
        await receiver.set("telegram", .answer)
        rows = try await Self.delivered(path) { $0.filter { ($0.text("alert_key") ?? "").hasPrefix("listing_recovered:1:") }.count >= 6 }
        #expect(rows.filter { ($0.text("alert_key") ?? "").hasPrefix("listing_recovered:1:") }.allSatisfy { $0.text("state") == "sent" })

        // Nothing secret in any message, payload or error.
        let texts = try await TestDatabases.rows(path, "SELECT message, payload_json, COALESCE(last_error, '') FROM sync_alerts")
            .flatMap { [$0.text(0) ?? "", $0.text(1) ?? "", $0.text(2) ?? ""] }
        let bodies = await receiver.requests.map { String(decoding: $0.body, as: UTF8.self) }
        for secret in [Self.token, Self.ownerToken, Self.hookSecret, "origin-api-secret-1", "origin-api-key-1", "origin-owner-token-0001"] {
            #expect(!(texts + bodies).contains { $0.contains(secret) }, "\(secret) leaked")
        }
    }
}
