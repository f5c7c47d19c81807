import AsyncHTTPClient
import BinanceSimulator
import Foundation
import LocalStack
import NIOCore
import NIOHTTP1
import OrderStore
import OrderSyncApp
import StoreTestSupport
import SyncCore
import Testing

/// Issue #6 over real HTTP: the webhook server, the daemon and the simulator in one process on
/// loopback (LiveStack), a temporary SQLite database loaded from fixtures/scenarios/webhook-cases.json.
@Suite struct WebhookEndToEndTests {
    static let scenario = CLITests.root.appendingPathComponent("fixtures/scenarios/webhook-cases.json").path

    struct Reply {
        var status: Int
        var json: [String: Any]
        var headers: [String: String]
        /// The body as sent.
        var raw: String
        var errorCode: String? { (json["error"] as? [String: Any])?["code"] as? String }
        var result: [String: Any] { (json["result"] as? [String: Any]) ?? [:] }
        var totals: [String: Int] { (result["totals"] as? [String: Int]) ?? [:] }
        var cancelledIDs: Set<String> {
            Set(
                ((result["accounts"] as? [[String: Any]]) ?? []).flatMap { ($0["orders"] as? [[String: Any]]) ?? [] }
                    .filter { $0["outcome"] as? String == "cancelled" }.compactMap { $0["exchange_order_id"] as? String }
            )
        }
    }

    static func send(
        _ stack: LiveStack,
        _ body: String,
        path: String = "/api/webhook",
        method: HTTPMethod = .POST,
        contentType: String? = "application/json"
    ) async throws -> Reply {
        var request = HTTPClientRequest(url: stack.webhookURL + path)
        request.method = method
        if let contentType { request.headers.add(name: "Content-Type", value: contentType) }
        if method == .POST { request.body = .bytes(ByteBuffer(string: body)) }
        let response = try await HTTPClient.shared.execute(request, timeout: .seconds(120))
        let bytes = try await response.body.collect(upTo: 1 << 22)
        let json = (try? JSONSerialization.jsonObject(with: Data(bytes.readableBytesView)) as? [String: Any]) ?? [:]
        var headers: [String: String] = [:]
        for h in response.headers { headers[h.name.lowercased()] = h.value }
        return Reply(status: Int(response.status.code), json: json, headers: headers, raw: String(buffer: bytes))
    }

