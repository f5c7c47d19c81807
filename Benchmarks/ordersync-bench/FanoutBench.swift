import AsyncHTTPClient
import BinanceAPI
import Foundation
import NIOCore
import OrderStore
import OrderSyncApp
import SyncCore

/// CANCEL_ALL_ORDER fan-out (issue #6): a public strategy with S subscriber accounts × N open
/// futures orders, plus a second strategy on half of those accounts that must survive, at L ms
/// simulated latency. Each measurement starts a fresh in-process stack (simulator, SQLite,
/// daemon, webhook) from the same scenario; the clock covers only the cancel.
///
///   ordersync:      one HTTP webhook call, timed from request to response.
///   seed Phase 1:   rows selected from the DB per link, accounts one after another, one
///                   DELETE /fapi/v1/order per order (the seed's fix).
///   seed Phase 2:   the same with 10 accounts at a time (the seed's planned ThreadPoolExecutor).
/// The simulator's weight limit is raised so that neither side waits for a window: the figure is
/// about request structure, not the weight budget.
enum FanoutBench {
    static func main(_ arguments: [String]) async {
        var values: [String: String] = [:]
        var args = arguments[...]
        while let flag = args.popFirst() {
            guard let value = args.popFirst() else { SimulatorBench.fail("\(flag) needs a value") }
            values[flag] = value
        }
        let accounts = Int(values["--accounts"] ?? "100") ?? 0, orders = Int(values["--orders"] ?? "20") ?? 0
        let latency = Int(values["--latency-ms"] ?? "50") ?? 0, runs = Int(values["--runs"] ?? "5") ?? 0
        let phase1Runs = Int(values["--phase1-runs"] ?? "1") ?? 0, phase2Runs = Int(values["--phase2-runs"] ?? "3") ?? 0
        guard accounts > 1, orders > 0, runs > 0, latency >= 0 else {
            SimulatorBench.fail("usage: ordersync-bench fanout [--accounts 100] [--orders 20] [--latency-ms 50] [--runs 5] [--phase1-runs 1] [--phase2-runs 3]")
        }
        // --pg-admin URL: each measurement on a new PostgreSQL database created through that URL.
        let pgAdmin = values["--pg-admin"]
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("ordersync-fanout-\(getpid())")
        try? FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: dir) }
        let scenario = dir.appendingPathComponent("fanout.json").path
        writeScenario(scenario, accounts: accounts, orders: orders)
        let survivors = (accounts / 2) * 5
        print("fanout: public strategy on \(accounts) accounts × \(orders) futures orders (\(accounts * orders)), a second strategy with \(survivors) orders on \(accounts / 2) of them, \(latency) ms latency")

        var n = 0
        func database() async -> String {
            n += 1
            guard let admin = pgAdmin else { return dir.appendingPathComponent("db-\(n).sqlite").path }
            let name = "ordersync_fanout_\(getpid())_\(n)"
            do {
                let db = try await OrderDatabase.open(try DatabaseLocation(admin), maxConnections: 1, migrate: false)
                _ = try await db.rows("CREATE DATABASE \(name)")
                await db.close()
            } catch { SimulatorBench.fail("creating \(name): \(error)") }
            guard admin.hasSuffix("/postgres") else { SimulatorBench.fail("--pg-admin must name the postgres database") }
            return String(admin.dropLast("postgres".count)) + name
        }
        // --pool N: the PostgreSQL pool (`database.max_connections`; default 4).
        let pool = values["--pool"].flatMap { Int($0) }
        print("database: \(pgAdmin == nil ? "SQLite (temporary files)" : "PostgreSQL (a new database per measurement)")")
        func stack() async -> LiveStack {
            let db = await database()
            do {
                return try await LiveStack.start(scenarioPath: scenario, databasePath: db,
                                                 latencyMs: latency, weightLimit: 100_000_000) { options, settings in
                    settings.burst = 1000
                    if let pool { options.databaseMaxConnections = pool }
                }
            } catch { SimulatorBench.fail("\(error)") }
        }
        /// Checks that the public strategy's orders are gone and the other strategy's survived.
        func check(_ stack: LiveStack, _ label: String) async {
            let open = await stack.exchange.truth().filter { $0.status.isOpen }
            let wide = await stack.exchange.wideCancelCalls
            if open.count != survivors || open.contains(where: { $0.price != Amount("1000")! }) || !wide.isEmpty {
                SimulatorBench.fail("\(label): \(open.count) orders open (expected the \(survivors) of the second strategy), wide cancels \(wide)")
            }
        }

        var ours: [Double] = []
        for run in 1...runs {
            let s = await stack()
            var request = HTTPClientRequest(url: s.webhookURL + "/api/webhook")
            request.method = .POST
            request.headers.add(name: "Content-Type", value: "application/json")
            request.body = .bytes(ByteBuffer(string: #"{"group_name": "fanout-public", "exchange": "BINANCE", "market_type": "FUTURES", "order_type": "CANCEL_ALL_ORDER", "token": "fan-owner"}"#))
            let start = ContinuousClock.now
            guard let response = try? await HTTPClient.shared.execute(request, timeout: .seconds(120)),
                  let body = try? await response.body.collect(upTo: 1 << 24), response.status == .ok else { SimulatorBench.fail("webhook failed") }
            let ms = ClientBench.seconds(ContinuousClock.now - start) * 1000
            _ = body
            await check(s, "ordersync")
            await s.stop()
            ours.append(ms)
            print(String(format: "  ordersync webhook run %d: %.1f ms", run, ms))
        }

        func seed(parallel: Int, label: String) async -> Double {
            let s = await stack()
            let session = BinanceSession(configuration: ClientConfiguration(baseURL: s.simulatorURL), transport: AsyncHTTPTransport(maxConnectionsPerHost: 64))
            let rows: [(AccountClient, [OpenOrderRow])]
            do {
                let access = try await s.daemon.db.strategyAccess(groupName: "fanout-public")!
                var list: [(AccountClient, [OpenOrderRow])] = []
                for link in access.links {
                    let mine = try await s.daemon.db.openOrders(links: [link.link])
                    let n = link.account.rawValue
                    list.append((session.account(Credentials(apiKey: "fan-key-\(n)", secret: Secret("fan-secret-\(n)"))), mine))
                }
                rows = list
            } catch { SimulatorBench.fail("\(error)") }
            _ = await rows[0].0.openOrders(.futures, symbol: "BTCUSDT")  // learn limits and sync time, outside the clock
            let start = ContinuousClock.now
            await withTaskGroup(of: Void.self) { group in
                var next = 0
                func launch() {
                    let (client, mine) = rows[next]
                    next += 1
                    group.addTask {
                        for row in mine { _ = await client.cancel(.futures, symbol: row.symbol, row.exchangeOrderID) }
                    }
                }
                while next < min(parallel, rows.count) { launch() }
                for await _ in group where next < rows.count { launch() }
            }
            let ms = ClientBench.seconds(ContinuousClock.now - start) * 1000
            await check(s, label)
            await session.shutdown()
            await s.stop()
            print(String(format: "  %@: %.1f ms", label, ms))
            return ms
        }
        var phase2: [Double] = []
        for run in 1...max(1, phase2Runs) { phase2.append(await seed(parallel: 10, label: "seed Phase 2 run \(run)")) }
        var phase1: [Double] = []
        for run in stride(from: 1, through: phase1Runs, by: 1) { phase1.append(await seed(parallel: 1, label: "seed Phase 1 run \(run)")) }
        let o = ClientBench.median(ours), p1 = phase1.isEmpty ? .nan : ClientBench.median(phase1), p2 = ClientBench.median(phase2)
        print(String(format: "[%@] fanout medians: ordersync %.1f ms (target ≤ 500 ms); seed Phase 2 %.0f ms (%.1f× slower); seed Phase 1 %.0f ms (%.1f× slower) — target ≥ 20× Phase 2",
                     pgAdmin == nil ? "SQLite" : "PostgreSQL", o, p2, p2 / o, p1, p1 / o))
    }

    static func writeScenario(_ path: String, accounts: Int, orders: Int) {
        var users = [#"{"id": 1, "username": "fan-owner", "webhook_token": "fan-owner"}"#]
        var accountItems: [String] = [], links: [String] = [], rows: [String] = [], exchange: [String] = []
        var link = 0
        for a in 1...accounts {
            users.append(#"{"id": \#(a + 1), "username": "fan-sub-\#(a)", "webhook_token": "fan-sub-\#(a)"}"#)
            accountItems.append(#"{"id": \#(a), "user_id": \#(a + 1), "name": "sub\#(a)", "api_key": "fan-key-\#(a)", "api_secret": "fan-secret-\#(a)"}"#)
            link += 1
            links.append(#"{"id": \#(link), "strategy_id": 1, "account_id": \#(a)}"#)
            for k in 0..<orders {
                let id = a * 1000 + k, symbol = k % 2 == 0 ? "BTCUSDT" : "ETHUSDT"
                rows.append(#"{"strategy_account_id": \#(link), "exchange_order_id": "\#(id)", "symbol": "\#(symbol)", "side": "BUY", "price": "\#(2000 + k)", "quantity": "0.01"}"#)
                exchange.append(#"{"account_id": \#(a), "market": "FUTURES", "order_id": \#(id), "symbol": "\#(symbol)", "side": "BUY", "price": "\#(2000 + k)", "quantity": "0.01"}"#)
            }
        }
        for a in 1...(accounts / 2) {
            link += 1
            links.append(#"{"id": \#(link), "strategy_id": 2, "account_id": \#(a)}"#)
            for k in 0..<5 {
                let id = a * 1000 + 900 + k
                rows.append(#"{"strategy_account_id": \#(link), "exchange_order_id": "\#(id)", "symbol": "BTCUSDT", "side": "BUY", "price": "1000", "quantity": "0.01"}"#)
                exchange.append(#"{"account_id": \#(a), "market": "FUTURES", "order_id": \#(id), "symbol": "BTCUSDT", "side": "BUY", "price": "1000", "quantity": "0.01"}"#)
            }
        }
        let text = """
            {"name": "bench-fanout",
             "users": [\(users.joined(separator: ",\n"))],
             "accounts": [\(accountItems.joined(separator: ",\n"))],
             "strategies": [{"id": 1, "user_id": 1, "name": "Fan-out public", "group_name": "fanout-public", "market_type": "FUTURES", "is_public": true},
                            {"id": 2, "user_id": 1, "name": "Survivor", "group_name": "survivor", "market_type": "FUTURES"}],
             "strategy_accounts": [\(links.joined(separator: ",\n"))],
             "db_orders": [\(rows.joined(separator: ",\n"))],
             "exchange_orders": [\(exchange.joined(separator: ",\n"))]}
            """
        do { try text.write(toFile: path, atomically: true, encoding: .utf8) } catch { SimulatorBench.fail("cannot write \(path)") }
    }
}
