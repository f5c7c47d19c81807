import BinanceSimulator
import Foundation
import GRDB
import LocalStack
import OrderSyncApp
import SyncCore
import Testing

/// The daemon under load for ORDERSYNC_SOAK_SECONDS (default 40): 24 accounts, three strategies
/// sharing them (two public, with subscribers), market activity — orders the origin app places and
/// records, orders placed with ordersync's tag but never recorded, manual orders, fills, partial
/// fills and cancels from elsewhere — 20% faults of every kind, scheduled passes, and webhooks
/// firing CANCEL_ALL_ORDER and RECONCILE with owners' and subscribers' tokens. Then faults off and
/// two passes; then the invariants. Run twice: polling only, and with the user data streams on
/// (every event applied at once, healthy accounts passed at the streams' interval) under stream
/// faults too — connections dropped, listenKeys expired, events withheld, repeated and swapped.
@Suite struct SoakTests {
    struct World {
        var accountsOf: [Int: [Int]] = [:]  // user → accounts
        var links: [(link: Int, strategy: String, account: Int)] = []
        var owner: [String: Int] = ["soak-a": 1, "soak-b": 1, "soak-c": 2]

        func scope(_ strategy: String, user: Int) -> Set<Int> {
            Set(links.filter { $0.strategy == strategy && (owner[strategy] == user || (accountsOf[user] ?? []).contains($0.account)) }.map(\.link))
        }
    }