    static func cancel(_ group: String, token: String?, extra: String = "") -> String {
        #"{"group_name": "\#(group)", "exchange": "BINANCE", "market_type": "FUTURES", "order_type": "CANCEL_ALL_ORDER""#
            + (token.map { #", "token": "\#($0)""# } ?? "") + extra + "}"
    }

    /// Runs `body` against a fresh stack on `scenarioPath` (the webhook cases by default), the daemon's
    /// options adjusted by `configure`; checks afterwards that no account- or symbol-wide cancel was sent.
    static func withStack(
        scenarioPath: String = scenario,
        backend: TestBackend = .sqlite,
        ratePerSecond: Double = 10,
        maxLagMs: Millis = 60_000,
        configure: (inout ReconcileOptions) -> Void = { _ in },
        _ body: (LiveStack, String) async throws -> Void
    ) async throws {
        let dir = try CLITests.tempDir()
        defer { try? FileManager.default.removeItem(at: dir) }
        let path = try await TestDatabases.forTest(backend, in: dir, name: "webhook")
        let stack = try await LiveStack.start(scenarioPath: scenarioPath, databasePath: path) { options, settings in
            settings.burst = 1000
            settings.ratePerSecond = ratePerSecond
            settings.maxLagMs = maxLagMs
            configure(&options)
        }
        do {
            try await body(stack, path)
            #expect(await stack.exchange.wideCancelCalls.isEmpty, "no account- or symbol-wide cancel, ever")
        } catch {
            await stack.stop()
            throw error
        }
        await stack.stop()
    }

    /// Exchange order ids still open, by account.
    static func open(_ stack: LiveStack) async -> [Int64: Set<String>] {
        var byAccount: [Int64: Set<String>] = [:]
        for o in await stack.exchange.truth() where o.status.isOpen { byAccount[o.account.rawValue, default: []].insert(String(o.id)) }
        return byAccount
    }

    /// Rows of open_orders by strategy link.
    static func rows(_ path: String) async throws -> [Int64: Set<String>] {
        var byLink: [Int64: Set<String>] = [:]
        for r in try await TestDatabases.rows(path, "SELECT strategy_account_id, exchange_order_id FROM open_orders") {
            byLink[r.int(0) ?? 0, default: []].insert(r.text(1) ?? "")
        }
        return byLink
    }

    @Test(arguments: TestDatabases.backends)
    func theSeedsTwoVerifications(_ backend: TestBackend) async throws {
        try await Self.withStack(backend: backend) { stack, path in
            let before = try await Self.rows(path)
            let open = await Self.open(stack)
            // A and B share account 7: A's cancel leaves B's orders on the exchange and in the DB.
            let a = try await Self.send(stack, Self.cancel("shared-a", token: "wh-trader5-token"))
            #expect(a.status == 200 && a.totals["cancelled"] == 3 && a.totals["failed"] == 0, "\(a.json)")
            #expect(a.cancelledIDs == before[9]!)
            let after = await Self.open(stack)
            #expect(after[7] == open[7]!.subtracting(before[9]!) && after[7]!.isSuperset(of: before[10]!))
            let rowsAfterA = try await Self.rows(path)
            #expect(rowsAfterA[9] == nil && rowsAfterA[10] == before[10])
            // One strategy on two accounts: every order on both is cancelled.
            let solo = try await Self.send(stack, Self.cancel("solo-two", token: "wh-trader5-token"))
            #expect(solo.status == 200 && solo.totals["cancelled"] == 4 && solo.cancelledIDs == before[7]!.union(before[8]!))
            let final = await Self.open(stack)
            #expect(final[5] == nil && final[6] == nil)
            let history = try await TestDatabases.rows(
                path,
                "SELECT count(*) FROM sync_order_history WHERE source = 'cancel' AND final_status = 'CANCELED'"
            ).first?.int(0)
            #expect(history == 7)
            let intents = try await stack.daemon.db.cancelIntentStates()
            #expect(intents == ["cancelled": 7], "every intent resolved")
        }
    }

    @Test(arguments: TestDatabases.backends)
    func aSubscriberReachesOnlyItsAccountsTheOwnerAllFour(_ backend: TestBackend) async throws {
        try await Self.withStack(backend: backend) { stack, path in
            let before = try await Self.rows(path)
            let open = await Self.open(stack)
            // Links 1–4: public-trend on accounts 1–4; 5–6: grid-q on accounts 1–2; manual orders 8901, 8902.
            let sub = try await Self.send(stack, Self.cancel("public-trend", token: "wh-sub-b-token"))
            #expect(sub.status == 200 && sub.cancelledIDs == before[3]!, "sub-b owns account 3 (link 3) only: \(sub.json)")
            var now = await Self.open(stack)
            #expect(now[3] == nil && now[1] == open[1] && now[2] == open[2] && now[4] == open[4])
            // A subscriber cannot reach another subscriber's account even by naming its symbol.
            let again = try await Self.send(stack, Self.cancel("public-trend", token: "wh-sub-b-token", extra: #", "symbol": "BTCUSDT""#))
            #expect(again.status == 200 && again.totals["selected"] == 0)
            // The owner's token: every remaining public-trend order on all four accounts.
            let owner = try await Self.send(stack, Self.cancel("public-trend", token: "wh-owner-token"))
            #expect(owner.status == 200 && owner.cancelledIDs == before[1]!.union(before[2]!).union(before[4]!))
            now = await Self.open(stack)
            #expect(now[1] == before[5]!.union(before[11]!).union(["8901"]), "grid-q, the retired strategy and the manual order stay on account 1")
            #expect(now[2] == before[6]!.union(["8902"]))
            let rowsNow = try await Self.rows(path)
            #expect(rowsNow[5] == before[5] && rowsNow[6] == before[6])
        }
    }

    @Test(arguments: TestDatabases.backends)
    func duplicatesReplayTheFirstResultAndFiltersNarrow(_ backend: TestBackend) async throws {
        try await Self.withStack(backend: backend) { stack, path in
            let before = try await Self.rows(path)
            let body = Self.cancel(
                "grid-q",
                token: "wh-trader5-token",
                extra: #", "symbol": "btcusdt", "side": "buy", "idempotency_key": "tv-alert-42""#
            )
            let first = try await Self.send(stack, body)
            #expect(first.status == 200 && first.cancelledIDs == before[5]!.union(before[6]!), "\(first.json)")
            let requestsAfterFirst = await stack.exchange.requestCounts
            let second = try await Self.send(stack, body)
            #expect(second.status == 200 && second.headers["idempotent-replay"] == "true")
            #expect(second.json["result"] as? NSDictionary == first.json["result"] as? NSDictionary)
            #expect(await stack.exchange.requestCounts == requestsAfterFirst, "nothing sent twice")
            // Without a key, the same payload within the window is a duplicate too.
            let plain = Self.cancel("shared-b", token: "wh-trader5-token", extra: #", "side": "SELL""#)
            let p1 = try await Self.send(stack, plain)
            let p2 = try await Self.send(stack, plain)
            #expect(p1.status == 200 && p1.totals["selected"] == 0 && p2.headers["idempotent-replay"] == "true")
        }
    }

    @Test func reconcileRunsAPassOverTheTokensAccounts() async throws {
        try await Self.withStack { stack, _ in
            let reply = try await Self.send(stack, #"{"GROUP_NAME": "public-trend", "Order_Type": "reconcile", "user_token": "wh-sub-a-token"}"#)
            #expect(reply.status == 200 && reply.json["action"] as? String == "RECONCILE", "\(reply.json)")
            let sections = ((reply.json["report"] as? [String: Any])?["sections"] as? [[String: Any]]) ?? []
            #expect(sections.compactMap { $0["account_id"] as? Int } == [2], "sub-a's account only")
            let health = try await Self.send(stack, "", path: "/healthz", method: .GET)
            #expect(health.status == 200 && health.json["last_pass_at"] != nil)
            var request = HTTPClientRequest(url: stack.webhookURL + "/metrics")
            request.method = .GET
            let metrics = String(buffer: try await HTTPClient.shared.execute(request, timeout: .seconds(10)).body.collect(upTo: 1 << 20))
            #expect(metrics.contains(#"ordersync_webhook_requests_total{outcome="ok"}"#) && metrics.contains("ordersync_passes_total"), "\(metrics)")
            #expect(!metrics.contains("wh-sub-a-token"))
        }
    }

    @Test(arguments: TestDatabases.backends)
    func badInputGetsTheDocumentedAnswerAndChangesNothing(_ backend: TestBackend) async throws {
        try await Self.withStack(backend: backend) { stack, path in
            let dump = try await TestDatabases.dump(path)
            let open = await Self.open(stack)
            let old = EntryPoints.wallClock() - 120_000
            let cases: [(String, String, String?, Int, String)] = [
                ("invalid JSON", #"{"group_name": "public-trend", "#, "application/json", 400, "invalid_json"),
                ("not an object", #"["CANCEL_ALL_ORDER"]"#, "application/json", 400, "invalid_payload"),
                (
                    "wrong types", #"{"group_name": 7, "order_type": "CANCEL_ALL_ORDER", "token": "wh-owner-token"}"#, "application/json", 400,
                    "invalid_payload"
                ),
                ("missing group", #"{"order_type": "CANCEL_ALL_ORDER", "token": "wh-owner-token"}"#, "application/json", 400, "invalid_payload"),
                ("missing token", Self.cancel("public-trend", token: nil), "application/json", 401, "missing_token"),
                (
                    "test_mode without a token", Self.cancel("public-trend", token: nil, extra: #", "test_mode": true"#), "application/json", 401,
                    "missing_token"
                ),
                (
                    "test_mode with a wrong token", Self.cancel("public-trend", token: "nope", extra: #", "test_mode": true"#), "application/json",
                    403, "forbidden"
                ),
                ("unknown group", Self.cancel("no-such-group", token: "wh-owner-token"), "application/json", 403, "forbidden"),
                ("wrong token", Self.cancel("public-trend", token: "wh-trader5-token"), "application/json", 403, "forbidden"),
                ("inactive strategy", Self.cancel("retired", token: "wh-owner-token"), "application/json", 403, "forbidden"),
                (
                    "unsupported order type", #"{"group_name": "public-trend", "order_type": "market", "token": "wh-owner-token"}"#,
                    "application/json", 422, "unsupported_order_type"
                ),
                (
                    "batch", #"{"group_name": "public-trend", "order_type": "CANCEL_ALL_ORDER", "token": "wh-owner-token", "orders": []}"#,
                    "application/json", 422, "unsupported_order_type"
                ),
                (
                    "stale timestamp", Self.cancel("public-trend", token: "wh-owner-token", extra: #", "timestamp": \#(old)"#), "application/json",
                    422, "stale_timestamp"
                ),
                ("wrong content type", Self.cancel("public-trend", token: "wh-owner-token"), "text/plain", 415, "unsupported_media_type"),
                ("no content type", Self.cancel("public-trend", token: "wh-owner-token"), nil, 415, "unsupported_media_type"),
                (
                    "oversized body",
                    Self.cancel("public-trend", token: "wh-owner-token", extra: #", "comment": "\#(String(repeating: "x", count: 70_000))""#),
                    "application/json", 413, "payload_too_large"
                ),
            ]
            var forbiddenBodies = Set<String>()
            for (name, body, type, status, code) in cases {
                let reply = try await Self.send(stack, body, contentType: type)
                #expect(reply.status == status && reply.errorCode == code, "\(name): \(reply.status) \(reply.json)")
                #expect(((reply.json["error"] as? [String: Any])?["message"] as? String)?.isEmpty == false, "\(name) says why")
                if code == "forbidden" { forbiddenBodies.insert(reply.raw) }
                #expect(!reply.raw.contains("wh-owner-token") && !reply.raw.contains("wh-trader5-token"), "\(name) echoes no token")
            }
            #expect(forbiddenBodies.count == 1, "an unknown group, a wrong token and an inactive strategy look alike")
            #expect(try await Self.send(stack, "", path: "/api/nothing").status == 404)
            #expect(try await Self.send(stack, "", path: "/api/webhook", method: .GET).status == 405)
            #expect(try await TestDatabases.dump(path) == dump, "the database is unchanged")
            #expect(await Self.open(stack) == open, "the exchange is unchanged")
        }
    }

    @Test(arguments: TestDatabases.backends)
    func cancelAllFromTheCommandLineIsADryRunUnlessExecuted(_ backend: TestBackend) async throws {
        try await Self.withStack(backend: backend) { stack, path in
            let before = try await Self.rows(path)
            let open = await Self.open(stack)
            let flags = ["--db", path, "--spot-url", stack.simulatorURL, "--futures-url", stack.simulatorURL]
            let dry = try await CLITests.run(["cancel-all", "--strategy", "grid-q", "--format", "json"] + flags)
            let plan = try #require(JSONSerialization.jsonObject(with: Data(dry.stdout.utf8)) as? [String: Any], "\(dry.stderr)")
            #expect(dry.status == 0 && plan["executed"] as? Bool == false && (plan["totals"] as? [String: Int])?["selected"] == 4)
            let rowsAfterDryRun = try await Self.rows(path)
            #expect(await Self.open(stack) == open && rowsAfterDryRun == before, "a dry run changes nothing")
            let done = try await CLITests.run(["cancel-all", "--strategy", "grid-q", "--symbol", "BTCUSDT", "--execute"] + flags)
            #expect(done.status == 0 && done.stdout.contains("cancelled 4, already closed 0, failed 0"), "\(done.stdout) \(done.stderr)")
            let rowsAfter = try await Self.rows(path)
            #expect(rowsAfter[5] == nil && rowsAfter[6] == nil && rowsAfter[1] == before[1])
            let unknown = try await CLITests.run(["cancel-all", "--strategy", "retired"] + flags)
            #expect(unknown.status == 2 && unknown.stderr.contains("--strategy retired"))
            #expect(try await CLITests.run(["cancel-all", "--strategy", "grid-q", "--side", "LONG"] + flags).status != 0)
        }
    }

    @Test(arguments: TestDatabases.backends)
    func cancelsLeftUnresolvedAreFinishedOnRestart(_ backend: TestBackend) async throws {
        try await Self.withStack(backend: backend) { stack, path in
            let db = stack.daemon.db
            let before = try await Self.rows(path)
            // A process stopped after recording intents for grid-q's rows (links 5 and 6) and before
            // sending anything; meanwhile one of those rows was closed by someone else.
            let rows = try await db.openOrders(links: [StrategyLinkID(5), StrategyLinkID(6)])
            try await db.recordCancelIntents(
                requestID: "crashed-1",
                rows: rows.map { ($0, $0.link == StrategyLinkID(5) ? AccountID(1) : AccountID(2)) },
                now: 1
            )
            let gone = try #require(rows.first)
            try await TestDatabases.execute(path, "DELETE FROM open_orders WHERE id = ?", [gone.id.rawValue])
            // And the origin began cancelling another itself: ordersync does not race it.
            let theirs = rows[1]
            try await TestDatabases.execute(
                path,
                "UPDATE open_orders SET status = 'CANCELLING', cancel_attempted_at = ? WHERE id = ?",
                [Timestamp(EntryPoints.wallClock()), theirs.id.rawValue]
            )
            let recorded = try await db.cancelIntentStates()
            #expect(recorded == ["pending": 4], "\(recorded)")

            let reports = try await stack.daemon.resumeCancels()
            #expect(reports.count == 1 && reports.first?.totals.cancelled == 2, "\(reports)")
            #expect(try await db.cancelIntentStates() == ["cancelled": 2, "closed": 1, "failed": 1], "every intent resolved")
            let after = try await Self.rows(path)
            let left = (after[5] ?? []).union(after[6] ?? [])
            #expect(left == [theirs.exchangeOrderID.rawValue] && after[1] == before[1], "only the intended rows; the origin's own cancel untouched")
            let open = await Self.open(stack)
            #expect(open[1]?.contains(gone.exchangeOrderID.rawValue) == true, "the order whose row had gone is not touched")
            #expect(try await stack.daemon.resumeCancels().isEmpty, "nothing left to resume")
        }
    }

    @Test func aBurstFromOneAddressIsRateLimited() async throws {
        let dir = try CLITests.tempDir()
        defer { try? FileManager.default.removeItem(at: dir) }
        let stack = try await LiveStack.start(scenarioPath: Self.scenario, databasePath: dir.appendingPathComponent("r.sqlite").path) { _, s in
            s.burst = 3
            // A token per thousand seconds: no refill during the test, however slow the machine.
            s.ratePerSecond = 0.001
        }
        var statuses: [Int] = []
        for _ in 0..<5 { statuses.append(try await Self.send(stack, Self.cancel("no-such-group", token: "x")).status) }
        await stack.stop()
        #expect(statuses == [403, 403, 403, 429, 429])
    }
}