    static func scenario(_ path: String) throws -> World {
        var w = World()
        var users: [String] = []
        var accounts: [String] = []
        var links: [String] = []
        for u in 1...21 { users.append(#"{"id": \#(u), "username": "soak-user-\#(u)", "webhook_token": "soak-token-\#(u)"}"#) }
        for a in 1...24 {
            let user = a <= 4 ? 1 : a - 3
            w.accountsOf[user, default: []].append(a)
            accounts.append(
                #"{"id": \#(a), "user_id": \#(user), "name": "soak-\#(a)", "api_key": "soak-key-\#(a)", "api_secret": "soak-secret-\#(a)"}"#
            )
        }
        var id = 0
        func link(_ strategy: Int, _ name: String, _ account: Int) {
            id += 1
            links.append(#"{"id": \#(id), "strategy_id": \#(strategy), "account_id": \#(account)}"#)
            w.links.append((id, name, account))
        }
        for a in 1...24 { link(1, "soak-a", a) }
        for a in 1...4 { link(2, "soak-b", a) }
        for a in 5...14 { link(3, "soak-c", a) }
        let text = """
            {"name": "soak", "users": [\(users.joined(separator: ","))], "accounts": [\(accounts.joined(separator: ","))],
             "strategies": [{"id": 1, "user_id": 1, "name": "A", "group_name": "soak-a", "market_type": "FUTURES", "is_public": true},
                            {"id": 2, "user_id": 1, "name": "B", "group_name": "soak-b", "market_type": "FUTURES"},
                            {"id": 3, "user_id": 2, "name": "C", "group_name": "soak-c", "market_type": "FUTURES", "is_public": true}],
             "strategy_accounts": [\(links.joined(separator: ","))], "db_orders": [], "exchange_orders": []}
            """
        try text.write(toFile: path, atomically: true, encoding: .utf8)
        return w
    }

    static func rssMB() -> Double {
        guard let status = try? String(contentsOfFile: "/proc/self/status", encoding: .utf8),
            let line = status.split(separator: "\n").first(where: { $0.hasPrefix("VmRSS:") }),
            let kb = Double(line.split(separator: " ").dropFirst().first ?? "")
        else { return 0 }
        return kb / 1024
    }

    @Test(arguments: [false, true])
    func aSoakUnderFaultsKeepsEveryInvariant(streams: Bool) async throws {
        let seconds = Double(ProcessInfo.processInfo.environment["ORDERSYNC_SOAK_SECONDS"] ?? "") ?? 40
        let seed = SeededGenerator.seed(fallback: 0x50A4, environment: ProcessInfo.processInfo.environment)
        print("SoakTests seed \(seed), \(seconds) s, streams \(streams ? "on" : "off") (ORDERSYNC_SEED, ORDERSYNC_SOAK_SECONDS)")
        var rng = SeededGenerator(seed: seed)
        let dir = try CLITests.tempDir()
        defer { try? FileManager.default.removeItem(at: dir) }
        let scenarioPath = dir.appendingPathComponent("soak.json").path
        let dbPath = dir.appendingPathComponent("soak.sqlite").path
        let world = try Self.scenario(scenarioPath)
        // The weight limit is raised: passes every 300 ms would (rightly) be paced to a window a minute.
        let stack = try await LiveStack.start(scenarioPath: scenarioPath, databasePath: dbPath, weightLimit: 10_000_000) { options, settings in
            options.config.reconcile.graceMs = 1_000
            options.config.reconcile.confirmations = 2
            options.streams = streams
            settings.burst = 1000
            settings.ratePerSecond = 1000
        }
        let exchange = stack.exchange
        let origin = try DatabaseQueue(path: dbPath)
        try await origin.write { try $0.execute(sql: "PRAGMA busy_timeout = 10000") }
        let tags = ClientOrderTagCodec.default
        var faults = FaultSettings.uniform(0.2)
        faults.clockSkewMs = 0
        await exchange.setFaults(faults)

        // Scheduled passes, as serve runs them (pacing, not waiting for anything).
        let runner = stack.daemon.runner
        let passes = Task {
            var n = 0
            while !Task.isCancelled {
                if (try? await runner.pass(trigger: "schedule")) != nil { n += 1 }
                try? await Task.sleep(for: .milliseconds(300))
            }
            return n
        }

        var marketClosed = Set<String>()
        var manual = Set<String>()
        var touchedByOrdersync = Set<String>()
        var rss: [Double] = []
        var webhooks = 0
        var outOfScope: [String] = []
        let end = Date().addingTimeInterval(seconds)
        var lastSample = Date.distantPast
        var lastHook = Date()
        var lastStreamFault = Date()
        var streamFaults = 0
        func pick<T>(_ xs: [T]) -> T { xs[Int.random(in: 0..<xs.count, using: &rng)] }
        while Date() < end {
            let link = pick(world.links)
            let price = Amount(String(50_000 + Int.random(in: 0..<5_000, using: &rng)))!
            switch Int.random(in: 0..<10, using: &rng) {
            case 0...3:  // the origin app places and records an order
                if let o = try? await exchange.placeByHand(
                    NewOrder(
                        symbol: "BTCUSDT",
                        side: .buy,
                        type: "LIMIT",
                        timeInForce: "GTC",
                        quantity: Amount("0.010"),
                        price: price,
                        clientOrderID: "web_\(UInt32.random(in: 0...UInt32.max, using: &rng))"
                    ),
                    account: AccountID(Int64(link.account)),
                    product: .futures
                ) {
                    try await origin.write { db in
                        try db.execute(
                            sql: """
                                INSERT INTO open_orders (strategy_account_id, exchange_order_id, symbol, side, order_type, price, quantity, filled_quantity,
                                    status, market_type, created_at, updated_at, is_processing)
                                VALUES (?, ?, 'BTC/USDT', 'BUY', 'LIMIT', ?, 0.01, 0, 'OPEN', 'futures', ?, ?, 0)
                                ON CONFLICT(exchange_order_id) DO NOTHING
                                """,
                            arguments: [
                                link.link, String(o.id), price.doubleValue, UTC.sqlDateTime(EntryPoints.wallClock()),
                                UTC.sqlDateTime(EntryPoints.wallClock()),
                            ]
                        )
                    }
                }
            case 4:  // placed with ordersync's tag, never recorded (a crash between placing and writing)
                let tag = try tags.encode(
                    link: StrategyLinkID(Int64(link.link)),
                    nonce: String(UInt32.random(in: 0...UInt32.max, using: &rng), radix: 36)
                )
                _ = try? await exchange.placeByHand(
                    NewOrder(
                        symbol: "BTCUSDT",
                        side: .buy,
                        type: "LIMIT",
                        timeInForce: "GTC",
                        quantity: Amount("0.010"),
                        price: price,
                        clientOrderID: tag
                    ),
                    account: AccountID(Int64(link.account)),
                    product: .futures
                )
            case 5:  // a manual order
                if let o = try? await exchange.placeByHand(
                    NewOrder(
                        symbol: "ETHUSDT",
                        side: .sell,
                        type: "LIMIT",
                        timeInForce: "GTC",
                        quantity: Amount("0.100"),
                        price: Amount("9000"),
                        clientOrderID: "manual-\(UInt32.random(in: 0...UInt32.max, using: &rng))"
                    ),
                    account: AccountID(Int64(Int.random(in: 1...24, using: &rng))),
                    product: .futures
                ) {
                    manual.insert(String(o.id))
                }
            default:  // the market acts on an open order
                let open = await exchange.truth().filter { $0.status.isOpen && $0.product == .futures }
                guard !open.isEmpty else { break }
                let o = pick(open)
                let action = pick([MarketAction.fill, .partialFill, .partialFill, .cancel])
                // Repeated partial fills can fill an order completely: what counts is the result.
                if let after = try? await exchange.act(action, account: o.account, product: .futures, id: o.id), !after.status.isOpen {
                    marketClosed.insert(String(o.id))
                }
            }
            if Date().timeIntervalSince(lastHook) > 0.5 {
                lastHook = Date()
                webhooks += 1
                let strategy = pick(["soak-a", "soak-b", "soak-c"])
                let candidates = world.links.filter { $0.strategy == strategy }.map(\.account)
                let account = pick(candidates)
                let subscriber = world.accountsOf.first { $0.value.contains(account) }?.key ?? 1
                let user = Bool.random(using: &rng) ? world.owner[strategy]! : subscriber
                let type = Int.random(in: 0..<3, using: &rng) == 0 ? "RECONCILE" : "CANCEL_ALL_ORDER"
                let reply = try await WebhookEndToEndTests.send(
                    stack,
                    #"{"group_name": "\#(strategy)", "order_type": "\#(type)", "token": "soak-token-\#(user)", "idempotency_key": "\#(webhooks)"}"#
                )
                #expect(reply.status == 200, "webhook \(webhooks): \(reply.raw.prefix(300))")
                let scope = world.scope(strategy, user: user)
                for account in (reply.result["accounts"] as? [[String: Any]]) ?? [] {
                    for order in (account["orders"] as? [[String: Any]]) ?? [] {
                        let id = order["exchange_order_id"] as? String ?? ""
                        let link = order["strategy_account_id"] as? Int ?? 0
                        touchedByOrdersync.insert(id)
                        if !scope.contains(link) { outOfScope.append("\(id) (link \(link)) by \(strategy) for user \(user)") }
                    }
                }
            }
            if streams && Date().timeIntervalSince(lastStreamFault) > 3 {
                lastStreamFault = Date()
                switch Int.random(in: 0..<5, using: &rng) {
                case 0: exchange.streams.dropAll()
                case 1: exchange.streams.expireAll()
                case 2: exchange.streams.withhold(ms: Int.random(in: 100...1_500, using: &rng))
                case 3: exchange.streams.duplicateNext(Int.random(in: 1...6, using: &rng))
                default: exchange.streams.reorderNext(Int.random(in: 1...6, using: &rng))
                }
                streamFaults += 1
            }
            if Date().timeIntervalSince(lastSample) > 2 {
                lastSample = Date()
                rss.append(Self.rssMB())
            }
            await Task.yield()
        }

        // Faults off, the activity over: the scheduled passes stop, then two passes that see everything.
        await exchange.setFaults(FaultSettings())
        passes.cancel()
        let scheduled = await passes.value
        // The final passes see everything at once: no grace, one miss settles, and every symbol is
        // listed (between sweeps a pass lists only the symbols it knows of, by design).
        var final = runner
        final.policy = ReconcilePolicy(grace: 0, confirmations: 1, maxQueriesPerPass: 1_000, attributor: runner.policy.attributor)
        final.sweepEvery = 1
        _ = try await final.pass(trigger: "soak-final")
        let last = try await final.pass(trigger: "soak-final")
        #expect(last.errorCount == 0)

        // 1. Every row equals the exchange's truth; every attributable open order has its row.
        let all = await exchange.truth()
        let truth = Dictionary(uniqueKeysWithValues: all.filter { $0.product == .futures }.map { (String($0.id), $0) })
        let rows = try origin.read { db in
            try Row.fetchAll(db, sql: "SELECT exchange_order_id, strategy_account_id, filled_quantity, status FROM open_orders")
        }
        var rowOf: [String: Int] = [:]
        for r in rows {
            let id: String = r[0]
            rowOf[id] = r[1]
            guard let o = truth[id] else {
                Issue.record("row \(id) names no exchange order")
                continue
            }
            #expect(o.status.isOpen, "row \(id) for an order the exchange says is \(o.status.rawValue)")
            #expect(
                Amount(r[2] as Double) == o.executed && (r[3] as String) == (o.status == .partiallyFilled ? "PARTIALLY_FILLED" : "OPEN"),
                "row \(id) differs from the exchange: \(r) vs \(o.executed) \(o.status.rawValue)"
            )
        }
        for (id, o) in truth where o.status.isOpen && !manual.contains(id) {
            #expect(rowOf[id] != nil, "open order \(id) (\(o.clientOrderID)) has no row")
        }
        // Every closed row closed once, with the exchange's real final status (a stream's event
        // applied twice, or out of order, would show here).
        let history = try origin.read { db in
            try Row.fetchAll(db, sql: "SELECT exchange_order_id, final_status FROM sync_order_history")
        }
        var closedTimes: [String: Int] = [:]
        for h in history {
            let id: String = h[0]
            let status: String = h[1]
            closedTimes[id, default: 0] += 1
            #expect(
                truth[id].map { !$0.status.isOpen && $0.status.rawValue == status } == true,
                "history of \(id) says \(status), the exchange \(truth[id]?.status.rawValue ?? "nothing")"
            )
        }
        #expect(closedTimes.filter { $0.value > 1 }.isEmpty, "closed more than once: \(closedTimes.filter { $0.value > 1 }.keys.prefix(5))")
        // 2. Every foreign order is reported and still live unless the market closed it.
        let orphans = Set(try await origin.read { try String.fetchAll($0, sql: "SELECT exchange_order_id FROM sync_orphans") })
        for id in manual where !marketClosed.contains(id) {
            #expect(truth[id]?.status.isOpen == true, "manual order \(id) was closed by someone other than the market")
            #expect(orphans.contains(id), "manual order \(id) is not reported")
        }
        // 3. Nothing cancelled outside a request's scope, and no one but the market and the webhook cancelled anything.
        #expect(outOfScope.isEmpty, "cancels outside scope: \(outOfScope.prefix(5))")
        for (id, o) in truth where o.status == .canceled {
            #expect(marketClosed.contains(id) || touchedByOrdersync.contains(id), "order \(id) was cancelled by nobody who may")
        }
        // 4. No account- or symbol-wide cancel; the server still serves.
        let wide = await exchange.wideCancelCalls
        #expect(wide.isEmpty)
        #expect(try await WebhookEndToEndTests.send(stack, "", path: "/healthz", method: .GET).status == 200)
        // 5. Memory flat: the last third of the samples within 1.5× (+ 20 MB) of the first third.
        let third = max(1, rss.count / 3)
        let early = rss.prefix(third).max() ?? 0
        let late = rss.suffix(third).max() ?? 0
        #expect(late <= early * 1.5 + 20, "RSS grew from \(early) MB to \(late) MB: \(rss)")
        print(
            "SoakTests (streams \(streams ? "on" : "off")): \(truth.count) orders, \(rows.count) rows at the end, \(history.count) closed, \(manual.count) manual, \(marketClosed.count) closed by the market, \(webhooks) webhooks, \(scheduled) scheduled passes, RSS \(rss.map { Int($0) })"
                + (stack.daemon.streams.map { ", streams \($0.counts) after \(streamFaults) stream faults" } ?? "")
        )
        await stack.stop()
    }
}
